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
LC.setValue = function (testid, value, digits) {
  const el = document.querySelector('[data-testid="' + testid + '"]');
  if (!el) return;
  el.dataset.value = value === null || value === undefined ? "" : String(value);
  el.textContent = LC.fmt(value, digits);
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
      td.textContent = LC.fmt(v, c.digits);
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
