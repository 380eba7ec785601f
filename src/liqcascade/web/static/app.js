// Shared helpers for the liqcascade pages: API calls, job polling, numbers in the DOM.
"use strict";

const LC = {};

LC.api = async function (method, url, body) {
  const opts = { method, headers: {} };
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(url, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = { detail: resp.statusText }; }
  if (!resp.ok) {
    const err = new Error((data && data.detail) || ("HTTP " + resp.status));
    err.status = resp.status;
    err.field = data && data.field;
    throw err;
  }
  return data;
};

// Poll /api/jobs/{id} until done; calls onProgress(job) on every poll.
LC.waitJob = async function (jobId, onProgress) {
  for (;;) {
    const job = await LC.api("GET", "/api/jobs/" + jobId);
    if (onProgress) onProgress(job);
    if (job.status === "done") return job.result;
    if (job.status === "failed" || job.status === "cancelled") {
      throw new Error(job.error || ("job " + job.status));
    }
    await new Promise((r) => setTimeout(r, 250));
  }
};

LC.status = function (text, isError) {
  const el = document.querySelector("[data-testid=status]");
  if (!el) return;
  el.textContent = text;
  el.classList.toggle("error", !!isError);
};

LC.progress = function (fraction) {
  const bar = document.querySelector("[data-testid=progress] > div");
  if (bar) bar.style.width = Math.round(100 * (fraction || 0)) + "%";
};

// Numbers as people read them: the rules of liqcascade.fmt (money, price, size, frac, count,
// ratio), so the pages, the CLI and the reports agree (tests/test_browser_defaults.py compares them).
LC.MISSING = "-";
LC._missing = (v) => v === null || v === undefined || (typeof v === "number" && Number.isNaN(v));
LC._fixed = (v, d) => v.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
LC._inf = (v) => (v > 0 ? "inf" : "-inf");
LC._unit = (text, unit) => (unit ? text + " " + unit : text);
// Python's format(v, ".Ng"): N significant digits, trailing zeros dropped, exponent below 1e-4.
LC._g = function (v, sig) {
  if (v === 0) return "0";
  const exp = Math.floor(Math.log10(Math.abs(Number(v.toPrecision(sig)))));
  if (exp < -4 || exp >= sig) {
    const [m, e] = v.toExponential(sig - 1).split("e");
    const mant = m.includes(".") ? m.replace(/\.?0+$/, "") : m;
    const n = Number(e);
    return mant + "e" + (n < 0 ? "-" : "+") + String(Math.abs(n)).padStart(2, "0");
  }
  let t = v.toFixed(Math.max(0, sig - 1 - exp));
  if (t.includes(".")) t = t.replace(/\.?0+$/, "");
  const [ip, fp] = t.split(".");
  const grouped = ip.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fp === undefined ? grouped : grouped + "." + fp;
};
LC.money = function (v, unit) {
  if (LC._missing(v)) return LC.MISSING;
  if (!Number.isFinite(v)) return LC._unit(LC._inf(v), unit);
  const a = Math.abs(v);
  let t;
  if (a >= 1e9) t = LC._fixed(v / 1e9, 2) + "B";
  else if (a >= 1e6) t = LC._fixed(v / 1e6, 2) + "M";
  else if (a >= 1e3) t = LC._fixed(v, 0);
  else if (a >= 1) t = LC._fixed(v, 2);
  else if (a === 0) t = "0";
  else t = LC._g(v, 3);
  return LC._unit(t, unit);
};
LC.price = function (v, unit) {
  if (LC._missing(v)) return LC.MISSING;
  if (!Number.isFinite(v)) return LC._unit(LC._inf(v), unit);
  const a = Math.abs(v);
  const t = a >= 1000 ? LC._fixed(v, 2) : a >= 1 ? LC._fixed(v, 4) : a === 0 ? "0" : LC._g(v, 5);
  return LC._unit(t, unit);
};
LC.size = function (v, unit) {
  if (LC._missing(v)) return LC.MISSING;
  if (!Number.isFinite(v)) return LC._unit(LC._inf(v), unit);
  const a = Math.abs(v);
  const t = a >= 1e6 ? LC._fixed(v / 1e6, 2) + "M" : a >= 1000 ? LC._fixed(v, 1) : a === 0 ? "0" : LC._g(v, 4);
  return LC._unit(t, unit);
};
LC.frac = function (v, digits, signed) {
  if (LC._missing(v)) return LC.MISSING;
  if (!Number.isFinite(v)) return LC._inf(v);
  // two decimals, three below 1 % (as venues state MMRs)
  const d = digits === undefined || digits === null ? (v !== 0 && Math.abs(v) < 0.01 ? 3 : 2) : digits;
  const t = (100 * v).toFixed(d) + "%";
  return signed && v >= 0 ? "+" + t : t;
};
LC.count = function (v) {
  if (LC._missing(v)) return LC.MISSING;
  if (!Number.isFinite(v)) return LC._inf(v);
  let r = Math.abs(v % 1) === 0.5 ? 2 * Math.round(v / 2) : Math.round(v); // half to even, as Python
  if (r === 0) r = 0; // no "-0"
  return LC._fixed(r, 0);
};
LC.ratio = function (v, digits) {
  if (LC._missing(v)) return LC.MISSING;
  if (!Number.isFinite(v)) return LC._inf(v);
  return LC._fixed(v, digits === undefined ? 3 : digits);
};
// Format by kind (the kinds of liqcascade.fmt.cell); unit appended where it makes sense.
LC.cell = function (v, kind, unit) {
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v === "string") return v;
  switch (kind) {
    case "money": return LC.money(v, unit);
    case "price": return LC.price(v, unit);
    case "size": return LC.size(v, unit);
    case "frac": return LC.frac(v);
    case "signed_frac": return LC.frac(v, undefined, true);
    case "count": return LC._missing(v) ? LC.MISSING : LC._unit(LC.count(v), unit);
    case "ratio": return LC._missing(v) ? LC.MISSING : LC._unit(LC.ratio(v), unit);
    default: return LC.fmt(v);
  }
};
// The kind a column name implies (units are in the names: *_quote is money, *_frac a fraction...).
LC.kindOf = function (key) {
  const k = String(key);
  if (/(_quote|_usd|_usdt|notional)$/.test(k)) return "money";
  if (/(_frac|_share|_prob|probability|mmr)$/.test(k)) return "frac";
  if (/price/.test(k)) return "price";
  if (/_base$/.test(k)) return "size";
  if (/(count|accounts_hit|positions|_hit)$/.test(k)) return "count";
  if (/multiplier$/.test(k)) return "ratio";
  return "number";
};

LC.fmt = function (v, digits) {
  if (v === null || v === undefined) return "n/a";
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (typeof v !== "number") return String(v);
  if (v === 0) v = 0; // no "-0"
  const a = Math.abs(v);
  const d = digits === undefined ? (a >= 1000 ? 2 : 6) : digits;
  if (a !== 0 && (a >= 1e9 || a < 1e-4)) return v.toExponential(4);
  return v.toLocaleString("en-US", { maximumFractionDigits: d });
};

// Put a number in the element with data-testid=id; the exact value goes in data-value.
// ``how`` is a kind of LC.cell ("money", "price", "frac", ...) or a number of digits.
LC.setValue = function (testid, value, how, unit) {
  const el = document.querySelector('[data-testid="' + testid + '"]');
  if (!el) return;
  el.dataset.value = value === null || value === undefined ? "" : String(value);
  el.textContent = typeof how === "string" ? LC.cell(value, how, unit) : LC.fmt(value, how);
};

// Fill a table (thead from columns, one row per record); every cell carries data-value.
LC.table = function (testid, columns, rows) {
  const table = document.querySelector('[data-testid="' + testid + '"]');
  if (!table) return;
  table.innerHTML = "";
  const head = table.createTHead().insertRow();
  for (const c of columns) {
    const th = document.createElement("th");
    th.textContent = c.label || c.key;
    head.appendChild(th);
  }
  const body = table.createTBody();
  rows.forEach((r, i) => {
    const tr = body.insertRow();
    tr.dataset.testid = testid + "-row-" + i;
    for (const c of columns) {
      const td = tr.insertCell();
      const v = r[c.key];
      td.dataset.testid = testid + "-" + i + "-" + c.key;
      td.dataset.value = v === null || v === undefined ? "" : String(v);
      td.textContent = c.kind ? LC.cell(v, c.kind, c.unit) : LC.fmt(v, c.digits);
    }
  });
};

// Read a form into an object; numbers for type=number inputs, empty fields left out.
LC.formValues = function (form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === "file") continue;
    if (el.value === "") continue;
    out[el.name] = el.type === "number" ? Number(el.value) : el.value;
  }
  return out;
};

// plotly.js 3 takes titles only as {text: ...}; accept plain strings in layouts here.
LC.titles = function (obj) {
  if (!obj || typeof obj !== "object") return obj;
  for (const [k, v] of Object.entries(obj)) {
    if (k === "title" && typeof v === "string") obj[k] = { text: v };
    else if (v && typeof v === "object" && !Array.isArray(v)) LC.titles(v);
  }
  return obj;
};

LC.plot = function (testid, traces, layout) {
  const el = document.querySelector('[data-testid="' + testid + '"]');
  el.hidden = false;
  const base = { margin: { t: 40, r: 60, b: 50, l: 80 }, font: { size: 11 }, legend: { orientation: "h", y: -0.2 } };
  return Plotly.react(el, traces, LC.titles(Object.assign(base, layout || {})), { responsive: true, displaylogo: false });
};

// Wrap a submit handler: disable the button, show errors, mark the page done for tests.
LC.onSubmit = function (form, handler) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const btn = form.querySelector("button[type=submit]");
    if (btn) btn.disabled = true;
    document.body.dataset.state = "running";
    LC.status("running…");
    LC.progress(0);
    try {
      await handler(LC.formValues(form));
      LC.status("done");
      LC.progress(1);
      document.body.dataset.state = "done";
    } catch (e) {
      LC.status("error: " + e.message, true);
      document.body.dataset.state = "error";
    } finally {
      if (btn) btn.disabled = false;
    }
  });
};
