// Liquidation map: POST /api/map (job), poll, draw one heatmap + price line per venue.
"use strict";

function drawMarket(i, m) {
  const holder = document.getElementById("map-charts");
  const section = document.createElement("section");
  section.innerHTML =
    '<h2>' + m.venue + " " + m.symbol + '</h2>' +
    '<div class="kpis">' +
    '<div class="kpi"><div class="label">Long notional at last snapshot (quote)</div><div class="value" data-testid="kpi-long-' + i + '"></div></div>' +
    '<div class="kpi"><div class="label">Short notional at last snapshot (quote)</div><div class="value" data-testid="kpi-short-' + i + '"></div></div>' +
    '<div class="kpi"><div class="label">Reference price at last snapshot</div><div class="value" data-testid="kpi-ref-' + i + '"></div></div>' +
    '<div class="kpi"><div class="label">Price bin (quote)</div><div class="value" data-testid="kpi-bin-' + i + '"></div></div>' +
    "</div>" +
    '<div class="chart" style="min-height:520px" data-testid="chart-heatmap-' + i + '"></div>' +
    "<h2>Densest levels at the last snapshot</h2>" +
    '<table class="data" data-testid="table-densest-' + i + '"></table>';
  holder.appendChild(section);
  const n = m.times.length - 1;
  LC.setValue("kpi-long-" + i, m.long_notional_quote[n], "money");
  LC.setValue("kpi-short-" + i, m.short_notional_quote[n], "money");
  LC.setValue("kpi-ref-" + i, m.reference_price[n], "price");
  LC.setValue("kpi-bin-" + i, m.bin_width_quote, "price");
  // the library's figure (liqcascade.estimate.MapSnapshots.plot): heatmap + price line
  LC.plot("chart-heatmap-" + i, m.figure.data, m.figure.layout);
  LC.table("table-densest-" + i, [
    { key: "price_level", label: "price level (quote)", kind: "price" }, { key: "side", label: "side (+1 long, -1 short)" },
    { key: "size_base", label: "size (base)", kind: "size" }, { key: "notional_quote", label: "notional (quote)", kind: "money" }],
    m.densest);
}

async function loadOptions() {
  try {
    const opts = await LC.api("GET", "/api/map/options");
    const el = document.querySelector("[data-testid=stored]");
    el.textContent = opts.stored_klines_1m.length
      ? "Stored 1m klines: " + opts.stored_klines_1m.map((s) => s.venue + " " + s.symbol + " (" + s.first + " … " + s.last + ")").join("; ")
      : opts.sample_store
        ? "No market-data store: the shipped sample data (BTCUSDT 1m klines, Oct-Nov 2025) is used; ingest your own with `liqcascade data ingest`."
        : "The store holds no 1m trade klines: ingest some with `liqcascade data ingest`.";
  } catch (e) { /* the form still works */ }
}

document.addEventListener("DOMContentLoaded", () => {
  loadOptions();
  LC.onSubmit(document.getElementById("map-form"), async (v) => {
    const markets = [{ venue: v.venue, symbol: v.symbol }];
    if (v.venue2 && v.symbol2) markets.push({ venue: v.venue2, symbol: v.symbol2 });
    const req = { markets, start: v.start, end: v.end, snapshots: v.snapshots, prior: v.prior, lookback_hours: v.lookback_hours };
    if (v.bin_width_quote !== undefined) req.bin_width_quote = v.bin_width_quote;
    const start = await LC.api("POST", "/api/map", req);
    const res = await LC.waitJob(start.job_id, (job) => { LC.progress(job.progress); LC.status(job.message); });
    document.getElementById("map-charts").innerHTML = "";
    res.markets.forEach((m, i) => drawMarket(i, m));
  });
  document.body.dataset.ready = "1";
});
