// Replay: POST /api/replay (job), poll, draw model vs observed.
"use strict";

function sum(a) { return a.reduce((s, v) => s + (v || 0), 0); }

function drawReplay(res) {
  const o = res.observed, m = res.model;
  LC.setValue("kpi-observed_low", o.low_price, "price");
  LC.setValue("kpi-model_low", Math.min(...m.low), "price");
  LC.setValue("kpi-observed_drop", o.drop_frac, "frac");
  LC.setValue("kpi-model_liq_long", sum(m.liq_long_quote), "money");
  LC.setValue("kpi-model_liq_short", sum(m.liq_short_quote), "money");
  const link = document.querySelector("[data-testid=report-link]");
  link.innerHTML = "";
  const a = document.createElement("a");
  a.href = "/api/replay/reports/" + encodeURIComponent(res.report);
  a.textContent = "HTML report: " + res.report;
  link.appendChild(a);
  LC.plot("chart-paths", [
    { x: o.path.time, y: o.path.low, name: "observed 1m low", mode: "lines", line: { color: "#333" } },
    { x: m.time, y: m.low, name: "model 1m low", mode: "lines", line: { color: "#d62728" } },
  ], { title: "Price: model against observed (" + res.summary.symbol + ", " + res.summary.date + ")",
       xaxis: { title: "time (UTC)" }, yaxis: { title: "price (quote)" } });
  LC.plot("chart-liq", [
    { x: m.time, y: m.liq_long_quote, name: "model: longs liquidated", type: "bar" },
    { x: m.time, y: m.liq_short_quote, name: "model: shorts liquidated", type: "bar" },
  ], { title: "Model liquidated notional per minute (quote)", barmode: "stack", xaxis: { title: "time (UTC)" } });
  const depthTraces = [{ x: m.time, y: m.depth_factor, name: "model depth factor", mode: "lines" }];
  if (o.depth && o.depth_pre_1pct_base) {
    depthTraces.push({ x: o.depth.time, y: o.depth.ask_1pct_base.map((v) => v / o.depth_pre_1pct_base),
      name: "observed ask depth within 1% / pre-event", mode: "lines+markers" });
  }
  LC.plot("chart-depth", depthTraces, { title: "Depth within 1% relative to before the event",
    xaxis: { title: "time (UTC)" }, yaxis: { title: "fraction of pre-event depth" } });
  const t = res.table;
  const cols = Object.keys(t);
  const pick = (i, k) => (t[k + "_text"] && t[k + "_text"][i] !== null ? t[k + "_text"][i] : t[k][i]);
  const rows = t.metric.map((_, i) => ({ metric: t.metric[i], model: pick(i, "model"), observed: pick(i, "observed"),
    error: t.error ? t.error[i] : null, unit: t.unit ? t.unit[i] : null }));
  LC.table("table-compare", [{ key: "metric" }, { key: "model" }, { key: "observed" }, { key: "error" }, { key: "unit" }]
    .filter((c) => c.key === "metric" || cols.includes(c.key)), rows);
}

document.addEventListener("DOMContentLoaded", async () => {
  try {
    const ev = await LC.api("GET", "/api/replay/events");
    const dl = document.getElementById("events");
    for (const e of ev.events) dl.appendChild(new Option(e.title, e.date));
  } catch (e) { /* the form still works */ }
  LC.onSubmit(document.getElementById("replay-form"), async (v) => {
    const start = await LC.api("POST", "/api/replay", v);
    const res = await LC.waitJob(start.job_id, (job) => { LC.progress(job.progress); LC.status(job.message); });
    drawReplay(res);
  });
  document.body.dataset.ready = "1";
});
