"""The dynamic engine's working copy of one asset's positions (struct of arrays)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from liqcascade.engine.dyn_config import DynamicConfig
from liqcascade.engine.dyn_tiers import TierSet
from liqcascade.errors import InputError
from liqcascade.log import logger
from liqcascade.margin import PositionsAtRate, liquidation_price_at_rate
from liqcascade.venues.base import VenueRules

__all__ = ["PositionArrays"]


@dataclass
class PositionArrays:
    """The engine's working copy of one asset's positions (struct of arrays, mutated by a run).

    ``margin_quote`` is the position's effective margin (isolated margin, or for cross positions
    the margin implied by the book's bankruptcy price: ``side*size*(entry - bankruptcy)``);
    ``mmr``/``cum_quote`` the maintenance tier at the notional valued at the liquidation price.
    """

    account_id: np.ndarray
    venue_code: np.ndarray
    venues: tuple[str, ...]
    side: np.ndarray
    size_base: np.ndarray
    entry_price: np.ndarray
    margin_quote: np.ndarray
    mmr: np.ndarray
    cum_quote: np.ndarray
    liquidation_price: np.ndarray
    bankruptcy_price: np.ndarray
    symbols: tuple[str, ...] | None = None  # symbol of each venue (for its rules), if known
    account_names: tuple[str, ...] = ()  # the book's text account ids (account_id indexes them)
    #: maintenance tier tables and each position's table (None: one tier at ``mmr``/``cum_quote``)
    tiers: TierSet | None = None
    tier_table: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.side)
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, np.ndarray) and len(v) != n:
                raise InputError(f"PositionArrays.{f.name}: length {len(v)}, expected {n}")
        self.account_id = np.ascontiguousarray(self.account_id, np.int64)
        self.venue_code = np.ascontiguousarray(self.venue_code, np.int64)
        self.side = np.ascontiguousarray(self.side, np.int8)
        for name in (
            "size_base",
            "entry_price",
            "margin_quote",
            "mmr",
            "cum_quote",
            "liquidation_price",
            "bankruptcy_price",
        ):
            setattr(self, name, np.array(getattr(self, name), dtype=np.float64, copy=True))
        if np.any(~np.isin(self.side, (-1, 1))):
            raise InputError("PositionArrays.side: expected +1 (long) or -1 (short)")
        if np.any(~(self.size_base > 0)):
            raise InputError("PositionArrays.size_base: expected > 0")
        if np.any(~(self.entry_price > 0)):
            raise InputError("PositionArrays.entry_price: expected > 0")
        if len(self.venue_code) and (
            self.venue_code.min() < 0 or self.venue_code.max() >= len(self.venues)
        ):
            raise InputError("PositionArrays.venue_code: expected codes into venues")
        if (self.tiers is None) != (self.tier_table is None):
            raise InputError("PositionArrays: give tiers and tier_table together (or neither)")
        if self.tiers is not None and self.tier_table is not None:
            self.tier_table = np.ascontiguousarray(self.tier_table, np.int64)
            if len(self.tier_table) and (
                self.tier_table.min() < 0 or self.tier_table.max() >= len(self.tiers)
            ):
                raise InputError("PositionArrays.tier_table: expected indices into tiers")

    def __len__(self) -> int:
        return len(self.side)

    @classmethod
    def isolated(
        cls,
        positions: PositionsAtRate,
        *,
        venue_code: Any = 0,
        venues: Sequence[str] = ("generic",),
        account_id: Any = None,
    ) -> PositionArrays:
        """Isolated positions with a fixed maintenance tier; liquidation prices from
        ``margin + side*size*(P - entry) = size*P*mmr - cum``
        (:func:`liqcascade.margin.liquidation_price_at_rate`), bankruptcy prices
        ``entry - side*margin/size`` (:meth:`liqcascade.margin.PositionsAtRate.bankruptcy_price`).
        """
        side = np.asarray(positions.side, np.int8)
        n = len(side)
        # margin's inputs broadcast to one value per position: this struct's columns of the same name
        at_rate = PositionsAtRate(
            side=side,
            **{
                f.name: np.broadcast_to(
                    np.asarray(getattr(positions, f.name), np.float64), (n,)
                ).copy()
                for f in fields(PositionsAtRate)
                if f.name != "side"
            },
        )
        acc = np.arange(n) if account_id is None else np.asarray(account_id)
        return cls(
            account_id=acc,
            venue_code=np.broadcast_to(np.asarray(venue_code, np.int64), (n,)).copy(),
            venues=tuple(venues),
            liquidation_price=liquidation_price_at_rate(at_rate),
            bankruptcy_price=at_rate.bankruptcy_price(),
            **{f.name: getattr(at_rate, f.name) for f in fields(PositionsAtRate)},
        )

    @classmethod
    def from_book(
        cls,
        book: Any,
        *,
        venue: str | None = None,
        symbol: str | None = None,
        config: DynamicConfig | None = None,
    ) -> PositionArrays:
        """From a :class:`liqcascade.book.PositionBook` (one asset; all its venues, or ``venue``).

        Each venue's tier table comes from its rules (:func:`liqcascade.venues.load_venue`);
        without rules, one tier at the venue process's ``mmr_fallback``.
        """
        cfg = config or DynamicConfig()
        venues_all = tuple(book.venues)
        symbols_all = tuple(book.symbols)
        mask = _select(book, venue, symbol)
        vc_all = np.asarray(book.venue_code)[mask]
        sc_all = np.asarray(book.symbol_code)[mask]
        _check_one_asset(vc_all, sc_all, venues_all, symbols_all)
        used = np.unique(vc_all)
        remap = np.full(len(venues_all), -1, np.int64)
        remap[used] = np.arange(len(used))
        side = np.asarray(book.side)[mask].astype(np.int8)
        size = np.asarray(book.size_base, np.float64)[mask]
        entry = np.asarray(book.entry_price, np.float64)[mask]
        liq = np.asarray(book.liquidation_price, np.float64)[mask]
        bank = np.asarray(book.bankruptcy_price, np.float64)[mask]
        iso_m = np.asarray(book.margin_quote, np.float64)[mask]
        s = side.astype(np.float64)
        marg = np.where(np.isfinite(bank), s * size * (entry - bank), iso_m)
        # no positive bankruptcy price (e.g. a 1x long): fully collateralised
        marg = np.where(np.isfinite(marg), marg, size * entry)
        bank = np.where(np.isfinite(bank), bank, entry - s * marg / size)
        syms = tuple(symbols_all[int(sc_all[vc_all == v][0])] for v in used)
        procs = [cfg.process_for(venues_all[v]) for v in used]
        rules = [
            _load_rules(venues_all[v], sym, p.mmr_fallback)
            for v, sym, p in zip(used, syms, procs, strict=True)
        ]
        tiers = TierSet.from_rules(rules, [p.mmr_fallback for p in procs])
        table_of = remap[vc_all]
        # the tier each position's notional sits in at its trigger (at entry if it has none)
        at = np.where(np.isfinite(liq), liq, entry) * size
        mmr, cum = tiers.tier_at(table_of, at)
        return cls(
            account_id=np.asarray(book.account_id)[mask],
            venue_code=table_of,
            venues=tuple(venues_all[v] for v in used),
            side=side,
            size_base=size,
            entry_price=entry,
            margin_quote=marg,
            mmr=mmr,
            cum_quote=cum,
            liquidation_price=liq,
            bankruptcy_price=bank,
            symbols=syms,
            tiers=tiers,
            tier_table=table_of,
            account_names=tuple(getattr(book, "account_names", ())),
        )


def _select(book: Any, venue: str | None, symbol: str | None) -> np.ndarray:
    """Mask of the book's rows of ``venue`` and ``symbol`` (all when None)."""
    venues_all = tuple(book.venues)
    symbols_all = tuple(book.symbols)
    mask = np.ones(len(book), bool)
    if venue is not None:
        from liqcascade.venues import normalize_venue

        v = normalize_venue(venue)
        if v not in venues_all:
            raise InputError(
                f"venue {venue!r} is not in the book (book venues: {', '.join(venues_all)})"
            )
        mask &= book.venue_code == venues_all.index(v)
    if symbol is not None:
        from liqcascade.book import _squash

        want = _squash(symbol)
        codes = [i for i, s in enumerate(symbols_all) if _squash(s) == want or s == symbol]
        if not codes:
            raise InputError(
                f"symbol {symbol!r} is not in the book (book symbols: {', '.join(symbols_all)})"
            )
        mask &= np.isin(book.symbol_code, codes)
    return mask


def _check_one_asset(
    vc: np.ndarray, sc: np.ndarray, venues: tuple[str, ...], symbols: tuple[str, ...]
) -> None:
    for v in np.unique(vc):
        syms = np.unique(sc[vc == v])
        if len(syms) > 1:
            raise InputError(
                f"the dynamic engine simulates one asset: venue {venues[v]} holds symbols "
                f"{', '.join(symbols[s] for s in syms)}; pass symbol=..."
            )


def _load_rules(venue: str, symbol: str, mmr_fallback: float) -> VenueRules | None:
    """The venue's rules for ``symbol``, or None (logged) when it has none."""
    from liqcascade.venues import load_venue

    try:
        return load_venue(venue, symbol)
    except Exception as exc:  # noqa: BLE001 - rules missing: documented fallback
        logger.warning(
            "dynamic: no tier table for %s/%s (%s); mmr=%g", venue, symbol, exc, mmr_fallback
        )
        return None
