// Risk calculator: POST /api/risk (closed form) or /api/risk/jobs (simulated, ensemble), then draw.
"use strict";

function showModelFields() {
  const model = document.getElementById("risk-model").value;
  for (const el of document.querySelectorAll("label.jump, label.ens")) {
    const on = (model === "jump" && el.classList.contains("jump")) || (model === "ensemble" && el.classList.contains("ens"));
    el.hidden = !on;
    for (const input of el.querySelectorAll("input,select")) input.disabled = !on;
  }
}

const MODEL_NAMES = { gbm: "GBM", jump: "Merton jump-diffusion", ensemble: "calibrated ensemble" };

function drawComparison(res) {
  const block = document.querySelector('[data-testid="comparison-block"]');
  if (!res.comparison) { block.hidden = true; return; }
  block.hidden = false;
  const e = res.probability;
  document.querySelector('[data-testid="comparison-note"]').textContent =
    "Ensemble of " + LC.count(e.n_paths) + " paths (seed " + e.seed + ") from the last bar of " + e.klines_file +
    " (" + e.state_time + "), the liquidation price at the same relative distance from that bar's close. " +
    "GBM and Merton are fitted to the same file. Safe size below uses GBM at the volatility entered.";
  LC.table("table-comparison", [
    { key: "label", label: "model" },
    { key: "probability", label: "P(liquidation)", kind: "frac" },
    { key: "standard_error", label: "standard error", kind: "frac" },
    { key: "vol_annual", label: "fitted σ (annual)", kind: "frac" },
  ], res.comparison);
}

function drawRisk(res) {
  const pos = res.position, prob = res.probability, safe = res.safe_size;
  LC.setValue("kpi-liquidation_price", pos.liquidation_price, "price");
  LC.setValue("kpi-distance_frac", pos.distance_frac, "frac");
  LC.setValue("kpi-distance_sigma", pos.distance_sigma, "ratio", "σ");
  LC.setValue("kpi-probability", prob ? prob.probability : pos.liquidation_probability_gbm, "frac");
  document.querySelector('[data-testid="kpi-probability-model"]').textContent =
    "(" + MODEL_NAMES[prob ? prob.model : "gbm"] + ")";
  LC.setValue("kpi-ci_low", prob ? prob.ci_low : null, "frac");
  LC.setValue("kpi-ci_high", prob ? prob.ci_high : null, "frac");
  LC.setValue("kpi-margin_quote", res.margin_quote, "money");
  LC.setValue("kpi-margin_ratio", pos.margin_ratio, "frac");
  LC.setValue("kpi-safe_size_base", safe.size_base, "size");
  LC.setValue("kpi-safe_leverage", safe.leverage, "ratio", "x");
  const b = document.querySelector('[data-testid="kpi-safe_binding"]');
  b.textContent = safe.binding + (res.safe_size_model !== (prob ? prob.model : "gbm") ? " (" + MODEL_NAMES[res.safe_size_model] + ")" : "");
  b.dataset.value = safe.binding;
  drawComparison(res);
  const pct = { title: "probability", tickformat: ".1%" };
  if (res.horizon_figure) {
    // the library's figure (liqcascade.risk.HorizonCurve.plot)
    LC.plot("chart-horizon", res.horizon_figure.data, res.horizon_figure.layout);
  } else if (res.comparison_figure) {
    // the library's figure (liqcascade.forecast.ModelComparison.plot)
    LC.plot("chart-horizon", res.comparison_figure.data, res.comparison_figure.layout);
  } else {
    const p = prob ? prob.probability : pos.liquidation_probability_gbm;
    const err = prob && prob.ci_low !== null ? { type: "data", symmetric: false,
      array: [prob.ci_high - p], arrayminus: [p - prob.ci_low] } : undefined;
    LC.plot("chart-horizon", [
      { x: [pos.horizon_days], y: [p], name: "P(liquidation)", type: "bar", error_y: err },
    ], { title: "Probability of liquidation (" + (prob ? prob.model : "gbm") + ")", xaxis: { title: "horizon (days)" }, yaxis: pct });
  }
  const names = ["entry", "mark", "liquidation", "liquidation at safe size"];
  const vals = [pos.entry_price, pos.mark_price, pos.liquidation_price, safe.liquidation_price];
  LC.plot("chart-levels", [{ x: names, y: vals, type: "bar", name: "price", text: vals.map((v) => LC.price(v)), textposition: "auto" }],
    { title: "Price levels (quote)", yaxis: { title: "price (quote)", tickformat: ",.0f",
      range: [Math.min(...vals.filter((v) => v > 0)) * 0.97, Math.max(...vals) * 1.03] } });
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("risk-model").addEventListener("change", showModelFields);
  showModelFields();
  LC.onSubmit(document.getElementById("risk-form"), async (v) => {
    if (v.margin_quote !== undefined) delete v.leverage;
    let res;
    if (v.model === "jump" || v.model === "ensemble") {
      const start = await LC.api("POST", "/api/risk/jobs", v);
      res = await LC.waitJob(start.job_id, (job) => { LC.progress(job.progress); LC.status(job.message); });
    } else {
      res = await LC.api("POST", "/api/risk", v);
    }
    drawRisk(res);
  });
  document.body.dataset.ready = "1";
});
