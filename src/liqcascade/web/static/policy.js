// Policy comparison: POST /api/policy (job), poll, table + one bar chart per column.
"use strict";

function drawPolicy(res) {
  const t = res.table;
  const cols = Object.keys(t);
  const rows = t.variant.map((_, i) => Object.fromEntries(cols.map((c) => [c, t[c][i]])));
  LC.table("table-policy", cols.map((c) => ({ key: c, label: c.replace(/_/g, " "), kind: LC.kindOf(c) })), rows);
  const holder = document.getElementById("policy-charts");
  holder.innerHTML = "";
  for (const c of res.chart_columns) {
    const div = document.createElement("div");
    div.className = "chart";
    div.dataset.testid = "chart-" + c;
    holder.appendChild(div);
    // the library's figure (liqcascade.policy.PolicyResult.plot), with intervals over paths
    LC.plot("chart-" + c, res.figures[c].data, res.figures[c].layout);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  LC.onSubmit(document.getElementById("policy-form"), async (v) => {
    const req = { file: v.file, vary: [v.vary1, v.vary2].filter((s) => s) };
    for (const k of ["paths", "seed", "n_positions"]) if (v[k] !== undefined) req[k] = v[k];
    const start = await LC.api("POST", "/api/policy", req);
    const res = await LC.waitJob(start.job_id, (job) => { LC.progress(job.progress); LC.status(job.message); });
    drawPolicy(res);
  });
  document.body.dataset.ready = "1";
});
