// Risk calculator: POST /api/risk (closed form) or /api/risk/jobs (simulated), then draw.
"use strict";

function showJumpFields() {
  const jump = document.getElementById("risk-model").value === "jump";
  for (const el of document.querySelectorAll("label.jump")) {
    el.hidden = !jump;
    for (const input of el.querySelectorAll("input")) input.disabled = !jump;
  }
}

function drawRisk(res) {
  const pos = res.position, prob = res.probability, safe = res.safe_size;
  LC.setValue("kpi-liquidation_price", pos.liquidation_price);
  LC.setValue("kpi-distance_frac", pos.distance_frac);
  LC.setValue("kpi-distance_sigma", pos.distance_sigma);
  LC.setValue("kpi-probability", prob ? prob.probability : pos.liquidation_probability_gbm);
  LC.setValue("kpi-ci_low", prob ? prob.ci_low : null);
  LC.setValue("kpi-ci_high", prob ? prob.ci_high : null);
  LC.setValue("kpi-margin_quote", res.margin_quote);
  LC.setValue("kpi-margin_ratio", pos.margin_ratio);
  LC.setValue("kpi-safe_size_base", safe.size_base);
  LC.setValue("kpi-safe_leverage", safe.leverage);
  const b = document.querySelector('[data-testid="kpi-safe_binding"]');
  b.textContent = safe.binding;
  b.dataset.value = safe.binding;
  if (res.horizon_curve) {
    const c = res.horizon_curve;
    LC.plot("chart-horizon", [
      { x: c.horizon_days, y: c.probability, name: "P(liquidation), GBM", mode: "lines+markers" },
      { x: [pos.horizon_days], y: [prob.probability], name: "chosen horizon", mode: "markers", marker: { size: 12 } },
    ], { title: "Probability of liquidation by horizon (" + res.venue + " " + res.symbol + ")",
         xaxis: { title: "horizon (days)", type: "log" }, yaxis: { title: "probability", range: [0, 1] } });
  } else {
    const p = prob ? prob.probability : pos.liquidation_probability_gbm;
    const err = prob && prob.ci_low !== null ? { type: "data", symmetric: false,
      array: [prob.ci_high - p], arrayminus: [p - prob.ci_low] } : undefined;
    LC.plot("chart-horizon", [
      { x: [pos.horizon_days], y: [p], name: "P(liquidation)", type: "bar", error_y: err },
    ], { title: "Probability of liquidation (" + (prob ? prob.model : "gbm") + ")", xaxis: { title: "horizon (days)" }, yaxis: { title: "probability" } });
  }
  const names = ["entry", "mark", "liquidation", "liquidation at safe size"];
  const vals = [pos.entry_price, pos.mark_price, pos.liquidation_price, safe.liquidation_price];
  LC.plot("chart-levels", [{ x: names, y: vals, type: "bar", name: "price", text: vals.map((v) => LC.fmt(v, 2)), textposition: "auto" }],
    { title: "Price levels (quote)", yaxis: { title: "price (quote)",
      range: [Math.min(...vals.filter((v) => v > 0)) * 0.97, Math.max(...vals) * 1.03] } });
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("risk-model").addEventListener("change", showJumpFields);
  showJumpFields();
  LC.onSubmit(document.getElementById("risk-form"), async (v) => {
    if (v.margin_quote !== undefined) delete v.leverage;
    let res;
    if (v.model === "jump") {
      const start = await LC.api("POST", "/api/risk/jobs", v);
      res = await LC.waitJob(start.job_id, (job) => { LC.progress(job.progress); LC.status(job.message); });
    } else {
      res = await LC.api("POST", "/api/risk", v);
    }
    drawRisk(res);
  });
  document.body.dataset.ready = "1";
});
