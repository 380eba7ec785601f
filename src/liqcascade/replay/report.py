"""The replay's self-contained HTML report and the text of its comparison table."""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from liqcascade.replay.run import ReplayResult
from liqcascade.timeutil import ms_to_iso


def _fmt(v: Any, unit: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if unit == "fraction":
        return f"{v:+.2%}" if v < 0 else f"{v:.2%}"
    if unit == "quote":
        return f"{v:,.0f}" if abs(v) < 1e7 else f"{v / 1e9:,.3f} B"
    return str(v)


def table_rows_text(result: ReplayResult) -> list[tuple[str, str, str, str, str]]:
    """(metric, model, observed, error, source) strings of the comparison table."""
    out = []
    for r in result.table.to_dicts():
        m = r.get("model_text") or _fmt(r["model"], r["unit"])
        o = r.get("observed_text") or _fmt(r["observed"], r["unit"])
        out.append((r["metric"], m, o, r["error"], r["source"]))
    return out


def replay_figure(result: ReplayResult) -> Any:
    """Both price paths on one chart (observed 1m close and low, the model) and the depth
    factor below it, against the observed ask depth within 1% where the day has depth data
    (:meth:`ReplayResult.plot`)."""
    from liqcascade import plotting

    go = plotting.graph_objects("the replay plot")
    obs = result.observed
    titles = ("Price (quote)", "Depth within 1% (fraction of pre-shock)")
    fig = plotting.stacked("the replay plot", titles, heights=(0.7, 0.3), spacing=0.06)
    to_dt = lambda a: pl.Series(a).cast(pl.Int64).cast(pl.Datetime("ms")).to_list()  # noqa: E731
    model_t, obs_t = result.model.time_ms, obs.path["time_ms"]
    # (time_ms, y, name, line style, subplot row)
    traces: list[tuple[Any, list, str, dict[str, str], int]] = [
        (obs_t, obs.path["close"].to_list(), "observed close (1m)", {"color": "#222"}, 1),
        (
            obs_t,
            obs.path["low"].to_list(),
            "observed low (1m)",
            {"color": "#888", "dash": "dot"},
            1,
        ),
        (model_t, result.model.price.tolist(), "model", {"color": "#d62728"}, 1),
        (
            model_t,
            result.model.depth_factor.tolist(),
            "model depth factor",
            {"color": "#d62728"},
            2,
        ),
    ]
    if obs.depth_path is not None and obs.depth_pre_1pct_base:
        ask = (obs.depth_path["ask_1pct_base"] / obs.depth_pre_1pct_base).to_list()
        traces.append(
            (obs.depth_path["time_ms"], ask, "observed ask depth +1% / pre", {"color": "#222"}, 2)
        )
    for time_ms, y, name, line, row in traces:
        fig.add_trace(go.Scatter(x=to_dt(time_ms), y=y, name=name, line=line), row=row, col=1)
    return plotting.styled(
        fig, f"Replay {result.event.date} {result.symbol}: model vs observed", height=720
    )


def write_report(result: ReplayResult, path: str | Path) -> Path:
    """Write a self-contained HTML report (plotly inlined, no CDN): both price paths on one chart,
    the depth factor, and the comparison table with sources."""
    from liqcascade._optional import require

    require("the replay HTML report", "plotly", extra="plot")
    fig = result.plot()
    chart = fig.to_html(include_plotlyjs=True, full_html=False)
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
        for row in table_rows_text(result)
    )
    inputs = html.escape(json.dumps(result.summary()["inputs"], indent=2, default=str))
    params = html.escape(
        json.dumps(
            {"params": asdict(result.params), "fitted_here": result.fitted, "fit": result.fit_info},
            indent=2,
            default=str,
        )
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8">
<title>liqcascade replay {html.escape(result.event.date)} {html.escape(result.symbol)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;font-size:13px}}pre{{background:#f6f6f6;padding:1em}}</style>
</head><body>
<h1>{html.escape(result.event.title)}</h1>
<p>Symbol {html.escape(result.symbol)} on {html.escape(result.event.venue)}; news time {html.escape(ms_to_iso(result.event.news_ms))};
window to {html.escape(ms_to_iso(result.event.window_end_ms))}. Method: docs/replay.md.</p>
{chart}
<h2>Model against observed</h2>
<table><tr><th>metric</th><th>model</th><th>observed</th><th>error</th><th>source</th></tr>{rows}</table>
<h2>Parameters</h2><pre>{params}</pre>
<h2>Inputs</h2><pre>{inputs}</pre>
</body></html>"""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    result.report_path = str(out)
    return out
