"""``liqcascade cascade``: a price shock through a position book, static or dynamic mode."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from liqcascade.cli._common import console, print_json

_COLUMNS = (
    ("shock", "shock", "{:+.4f}"),
    ("initial_price", "P0", "{:,.2f}"),
    ("shocked_price", "P1", "{:,.2f}"),
    ("final_price", "final", "{:,.2f}"),
    ("liquidated_count", "liquidated", "{:,}"),
    ("liquidated_base", "base", "{:,.4f}"),
    ("liquidated_notional", "notional", "{:,.0f}"),
    ("cascade_multiplier", "multiplier", "{:.3f}"),
    ("book_exhausted", "exhausted", "{}"),
)


def run_cascade(
    positions: Path,
    price: float,
    shock: str,
    impact: str,
    venue: str | None = None,
    symbol: str | None = None,
    mode: str = "static",
) -> list[dict[str, Any]]:
    """Load, filter, solve every shock; one summary dict per shock (the CLI's JSON rows)."""
    from liqcascade.book import PositionBook
    from liqcascade.engine.static import StaticCascade, parse_shocks
    from liqcascade.errors import InputError
    from liqcascade.impact import parse_impact

    shocks = parse_shocks(shock)
    model = parse_impact(impact)
    book = PositionBook.from_file(positions)
    if venue is not None or symbol is not None:
        book = book.filter(venue=venue, symbol=symbol)
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
        return [
            dict(simulate_shock(book, price, s, model, venue=venue, symbol=symbol).summary())
            for s in shocks
        ]
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
        as_json: bool = typer.Option(
            False, "--json", help="Print JSON (an object; a list for a ladder)."
        ),
    ) -> None:
        """Run a price shock through a position book: forced sales move the price, which
        liquidates more, until it stops. One row per shock."""
        rows = run_cascade(positions, price, shock, impact, venue, symbol, mode)
        if as_json:
            print_json(rows[0] if len(rows) == 1 else rows)
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{mode} cascade: {positions.name} from {price:,.2f}")
        for _, head, _fmt in _COLUMNS:
            table.add_column(head, justify="right")
        for row in rows:
            cells = []
            for key, _, fmt in _COLUMNS:
                val = row.get(key)
                cells.append("-" if val is None else fmt.format(val))
            table.add_row(*cells)
        # a ladder table is wider than the 80 columns rich assumes when not on a terminal
        Console(width=max(console.width, 150)).print(table)
