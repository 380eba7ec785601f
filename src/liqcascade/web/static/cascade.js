// Cascade simulator: POST /api/cascade (static) or /api/cascade/dynamic (job), then draw.
"use strict";

// KPI keys and how each reads (kinds of LC.cell: the rules of liqcascade.fmt).
const KPI_KINDS = { initial_price: "price", shocked_price: "price", final_price: "price",
  cascade_multiplier: "ratio", liquidated_count: "count", liquidated_base: "size",
  liquidated_notional: "money", book_exhausted: "bool" };
const KPI_KEYS = Object.keys(KPI_KINDS);

async function loadBooks(selectName) {
  const books = await LC.api("GET", "/api/books");
  const sel = document.getElementById("book-select");
  sel.innerHTML = "";
  for (const name of books.examples) sel.add(new Option("example: " + name, "example:" + name));
  for (const name of books.files) sel.add(new Option("data: " + name, "data:" + name));
  if (selectName) sel.value = selectName;
  else if (books.default) sel.value = "example:" + books.default;
  await loadMarkets();
}

// The static mode solves one market of a book: list the book's (venue, symbol) pairs, first one chosen.
async function loadMarkets() {
  const sel = document.getElementById("book-select");
  const msel = document.getElementById("market-select");
  msel.innerHTML = "";
  delete msel.dataset.book;
  if (!sel.value) return;
  const [source, ...rest] = sel.value.split(":");
  const info = await LC.api("GET", "/api/books/info?source=" + encodeURIComponent(source) +
    "&name=" + encodeURIComponent(rest.join(":")));
  for (const [venue, symbol] of info.markets) msel.add(new Option(venue + " " + symbol, venue + "|" + symbol));
  if (info.markets.length > 1) msel.add(new Option("all markets (dynamic mode)", ""));
  msel.dataset.book = sel.value;
  const el = document.querySelector("[data-testid=book-info]");
  if (el) el.textContent = LC.count(info.positions) + " positions, " + info.markets.length + " market(s), " +
    LC.money(info.notional_quote) + " notional at entry (quote)";
}

function showImpactFields() {
  const model = document.getElementById("impact_model").value;
  for (const el of document.querySelectorAll("label.imp")) {
    const on = el.classList.contains("imp-" + model);
    el.hidden = !on;
    for (const input of el.querySelectorAll("input,select")) input.disabled = !on;
  }
}

function showModeFields() {
  const dyn = document.getElementById("mode").value === "dynamic";
  for (const el of document.querySelectorAll("label.dynf")) {
    el.hidden = !dyn;
    for (const input of el.querySelectorAll("input")) input.disabled = !dyn;
  }
}

function showResultKind(dyn) {
  for (const el of document.querySelectorAll(".dyn")) el.hidden = !dyn;
  for (const el of document.querySelectorAll(".stat")) el.hidden = dyn;
}

function buildRequest(v) {
  const [source, ...rest] = (v.book || "").split(":");
  const impact = { model: v.impact_model };
  for (const k of ["depth_1pct_base", "y", "sigma_daily", "adv_base", "depth_file", "depth_at"]) {
    if (v[k] !== undefined) impact[k] = v[k];
  }
  if (impact.model === "depth") impact.depth_source = "sample";
  const req = { book: { source, name: rest.join(":") }, initial_price: v.initial_price, shock: v.shock, impact };
  if (v.market) {
    const [venue, symbol] = v.market.split("|");
    req.venue = venue;
    req.symbol = symbol;
  }
  for (const k of ["steps", "dt_s", "seed"]) if (v[k] !== undefined) req[k] = v[k];
  return req;
}

function drawStatic(res) {
  showResultKind(false);
  const r = res.result;
  for (const k of KPI_KEYS) LC.setValue("kpi-" + k, r[k], KPI_KINDS[k]);
  const lad = res.ladder;
  // the library's figures (liqcascade.engine.static.CascadeLadder.plot)
  LC.plot("chart-ladder-price", res.figures.price.data, res.figures.price.layout);
  LC.plot("chart-ladder-liq", res.figures.liquidations.data, res.figures.liquidations.layout);
  const rows = lad.shock.map((s, i) => ({ shock: s, final_price: lad.final_price[i],
    liquidated_count: lad.liquidated_count[i], liquidated_notional: lad.liquidated_notional[i],
    cascade_multiplier: lad.cascade_multiplier[i], book_exhausted: lad.book_exhausted[i] }));
  LC.table("table-ladder", [
    { key: "shock", kind: "signed_frac" }, { key: "final_price", label: "final price (quote)", kind: "price" },
    { key: "liquidated_count", label: "liquidated", kind: "count" },
    { key: "liquidated_notional", label: "notional (quote)", kind: "money" },
    { key: "cascade_multiplier", label: "multiplier", kind: "ratio" },
    { key: "book_exhausted", label: "exhausted" }], rows);
}

function drawDynamic(res) {
  showResultKind(true);
  const s = res.summary;
  for (const k of KPI_KEYS) LC.setValue("kpi-" + k, s[k], KPI_KINDS[k]);
  // the library's figures (liqcascade.engine.dynamic.DynamicResult.plot)
  LC.plot("chart-price-path", res.figures.path.data, res.figures.path.layout);
  LC.plot("chart-losses", res.figures.losses.data, res.figures.losses.layout);
  const l = res.losses;
  const cols = Object.keys(l).filter((k) => k !== "venue");
  const rows = l.venue.map((v, i) => Object.fromEntries([["venue", v], ...cols.map((c) => [c, l[c][i]])]));
  LC.table("table-losses", [{ key: "venue" }, ...cols.map((c) => ({ key: c, kind: "money" }))], rows);
}

document.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("impact_model").addEventListener("change", showImpactFields);
  document.getElementById("mode").addEventListener("change", showModeFields);
  showImpactFields();
  showModeFields();
  document.getElementById("book-select").addEventListener("change", async () => {
    try { await loadMarkets(); } catch (e) { LC.status("book refused: " + e.message, true); }
  });
  await loadBooks();
  document.getElementById("book-upload").addEventListener("change", async (ev) => {
    const file = ev.target.files[0];
    if (!file) return;
    const fd = new FormData();
    fd.append("file", file);
    LC.status("uploading " + file.name + "…");
    try {
      const up = await LC.api("POST", "/api/books/upload", fd);
      await loadBooks("data:" + up.book.name);
      LC.status("uploaded: " + LC.count(up.positions) + " positions (" + up.venues.join(", ") + ")");
    } catch (e) {
      LC.status("upload refused: " + e.message, true);
    }
  });
  LC.onSubmit(document.getElementById("cascade-form"), async (v) => {
    const msel = document.getElementById("market-select");
    if (msel.dataset.book !== document.getElementById("book-select").value) {
      await loadMarkets();  // the book changed and its markets are not listed yet
      v = LC.formValues(document.getElementById("cascade-form"));
    }
    const req = buildRequest(v);
    if (v.mode === "dynamic") {
      const start = await LC.api("POST", "/api/cascade/dynamic", req);
      const res = await LC.waitJob(start.job_id, (job) => { LC.progress(job.progress); LC.status(job.message); });
      drawDynamic(res);
    } else {
      req.ladder = true;
      drawStatic(await LC.api("POST", "/api/cascade", req));
    }
  });
  document.body.dataset.ready = "1";
});
