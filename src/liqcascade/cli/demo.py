"""``liqcascade demo``: for now, the margin table of a realistic example book.

A later issue turns this into the crash replay; keep it thin (load, compute, print).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import console, print_json

DEFAULT_BOOK = Path(__file__).resolve().parents[3] / "examples" / "book_example.csv"


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
                "account": int(book.account_id[i]),
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
    ) -> None:
        """Ingest the shipped data and replay 10 Oct 2025: model against observed, HTML report."""
        if margin_table_only:
            _margin_demo(DEFAULT_BOOK, False)
            return
        from importlib import resources

        import platformdirs

        from liqcascade.cli.replay import print_replay
        from liqcascade.replay import replay_day

        sample = Path(str(resources.files("liqcascade") / "sample_data"))
        store = db or Path(platformdirs.user_data_dir("liqcascade")) / "demo.duckdb"
        console.print(f"ingesting {sample} into {store} ...")
        res = replay_day("2025-10-10", db=store, data=sample)
        print_replay(res)

    def _margin_demo(
        book: Annotated[
            Path, typer.Option(help="Position book CSV (see liqcascade.book)")
        ] = DEFAULT_BOOK,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    ) -> None:
        """Margin table of an example book across six venues (rules with sources)."""
        from rich.table import Table

        rows = margin_table(book)
        if json_out:
            print_json(rows)
            return
        t = Table(title=f"Margin table: {book.name} (venue rules: docs/venues.md)")
        cols = [
            ("account", "acct", "{}"),
            ("venue", "venue", "{}"),
            ("symbol", "symbol", "{}"),
            ("side", "side", "{}"),
            ("mode", "mode", "{}"),
            ("size_base", "size", "{:,.4g}"),
            ("entry_price", "entry", "{:,.2f}"),
            ("leverage", "lev", "{:,.1f}x"),
            ("notional_quote", "notional", "{:,.0f}"),
            ("tier", "tier", "{}"),
            ("mmr", "MMR", "{:.3%}"),
            ("maintenance_margin_quote", "MM", "{:,.2f}"),
            ("liquidation_price", "liq price", "{:,.2f}"),
            ("bankruptcy_price", "bankr. price", "{:,.2f}"),
            ("distance_to_liq_pct", "to liq", "{:.2f}%"),
        ]
        for _, head, _ in cols:
            t.add_column(
                head, justify="right" if head not in ("venue", "symbol", "side", "mode") else "left"
            )
        for r in rows:
            t.add_row(*[fmt.format(r[key]) if r[key] == r[key] else "-" for key, _, fmt in cols])
        console.print(t)
        console.print(f"{len(rows)} positions; NaN ('-') liquidation price = never liquidated.")
