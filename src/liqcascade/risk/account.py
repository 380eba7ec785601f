"""Risk of every position and margin pool of a whole book (account)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError, InputError, RuleError
from liqcascade.jsonutil import fields_dict
from liqcascade.risk._checks import _finite, _positive
from liqcascade.risk.models import gbm_touch
from liqcascade.risk.position import _margin_module


@dataclass(frozen=True)
class AccountRisk:
    """Per-position and per-account risk of a book at given marks (quote currency).

    The move is applied to every mark at once (one common relative move).
    """

    move_frac: float | None
    """The relative move applied to every mark (``-0.1`` = 10% down), or ``None``."""
    vol_annual: float | None
    """Annualised volatility of the distance and probability columns, or ``None``."""
    horizon_days: float
    """Horizon of the distance in volatility units and of the GBM probability, days."""
    positions: pl.DataFrame
    """One row per position: liquidation price (the book's: isolated formula or the cross
    formula with the other positions at their marks), distance in % and volatility units, GBM
    probability, and the what-if columns when a move was given."""
    accounts: pl.DataFrame
    """One row per margin pool (an account's cross wallet, or one isolated position): equity,
    maintenance margin, margin ratio (MM/equity) and, after the move, whether it is
    liquidated."""

    def as_dict(self) -> dict[str, Any]:
        """The fields in order, each frame as its list of row dicts."""
        return fields_dict(self)


def load_positions(
    path: str | Path,
    *,
    venue: str | None = None,
    symbol: str | None = None,
    account_collateral_quote: float | None = None,
) -> tuple[Any, dict[str, float]]:
    """Read a positions file: CSV/Parquet (``liqcascade.book`` columns, optional ``mark_price``)
    or JSON holding ccxt ``fetch_positions()`` output (a list, or ``{"positions": [...]}``;
    ``venue`` required). Returns the :class:`~liqcascade.book.PositionBook` and the marks by
    symbol found in the file.
    """
    import json

    from liqcascade.book import PositionBook

    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: positions file not found")
    marks: dict[str, float] = {}
    if p.suffix.lower() == ".json":
        if venue is None:
            raise InputError(f"{p}: ccxt positions need the venue (e.g. venue='binance_usdm')")
        try:
            raw = json.loads(p.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{p}: not valid JSON ({exc})") from exc
        items = raw.get("positions") if isinstance(raw, dict) else raw
        if not isinstance(items, list):
            raise InputError(f"{p}: expected a list of ccxt positions or {{'positions': [...]}}")
        book = PositionBook.from_ccxt(
            items, venue=venue, account_collateral_quote=account_collateral_quote, source=p.name
        )
        from liqcascade.venues import load_venue

        for i, pos in enumerate(items):
            mk = pos.get("markPrice") if isinstance(pos, dict) else None
            if mk is None or not pos.get("symbol"):
                continue
            try:
                sym = load_venue(venue, str(pos["symbol"])).symbol
            except (InputError, RuleError):
                sym = str(pos["symbol"])
            marks[sym] = _positive(f"{p.name} position {i + 1} markPrice", mk)
        return book, marks
    book = PositionBook.from_file(p, venue=venue, symbol=symbol)
    df = (
        pl.read_parquet(p)
        if p.suffix.lower() in (".parquet", ".pq")
        else pl.read_csv(p, infer_schema_length=0)
    )
    cols = {c.strip().lower(): c for c in df.columns}
    if "mark_price" in cols:
        sym_col = cols.get("symbol")
        for i, row in enumerate(df.iter_rows(named=True)):
            mk = row[cols["mark_price"]]
            if mk in (None, ""):
                continue
            sym = str(row[sym_col]) if sym_col else str(symbol)
            v = _positive(f"{p.name} row {i + 1} mark_price", mk)
            if sym in marks and abs(marks[sym] - v) > 1e-9 * v:
                raise InputError(
                    f"{p.name} row {i + 1}: mark_price {v} for {sym} differs from an earlier "
                    f"row's {marks[sym]}; one symbol has one mark price"
                )
            marks[sym] = v
    return book, marks


def account_risk(
    book: Any,
    *,
    marks: Mapping[str, float] | float | None = None,
    move_frac: float | None = None,
    vol_annual: float | None = None,
    horizon_days: float = 1.0,
    drift_annual: float = 0.0,
) -> AccountRisk:
    """Risk of every position and margin pool of a :class:`~liqcascade.book.PositionBook`.

    ``marks`` maps symbol -> mark price (a single number applies to every symbol; missing
    symbols use the entry price). ``move_frac`` applies one relative move to every mark.
    """
    n = len(book)
    if n == 0:
        raise InputError(f"{getattr(book, 'source', 'book')}: no positions")
    horizon_days = _positive("horizon_days", horizon_days)
    vol = None if vol_annual is None else _positive("vol_annual", vol_annual)
    move = None if move_frac is None else _finite("move_frac", move_frac)
    if move is not None and move <= -1.0:
        raise InputError(f"move_frac={move_frac!r}: a price cannot fall by 100% or more")
    venues = np.asarray(book.venues, dtype=object)[book.venue_code]
    symbols = np.asarray(book.symbols, dtype=object)[book.symbol_code]
    mark = _marks(book, symbols, marks)
    new_mark = mark * (1.0 + move) if move is not None else None
    mm, mm_new = _maintenance(book, venues, symbols, mark, new_mark)
    side = book.side.astype(np.float64)
    upnl = side * book.size_base * (mark - book.entry_price)
    liq = book.liquidation_price
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.where(np.isfinite(liq), side * (mark - liq) / mark, 1.0)
    pos = {
        "account_id": book.account_ids(),
        "venue": venues.astype(str),
        "symbol": symbols.astype(str),
        "side": book.side,
        "margin_mode": np.where(book.margin_mode == 1, "cross", "isolated"),
        "size_base": book.size_base,
        "entry_price": book.entry_price,
        "mark_price": mark,
        "notional_quote": book.size_base * mark,
        "unrealised_pnl_quote": upnl,
        "maintenance_margin_quote": mm,
        "liquidation_price": liq,
        "distance_frac": dist,
    }
    if vol is not None:
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.log(liq / mark)
        dsig, prob = gbm_touch(np.where(np.isfinite(c), c, -1.0), vol, horizon_days, drift_annual)
        finite = np.isfinite(liq)
        # no liquidation price (or one at or below 0): infinitely many sigmas away
        pos["distance_sigma"] = np.where(dist <= 0, 0.0, np.where(np.isfinite(c), dsig, np.inf))
        pos["liquidation_probability_gbm"] = np.where(~finite, 0.0, np.where(dist <= 0, 1.0, prob))
    if new_mark is not None:
        upnl_new = side * book.size_base * (new_mark - book.entry_price)
        pos["new_mark_price"] = new_mark
        pos["pnl_change_quote"] = upnl_new - upnl
        pos["new_maintenance_margin_quote"] = mm_new
    frame, acc = _pools(book, pl.DataFrame(pos), moved=move is not None)
    return AccountRisk(
        positions=frame,
        accounts=acc,
        move_frac=move,
        vol_annual=vol,
        horizon_days=horizon_days,
    )


def _marks(book: Any, symbols: np.ndarray, marks: Mapping[str, float] | float | None) -> np.ndarray:
    """Mark price of every position: one number for all, a symbol's mark, else its entry."""
    mark = np.array(book.entry_price, dtype=float)
    if isinstance(marks, (int, float)):
        mark[:] = _positive("mark_price", marks)
    elif marks:
        for sym, value in marks.items():
            hit = symbols == sym
            if hit.any():
                mark[hit] = _positive(f"mark of {sym}", value)
    return mark


def _maintenance(
    book: Any,
    venues: np.ndarray,
    symbols: np.ndarray,
    mark: np.ndarray,
    new_mark: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Maintenance margin (quote, with the venue's taker-fee term) at the marks and after the
    move (NaN without one), from each position's venue rules."""
    from liqcascade.venues import load_venue

    margin = _margin_module()
    n = len(book)
    mm = np.empty(n)
    mm_new = np.full(n, np.nan)
    keys = np.char.add(np.char.add(venues.astype(str), "\x1f"), symbols.astype(str))
    uniq, inverse = np.unique(keys, return_inverse=True)
    q = np.asarray(book.size_base, dtype=float)
    for k, key in enumerate(uniq):
        rows = np.flatnonzero(inverse == k)
        venue, symbol = str(key).split("\x1f", 1)
        r = load_venue(venue, symbol)
        fee = float(r.mm_fee_rate)
        notional = q[rows] * mark[rows]
        mm[rows] = np.asarray(margin.maintenance_margin(r, notional), dtype=float) + fee * notional
        if new_mark is not None:
            moved = q[rows] * new_mark[rows]
            mm_new[rows] = (
                np.asarray(margin.maintenance_margin(r, moved), dtype=float) + fee * moved
            )
    return mm, mm_new


def _pools(book: Any, frame: pl.DataFrame, *, moved: bool) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The positions with their margin pool (a cross account, or one isolated position), and
    one row per pool: equity, margin ratio and, after a move, whether it is liquidated."""
    n = len(book)
    is_cross = book.margin_mode == 1
    pool = np.where(
        is_cross, book.account_ids().cast(pl.Utf8).to_numpy(), "iso-" + np.arange(n).astype(str)
    )
    collateral = np.where(
        is_cross,
        np.array([book.account_collateral_quote.get(int(a), np.nan) for a in book.account_id]),
        book.margin_quote,
    )
    frame = frame.with_columns(
        pl.Series("pool", pool), pl.Series("pool_collateral_quote", collateral)
    )
    aggs = [
        pl.col("account_id").first(),
        pl.col("margin_mode").first(),
        pl.col("pool_collateral_quote").first().alias("collateral_quote"),
        pl.col("notional_quote").sum(),
        pl.col("unrealised_pnl_quote").sum(),
        pl.col("maintenance_margin_quote").sum(),
        pl.len().alias("n_positions"),
    ]
    if moved:
        aggs += [pl.col("pnl_change_quote").sum(), pl.col("new_maintenance_margin_quote").sum()]
    acc = frame.group_by("pool", maintain_order=True).agg(aggs)
    acc = acc.with_columns(
        (pl.col("collateral_quote") + pl.col("unrealised_pnl_quote")).alias("equity_quote")
    ).with_columns(
        _ratio("maintenance_margin_quote", "equity_quote").alias("margin_ratio"),
        (pl.col("notional_quote") / pl.col("equity_quote")).alias("effective_leverage"),
    )
    if not moved:
        return frame, acc
    acc = acc.with_columns(
        (pl.col("equity_quote") + pl.col("pnl_change_quote")).alias("new_equity_quote")
    ).with_columns(
        _ratio("new_maintenance_margin_quote", "new_equity_quote").alias("new_margin_ratio"),
        (pl.col("new_equity_quote") < pl.col("new_maintenance_margin_quote")).alias("liquidated"),
    )
    liq_pools = set(acc.filter(pl.col("liquidated"))["pool"].to_list())
    frame = frame.with_columns(pl.col("pool").is_in(list(liq_pools)).alias("liquidated"))
    return frame, acc


def _ratio(mm: str, equity: str) -> pl.Expr:
    """Margin ratio MM / equity; infinite when equity is gone."""
    return pl.when(pl.col(equity) > 0).then(pl.col(mm) / pl.col(equity)).otherwise(float("inf"))
