"""``liqcascade replay``: replay a liquidation cascade against what happened (docs/replay.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import (
    Col,
    FormatOpt,
    JsonOpt,
    OutputFormat,
    console,
    emit,
    note,
    output_format,
    print_table,
    progress,
)

__all__ = ["print_replay", "register"]


def __getattr__(name: str) -> Any:
    # ``liqcascade.cli.replay.replay_day`` is the library's, imported on first use (start-up)
    if name == "replay_day":
        from liqcascade.replay import replay_day

        return replay_day
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(app: typer.Typer) -> None:
    @app.command("replay")
    def replay(
        date: Annotated[str, typer.Option(help="Day to replay (YYYY-MM-DD, UTC)")] = "2025-10-10",
        data: Annotated[
            Path | None, typer.Option(help="Directory or file of market data to ingest first")
        ] = None,
        symbol: Annotated[str | None, typer.Option(help="Symbol (default: the event's)")] = None,
        db: Annotated[
            Path | None, typer.Option(help="DuckDB store (default: user data dir)")
        ] = None,
        prior: Annotated[str, typer.Option(help="Leverage prior: name or TOML file")] = "default",
        fit_on: Annotated[
            str, typer.Option(help="Event day the dynamics are fitted on")
        ] = "2025-10-10",
        oi_base: Annotated[
            float | None, typer.Option(help="Open interest at the shock (base units); overrides")
        ] = None,
        report: Annotated[Path | None, typer.Option(help="HTML report path")] = None,
        params: Annotated[
            Path | None,
            typer.Option(help="Market-model parameters file (default: the shipped calibration)"),
        ] = None,
        attribution: Annotated[
            bool,
            typer.Option(
                "--attribution", help="Also split the observed fall into forced and exogenous flow"
            ),
        ] = False,
        paths_n: Annotated[int, typer.Option("--paths", help="Market-model ensemble paths")] = 1000,
        seed: Annotated[int, typer.Option(help="Seed of the market-model ensembles")] = 0,
        fmt: FormatOpt = OutputFormat.table,
        json_out: JsonOpt = False,
    ) -> None:
        """Replay a cascade day: model against observed price low, depth and liquidations.

        The HTML report goes to --report, by default reports/replay-DATE-SYMBOL.html beside the
        store (its path is printed last)."""
        from liqcascade.replay import replay_day

        fmt_ = output_format(fmt, json_out)
        with progress("replay", total=4, enabled=fmt_ == "table") as bar:
            res = replay_day(
                date,
                symbol=symbol,
                db=db,
                data=data,
                prior=prior,
                fit_on=fit_on,
                oi_base=oi_base,
                report=report,
                params_file=params,
                attribution=attribution,
                n_paths=paths_n,
                seed=seed,
                progress=bar,
            )
        print_replay(res, fmt_)


_REPLAY_COLS = [
    Col("metric", kind="text"),
    Col("model_cell", "model", kind="text", justify="right"),
    Col("observed_cell", "observed", kind="text", justify="right"),
    Col("error", kind="text", justify="right"),
    Col("src", kind="text"),
]


def _replay_cell(text: Any, v: Any, unit: str) -> str:
    from liqcascade import fmt

    if text:
        return str(text)
    if fmt.missing(v) or v is None:
        return ""
    if unit == "fraction":
        return fmt.frac(v, signed=v < 0)
    if unit == "quote":
        return fmt.money(v)
    return fmt.number(v)


def print_replay(res: Any, fmt_: str = "table") -> None:
    """Print the model-versus-observed table of a replay result, the market-model block and the
    report path (``fmt_`` csv: the comparison table's raw rows; json: the result's summary)."""
    if fmt_ == "json":
        emit([], _REPLAY_COLS, fmt="json", json_doc=res.summary())
        return
    raw_rows = res.table.to_dicts()
    if fmt_ == "csv":
        keys = [
            k
            for k in ("metric", "model", "observed", "unit", "error", "source")
            if raw_rows and k in raw_rows[0]
        ]
        emit(raw_rows, _REPLAY_COLS, fmt="csv", csv_keys=keys)
        return
    ev = res.event
    sources: list[str] = []
    rows = []
    for r in raw_rows:
        if r["source"] not in sources:
            sources.append(r["source"])
        rows.append(
            {
                "metric": r["metric"],
                "model_cell": _replay_cell(r.get("model_text"), r["model"], r["unit"]),
                "observed_cell": _replay_cell(r.get("observed_text"), r["observed"], r["unit"]),
                "error": r["error"],
                "src": f"[{sources.index(r['source']) + 1}]",
            }
        )
    emit(rows, _REPLAY_COLS, title=f"Replay {ev.date} {res.symbol} ({ev.venue}): model vs observed")
    for i, s in enumerate(sources, 1):
        note(f"[{i}] {s}")
    p = res.params
    note(
        f"parameters ({'fitted on this day' if res.fitted else 'fitted on ' + str(res.fit_info.get('fitted_on'))}"
        f" {res.fit_info.get('symbol', '')}): depth_scale={p.depth_scale:.3g} "
        f"stress_beta={p.stress_beta:.3g} stress_floor={p.stress_floor:.3g} "
        f"resilience_half_life={p.resilience_half_life_s:.0f}s permanent={p.permanent_frac:.2f} "
        f"step={p.step_s:g}s; fit loss {res.fit_info.get('loss', float('nan')):.5f}"
    )
    oi = res.inputs.get("open_interest", {})
    note(
        f"open interest {oi.get('value_base', float('nan')):,.0f} base ({oi.get('source', '')}); "
        f"impulse {res.inputs['impulse_base']:,.1f} base over {res.inputs['impulse_minutes']} min; "
        f"impact: {res.inputs['impact']['model']}"
    )
    print_market_model(res.market_model, res.sensitivity)
    console.print(f"report: {res.report_path}", markup=False, highlight=False)


def _pct(v: float | None) -> str:
    return "-" if v is None or v != v else f"{100 * v:+.2f} %"


def _rel(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or not b else a / b - 1.0


def _hm(iso: str | None) -> str:
    """``2025-10-10T21:20:00Z`` -> ``21:20`` (the date is in the table title)."""
    return "-" if not iso else str(iso)[11:16]


def _minutes(a: str | None, b: str | None) -> str:
    from liqcascade.timeutil import to_ms

    return "" if not a or not b else f"{(to_ms(a) - to_ms(b)) / 60_000:+.0f} min"


def print_market_model(model: dict[str, Any] | None, sens: list[dict[str, Any]] | None) -> None:
    """Print the market model's trigger-mode replay block and its sensitivity rows."""
    from rich.table import Table

    if not model:
        return
    obs = model.get("observed", {})
    lo = obs.get("low")
    t = Table(
        title=(
            f"Market model ({model.get('mode')} mode, {model.get('n_paths')} paths, "
            f"seed {model.get('seed')}): sees the tape until {model.get('sees_tape_until')}"
        )
    )
    for c in ("metric", "model", "observed", "error"):
        t.add_column(c, overflow="fold")
    for key, label in (("low_p10", "low p10"), ("low_p50", "low p50"), ("low_p90", "low p90")):
        v = model.get(key)
        t.add_row(label, f"{v:,.1f}", f"{lo:,.1f}", _pct(_rel(v, lo)))
    tm, to = model.get("low_time_p50"), obs.get("low_time")
    t.add_row("time of the low (p50)", _hm(tm), _hm(to), _minutes(tm, to))
    t.add_row("endogenous share of the fall", f"{100 * model['endogenous_share']:.1f} %", "", "")
    ip = model.get("impact_only_low_p50")
    t.add_row("impact-only low p50 (empty book)", f"{ip:,.1f}", f"{lo:,.1f}", _pct(_rel(ip, lo)))
    oc = obs.get("origin_close")
    for k, p in (model.get("p_fall_beyond") or {}).items():
        t.add_row(f"P(fall beyond {k})", f"{100 * p:.1f} %", "", "")
    print_table(t)
    note(
        f"event first bar {model.get('event_first_bar')} ({model.get('event_picked_by')}); "
        f"falls are measured from the last seen close {oc:,.1f} at {obs.get('origin_time')}; parameters {model.get('params')}"
    )
    inp = model.get("inputs") or {}
    if inp:
        oi = inp.get("open_interest_base")
        note(
            "inputs at the origin: open interest "
            + (f"{oi:,.0f} base ({inp.get('open_interest_source')})" if oi else "from the prior")
            + f"; depth ratio {inp.get('depth_ratio', 1.0):.2f} ({inp.get('depth_source')})"
        )
    att = model.get("attribution")
    if att:
        note(
            f"attribution (observed path): forced {att['forced_base_total']:,.1f} base, "
            f"exogenous {att['exogenous_flow_base_total']:,.1f} base (observed net flow "
            f"{att['observed_net_flow_base_total']:,.1f}), max forced share of a minute's volume "
            f"{100 * att['max_forced_share_of_volume']:.1f} %, endogenous share "
            f"{100 * att['endogenous_share']:.1f} %"
        )
    if sens:
        base = model.get("low_p50")
        st = Table(title="Sensitivity: low p50 with one fitted parameter scaled (same draws)")
        for c in ("param", "factor", "low_p50", "change vs base p50"):
            st.add_column(c, overflow="fold")
        for r in sens:
            st.add_row(
                r["param"],
                f"{r['factor']:g}",
                f"{r['low_p50']:,.1f}",
                _pct(_rel(r["low_p50"], base)),
            )
        print_table(st)
