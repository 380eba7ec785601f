"""``liqcascade cascade``: a price shock through a position book, static or dynamic mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from liqcascade.cli._common import (
    Col,
    FormatOpt,
    OutputFormat,
    emit,
    load_book,
    output_format,
    progress,
    quote_unit,
)

_COLUMNS = (
    Col("shock", kind="signed_frac"),
    Col("initial_price", "P0", kind="price"),
    Col("shocked_price", "P1", kind="price"),
    Col("final_price", "final", kind="price"),
    Col("liquidated_count", "liquidated", kind="count"),
    Col("liquidated_base", "base", kind="size"),
    Col("liquidated_notional", "notional", kind="money"),
    Col("cascade_multiplier", "multiplier", kind="ratio"),
    Col("book_exhausted", "exhausted", kind="bool"),
)


def run_cascade(
    book: Any,
    price: float,
    shocks: list[float],
    model: Any,
    mode: str = "static",
    progress: Any = None,
) -> list[dict[str, Any]]:
    """Solve every shock of ``shocks`` on ``book`` with the impact ``model``; one summary dict
    per shock (the CLI's JSON rows).

    ``progress(done, total)`` is called after each shock of a dynamic-mode ladder."""
    from liqcascade.engine.static import StaticCascade
    from liqcascade.errors import InputError

    if mode == "static":
        idx = StaticCascade(book, model, price)  # indexed once for the whole ladder
        pair = idx.venue_symbol or (None, None)
        extra = {"venue": pair[0], "symbol": pair[1], "impact": model.describe(), "mode": "static"}
        return [{**row, **extra} for row in idx.ladder(shocks).to_dicts()]
    if mode == "dynamic":
        try:
            from liqcascade.engine.dynamic import simulate_shock
        except ImportError as exc:
            raise InputError(f"--mode dynamic is not available in this build ({exc})") from exc
        out = []
        for i, s in enumerate(shocks):
            out.append(dict(simulate_shock(book, price, s, model).summary()))
            if progress is not None:
                progress(i + 1, len(shocks))
        return out
    raise InputError(f"--mode must be static or dynamic, got {mode!r}")


def register(app: typer.Typer) -> None:
    @app.command("cascade")
    def cascade(
        positions: Path = typer.Option(
            ...,
            "--positions",
            help="Position book: CSV or Parquet (columns: docs/engine-static.md).",
        ),
        price: float = typer.Option(..., "--price", help="Initial price P0 (quote per base)."),
        shock: str = typer.Option(
            ...,
            "--shock",
            help="Shock as a fraction (-0.1 = -10%), a comma list, or START:STOP:STEP (a ladder).",
        ),
        impact: str = typer.Option(
            ...,
            "--impact",
            help="linear:DEPTH_1PCT | depth:BOOKDEPTH.csv[@TIME] | sqrt:Y,SIGMA,ADV",
        ),
        venue: str | None = typer.Option(None, "--venue", help="Keep only this venue."),
        symbol: str | None = typer.Option(None, "--symbol", help="Keep only this symbol."),
        mode: str = typer.Option("static", "--mode", help="static (fixed point) or dynamic."),
        fmt: FormatOpt = OutputFormat.table,
        as_json: bool = typer.Option(
            False, "--json", help="Print JSON (an object; a list for a ladder)."
        ),
    ) -> None:
        """Run a price shock through a position book: forced sales move the price, which
        liquidates more, until it stops. One row per shock."""
        from dataclasses import replace

        from liqcascade.engine.static import parse_shocks
        from liqcascade.impact import parse_impact

        fmt_ = output_format(fmt, as_json)
        shocks, model = parse_shocks(shock), parse_impact(impact)
        book = load_book(positions, venue, symbol)
        with progress(f"{mode} cascade", enabled=fmt_ == "table" and mode == "dynamic") as bar:
            rows = run_cascade(book, price, shocks, model, mode, bar)
        unit = quote_unit(rows[0].get("venue"), rows[0].get("symbol")) if rows else None
        cols = [replace(c, unit=unit) if c.kind == "money" else c for c in _COLUMNS]
        emit(
            rows,
            cols,
            fmt=fmt_,
            title=f"{mode} cascade: {positions.name} from {price:,.2f}",
            json_doc=rows[0] if len(rows) == 1 else rows,
            csv_keys=list(rows[0]) if rows else [c.key for c in _COLUMNS],
        )
