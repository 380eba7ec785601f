"""Building a :class:`PositionBook` from a frame with the columns of :mod:`liqcascade.book`.

The steps run in a fixed order, so the first bad value of a file is always the one reported:
column names (aliases, required columns), venue and symbol codes, side, size and entry, account
ids, margin mode, isolated margin and leverage, cross collateral, marks, segment, given prices,
then the liquidation and bankruptcy prices left empty, from each venue's rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import polars as pl

from liqcascade.book.accounts import (
    _accounts,
    _collateral_per_row,
    _cross_collateral,
    _TextAccounts,
)
from liqcascade.book.columns import (
    _ALIASES,
    _SIDE_WORDS,
    CROSS,
    ISOLATED,
    SEGMENTS,
    RulesArg,
    _check_positive,
    _encode,
    _fail_row,
    _first,
    _first_code,
    _lookup,
    _names_codes,
    _num_col,
    _optional_num_col,
)
from liqcascade.book.positions import PositionBook
from liqcascade.errors import InputError, RuleError


def _build(
    df: pl.DataFrame,
    *,
    venue: str | None,
    symbol: str | None,
    source: str,
    rules: RulesArg = None,
) -> PositionBook:
    """The book of ``df``, every field checked in the order of the module docstring."""
    df = _canonical_columns(df, venue, symbol, source)
    n = df.height
    venue_code, venues = _venue_codes(df, source)
    symbol_code, symbols = _names_codes(*_encode(df, "symbol"), "symbol", source)
    side = _lookup(
        df, "side", _SIDE_WORDS, None, source, "side must be long/short (or buy/sell, +1/-1)"
    )
    size = _num_col(df, "size_base", source, required=True)
    _check_positive(size, "size_base", source, given_only=False)
    entry = _num_col(df, "entry_price", source, required=True)
    _check_positive(entry, "entry_price", source, given_only=False)

    if "account_id" in df.columns:
        account, account_names = _accounts(df, source)
    else:
        account, account_names = np.arange(n, dtype=np.int64), ()
    mode = _margin_modes(df, source)
    iso = mode == ISOLATED
    cross = ~iso
    if isinstance(account, _TextAccounts) and cross.any():  # cross margin groups by account now
        account, account_names = account.encode()
    # account codes of cross rows (text ids still pending only when there are none)
    cross_acc = account if isinstance(account, np.ndarray) else np.zeros(n, dtype=np.int64)

    notional = size * entry
    margin_q, lev = _isolated_margin(df, notional, iso, source)
    coll_col = _optional_num_col(df, "account_collateral_quote", source)
    collateral = _cross_collateral(cross_acc, coll_col, cross, source, account_names)
    mark = _optional_num_col(df, "mark_price", source)
    _check_positive(mark, "mark_price", source, given_only=True)
    mark = np.where(np.isnan(mark), entry, mark)
    segment = _segments(df, source)
    liq, bkr = _given_prices(df, source)

    markets = (venue_code, symbol_code, venues, symbols)
    eff_margin = margin_q.copy()
    if cross.any():
        eff_margin[cross] = _cross_effective_margin(
            cross_acc, *markets, side, size, entry, mark, cross, collateral, source, rules
        )[cross]
    _venue_prices(markets, rules, side, size, entry, eff_margin, notional, lev, liq, bkr, source)
    return PositionBook(
        account_id=account,  # type: ignore[arg-type]  # text ids: encoded on first use
        venue_code=venue_code,
        symbol_code=symbol_code,
        venues=venues,
        symbols=symbols,
        side=side,
        size_base=size,
        entry_price=entry,
        margin_mode=mode,
        margin_quote=margin_q,
        leverage=lev,
        liquidation_price=liq,
        bankruptcy_price=bkr,
        segment=segment,
        account_collateral_quote=collateral,
        source=source,
        account_names=account_names,
    )


def _canonical_columns(
    df: pl.DataFrame, venue: str | None, symbol: str | None, source: str
) -> pl.DataFrame:
    """Column names stripped, lower-cased and un-aliased; the required columns present; venue
    and symbol filled from the arguments when absent."""
    rename = {}
    for c in df.columns:
        key = c.strip().lower()
        key = _ALIASES.get(key, key)
        rename[c] = key
    df = df.rename(rename)
    cols = set(df.columns)
    for req in ("side", "size_base", "entry_price"):
        if req not in cols:
            raise InputError(
                f"{source}: missing column {req!r}; found {sorted(cols)}; required: side, size_base, entry_price "
                "(see liqcascade.book for all columns)"
            )
    for name, given in (("venue", venue), ("symbol", symbol)):
        if name not in cols:
            if given is None:
                raise InputError(f"{source}: missing column {name!r} (or pass {name}=...)")
            df = df.with_columns(pl.lit(given).alias(name))
    return df


def _venue_codes(df: pl.DataFrame, source: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Per-row codes into the canonical venue names (each distinct spelling normalised once)."""
    from liqcascade.venues import normalize_venue

    vcodes, vclean = _encode(df, "venue")
    canon: list[str] = []
    for k, key in enumerate(vclean):
        try:
            canon.append(normalize_venue(key) if key else "")
        except InputError as exc:
            _fail_row(source, int(_first_code(vcodes, [k]) or 0), f"venue: {exc}")
    return _names_codes(vcodes, canon, "venue", source)


def _margin_modes(df: pl.DataFrame, source: str) -> np.ndarray:
    """Margin mode per row (ISOLATED or CROSS, int8); isolated when the column is absent."""
    if "margin_mode" not in df.columns:
        return np.zeros(df.height, dtype=np.int8)
    return _lookup(
        df,
        "margin_mode",
        {"isolated": ISOLATED, "cross": CROSS},
        ISOLATED,
        source,
        "margin_mode must be isolated or cross",
    )


def _isolated_margin(
    df: pl.DataFrame, notional: np.ndarray, iso: np.ndarray, source: str
) -> tuple[np.ndarray, np.ndarray]:
    """``margin_quote`` and ``leverage`` per row: each isolated row needs one of them and gets
    the other from the entry notional; cross rows keep their leverage and have no margin (NaN)."""
    margin_q = _optional_num_col(df, "margin_quote", source)
    lev = _optional_num_col(df, "leverage", source)
    _check_positive(lev, "leverage", source, given_only=True)
    i = _first(iso & ~np.isnan(margin_q) & ~((margin_q >= 0) & np.isfinite(margin_q)))
    if i is not None:
        _fail_row(source, i, f"margin_quote must be >= 0 and finite, got {margin_q[i]:g}")
    i = _first(iso & np.isnan(margin_q) & np.isnan(lev))
    if i is not None:
        _fail_row(source, i, "isolated position needs margin_quote or leverage (both empty)")
    fill = iso & np.isnan(margin_q)
    margin_q[fill] = notional[fill] / lev[fill]
    fill = iso & np.isnan(lev) & (margin_q > 0)
    lev[fill] = notional[fill] / margin_q[fill]
    margin_q[~iso] = np.nan
    return margin_q, lev


def _segments(df: pl.DataFrame, source: str) -> np.ndarray:
    """Segment code per row (index into SEGMENTS, int8); retail when the column is absent."""
    if "segment" not in df.columns:
        return np.zeros(df.height, dtype=np.int8)
    words = {name: k for k, name in enumerate(SEGMENTS)} | {str(k): k for k in range(3)}
    return _lookup(
        df, "segment", words, 0, source, "segment must be retail, institutional or market_maker"
    )


def _given_prices(df: pl.DataFrame, source: str) -> tuple[np.ndarray, np.ndarray]:
    """The liquidation and bankruptcy prices given in the frame (NaN where empty, to compute)."""
    liq = _optional_num_col(df, "liquidation_price", source)
    bkr = _optional_num_col(df, "bankruptcy_price", source)
    for name, prices in (("liquidation_price", liq), ("bankruptcy_price", bkr)):
        i = _first(~np.isnan(prices) & ~(prices > 0))
        if i is not None:
            _fail_row(source, i, f"{name} must be > 0 (or empty), got {prices[i]:g}")
    return liq, bkr


#: Per-row venue and symbol codes and the names they index: (venue_code, symbol_code, venues, symbols).
_Markets = tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]


def _market_groups(
    venue_code: np.ndarray, symbol_code: np.ndarray, rows: np.ndarray | None = None
) -> Iterator[tuple[int, int, np.ndarray]]:
    """(venue code, symbol code, row indexes) of each (venue, symbol) among ``rows`` (a boolean
    mask; default every row), in code order."""
    for vc in np.unique(venue_code if rows is None else venue_code[rows]):
        at = venue_code == vc if rows is None else rows & (venue_code == vc)
        for sc in np.unique(symbol_code[at]):
            yield int(vc), int(sc), np.flatnonzero(at & (symbol_code == sc))


def _rules_for(rules: RulesArg, venue: str, symbol: str) -> Any:
    """The rules of (venue, symbol): the override when given, else the shipped table."""
    from liqcascade.venues import VenueRules, load_venue

    if isinstance(rules, VenueRules):
        return rules
    if rules is not None and (venue, symbol) in rules:
        return rules[(venue, symbol)]
    return load_venue(venue, symbol)


def _venue_prices(
    markets: _Markets,
    rules: RulesArg,
    side: np.ndarray,
    size: np.ndarray,
    entry: np.ndarray,
    eff_margin: np.ndarray,
    notional: np.ndarray,
    lev: np.ndarray,
    liq: np.ndarray,
    bkr: np.ndarray,
    source: str,
) -> None:
    """Fill the empty (NaN) ``liq`` and ``bkr`` prices in place from each (venue, symbol)'s
    rules, after checking leverage against the venue's caps. A pair with no rules is an error
    unless every one of its prices is given."""
    from liqcascade import margin

    venue_code, symbol_code, venues, symbols = markets
    given_liq, given_bkr = ~np.isnan(liq), ~np.isnan(bkr)
    for vc, sc, grp in _market_groups(venue_code, symbol_code):
        try:
            vrules = _rules_for(rules, venues[vc], symbols[sc])
        except (InputError, RuleError) as exc:
            if given_liq[grp].all() and given_bkr[grp].all():
                continue
            _fail_row(
                source,
                int(grp[0]),
                f"venue/symbol {venues[vc]}/{symbols[sc]}: {exc}",
                RuleError,
            )
        _check_leverage(vrules, grp, notional, lev, source)
        todo = grp[~given_liq[grp]]
        if len(todo):
            liq[todo] = margin.liquidation_price(
                vrules, side[todo], size[todo], entry[todo], eff_margin[todo]
            )
        todo = grp[~given_bkr[grp]]
        if len(todo):
            bkr[todo] = margin.bankruptcy_price(
                vrules, side[todo], size[todo], entry[todo], eff_margin[todo]
            )


def _check_leverage(
    rules: Any, grp: np.ndarray, notional: np.ndarray, lev: np.ndarray, source: str
) -> None:
    """Leverage must not exceed the venue's cap for the tier of the entry notional."""
    have = grp[~np.isnan(lev[grp])]
    if not len(have):
        return
    tier = np.asarray(rules.tiers.index(notional[have]))
    cap = np.asarray(rules.tiers.max_leverage)[tier]
    over = lev[have] > cap * (1 + 1e-12)
    i = _first(over)
    if i is not None:
        row = int(have[i])
        _fail_row(
            source,
            row,
            f"leverage {lev[row]:g} exceeds {rules.venue} {rules.symbol}'s cap of {cap[i]:g}x for an entry "
            f"notional of {notional[row]:,.2f} (tier {int(tier[i]) + 1})",
            RuleError,
        )


def _cross_effective_margin(
    account: np.ndarray,
    venue_code: np.ndarray,
    symbol_code: np.ndarray,
    venues: tuple[str, ...],
    symbols: tuple[str, ...],
    side: np.ndarray,
    size: np.ndarray,
    entry: np.ndarray,
    mark: np.ndarray,
    cross: np.ndarray,
    collateral: dict[int, float],
    source: str = "<book>",
    rules: RulesArg = None,
) -> np.ndarray:
    """``WB - TMM1 + UPNL1`` per cross position (Binance FAQ, venues.md §1.3).

    TMM1 and UPNL1 are the maintenance margin and unrealised PnL of the account's *other* cross
    positions at their mark prices, so the position's liquidation price is solved with every
    other position held fixed.
    """
    from liqcascade import margin

    n = len(size)
    mm = np.zeros(n)
    for vc, sc, grp in _market_groups(venue_code, symbol_code, cross):
        try:
            vrules = _rules_for(rules, venues[vc], symbols[sc])
        except (InputError, RuleError) as exc:
            _fail_row(
                source,
                int(grp[0]),
                f"cross margin needs the rules of {venues[vc]}/{symbols[sc]}: {exc}",
                RuleError,
            )
        mm[grp] = margin.maintenance_margin(vrules, size[grp] * mark[grp])
    upnl = side * size * (mark - entry)
    acc = account[cross]
    uniq, inv = np.unique(acc, return_inverse=True)
    tot_mm = np.bincount(inv, weights=mm[cross], minlength=len(uniq))
    tot_upnl = np.bincount(inv, weights=upnl[cross], minlength=len(uniq))
    wb = _collateral_per_row(collateral, uniq)
    out = np.full(n, np.nan)
    ci = np.flatnonzero(cross)
    out[ci] = wb[inv] - (tot_mm[inv] - mm[ci]) + (tot_upnl[inv] - upnl[ci])
    return out
