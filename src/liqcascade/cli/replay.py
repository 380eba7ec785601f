"""``liqcascade replay``: replay a liquidation cascade against what happened (docs/replay.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import console, print_json
from liqcascade.replay import replay_day

__all__ = ["print_replay", "register", "replay_day"]


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
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    ) -> None:
        """Replay a cascade day: model against observed price low, depth and liquidations."""
        res = replay_day(
            date,
            symbol=symbol,
            db=db,
            data=data,
            prior=prior,
            fit_on=fit_on,
            oi_base=oi_base,
            report=report,
        )
        if json_out:
            print_json(res.summary())
            return
        print_replay(res)


def print_replay(res: Any) -> None:
    """Print the model-versus-observed table of a replay result and the report path."""
    from rich.table import Table

    from liqcascade.replay import table_rows_text

    ev = res.event
    t = Table(title=f"Replay {ev.date} {res.symbol} ({ev.venue}): model vs observed")
    for c in ("metric", "model", "observed", "error", "src"):
        t.add_column(c, overflow="fold")
    sources: list[str] = []
    for row in table_rows_text(res):
        if row[4] not in sources:
            sources.append(row[4])
        t.add_row(*row[:4], f"[{sources.index(row[4]) + 1}]")
    console.print(t)
    for i, s in enumerate(sources, 1):
        console.print(f"[{i}] {s}", markup=False, soft_wrap=True)
    p = res.params
    console.print(
        f"parameters ({'fitted on this day' if res.fitted else 'fitted on ' + str(res.fit_info.get('fitted_on'))}"
        f" {res.fit_info.get('symbol', '')}): depth_scale={p.depth_scale:.3g} "
        f"stress_beta={p.stress_beta:.3g} stress_floor={p.stress_floor:.3g} "
        f"resilience_half_life={p.resilience_half_life_s:.0f}s permanent={p.permanent_frac:.2f} "
        f"step={p.step_s:g}s; fit loss {res.fit_info.get('loss', float('nan')):.5f}"
    )
    oi = res.inputs.get("open_interest", {})
    console.print(
        f"open interest {oi.get('value_base', float('nan')):,.0f} base ({oi.get('source', '')}); "
        f"impulse {res.inputs['impulse_base']:,.1f} base over {res.inputs['impulse_minutes']} min; "
        f"impact: {res.inputs['impact']['model']}"
    )
    console.print(f"report: {res.report_path}")
