"""``liqcascade demo``: for now, the margin table of a realistic example book.

A later issue turns this into the crash replay; keep it thin (load, compute, print).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import (
    Col,
    FormatOpt,
    OutputFormat,
    console,
    emit,
    note,
    output_format,
    progress,
)
from liqcascade.resources import example_path, sample_data_dir

DEFAULT_BOOK = example_path("book_example.csv")


def margin_table(book_path: Path) -> list[dict[str, Any]]:
    """One row per position: tier, MMR, maintenance margin at entry, liquidation/bankruptcy price."""
    import numpy as np

    from liqcascade import margin
    from liqcascade.book import PositionBook
    from liqcascade.venues import load_venue

    book = PositionBook.from_csv(book_path)
    rows: list[dict[str, Any]] = []
    cache: dict[tuple[str, str], Any] = {}
    for i in range(len(book)):
        venue = book.venues[int(book.venue_code[i])]
        symbol = book.symbols[int(book.symbol_code[i])]
        rules = cache.setdefault((venue, symbol), load_venue(venue, symbol))
        q, ep = float(book.size_base[i]), float(book.entry_price[i])
        n = q * ep
        k = int(rules.tiers.index(n))
        lp = float(book.liquidation_price[i])
        rows.append(
            {
                "account": book.account_label(book.account_id[i]),
                "venue": venue,
                "symbol": symbol,
                "side": "long" if book.side[i] > 0 else "short",
                "mode": "cross" if book.margin_mode[i] == 1 else "isolated",
                "size_base": q,
                "entry_price": ep,
                "leverage": float(book.leverage[i]),
                "notional_quote": n,
                "tier": k + 1,
                "mmr": float(rules.tiers.mmr[k]),
                "maintenance_margin_quote": float(margin.maintenance_margin(rules, n)),
                "liquidation_price": lp,
                "bankruptcy_price": float(book.bankruptcy_price[i]),
                "distance_to_liq_pct": float(abs(lp - ep) / ep * 100)
                if np.isfinite(lp)
                else float("nan"),
            }
        )
    return rows


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        db: Annotated[Path | None, typer.Option(help="DuckDB store for the demo")] = None,
        margin_table_only: Annotated[
            bool, typer.Option("--margin-table", help="Only print the example margin table")
        ] = False,
        fmt: FormatOpt = OutputFormat.table,
    ) -> None:
        """Ingest the shipped data and replay 10 Oct 2025: model against observed, HTML report."""
        fmt_ = output_format(fmt)
        if margin_table_only:
            _margin_demo(DEFAULT_BOOK, fmt_)
            return
        import platformdirs

        from liqcascade.cli.replay import print_replay
        from liqcascade.replay import replay_day

        sample = sample_data_dir()
        store = db or Path(platformdirs.user_data_dir("liqcascade")) / "demo.duckdb"
        if fmt_ == "table":
            console.print(f"ingesting {sample} into {store} ...", markup=False, highlight=False)
        with progress("demo replay", total=4, enabled=fmt_ == "table") as bar:
            res = replay_day("2025-10-10", db=store, data=sample, progress=bar)
        print_replay(res, fmt_)

    def _margin_demo(book: Path, fmt_: str = "table") -> None:
        """Margin table of an example book across six venues (rules with sources)."""
        rows = margin_table(book)
        cols = [
            Col("account", "acct", kind="text"),
            Col("venue", kind="text"),
            Col("symbol", kind="text"),
            Col("side", kind="text"),
            Col("mode", kind="text"),
            Col("size_base", "size", kind="size"),
            Col("entry_price", "entry", kind="price"),
            Col("leverage", "lev", kind="leverage"),
            Col("notional_quote", "notional", kind="money"),
            Col("tier", kind="count"),
            Col("mmr", "MMR", kind="frac"),
            Col("maintenance_margin_quote", "MM", kind="money"),
            Col("liquidation_price", "liq price", kind="price"),
            Col("bankruptcy_price", "bankr. price", kind="price"),
            Col("distance_to_liq_pct", "to liq", kind="pct"),
        ]
        emit(
            rows,
            cols,
            fmt=fmt_,
            title=f"Margin table: {book.name} (venue rules: docs/venues.md)",
            csv_keys=list(rows[0]) if rows else None,
        )
        if fmt_ == "table":
            note(f"{len(rows)} positions; '-' liquidation price = never liquidated.")
