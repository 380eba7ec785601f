"""Maintenance tier tables as the dynamic kernels read them, from the venue rules in margin.

Every position points to one table (``table_of``); the kernels re-price a position after a
partial liquidation or a funding payment with :func:`liqcascade.margin.liquidation_price_one`
on that table, the one-position twin of :func:`liqcascade.margin.liquidation_price`. A book
loaded with its venue rules gets one table per venue; positions given with a fixed maintenance
rate (:meth:`PositionArrays.isolated`, or venues without rules) get one-tier tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from liqcascade.errors import InputError
from liqcascade.margin import FORMULA_TIERED, formula_code
from liqcascade.venues.base import VenueRules

__all__ = ["TierSet"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(slots=True, frozen=True)
class TierSet:
    """Tier tables stacked end to end: table ``j`` holds tiers ``start[j]:start[j + 1]``.

    ``floor_quote``/``mmr``/``cum_quote`` per tier (as :class:`liqcascade.venues.base.TierTable`);
    ``fee_rate`` per table (``rules.mm_fee_rate``: the OKX/Gate taker term, else 0) and
    ``formula`` per table (:func:`liqcascade.margin.formula_code`).
    """

    start: IntArray
    floor_quote: FloatArray
    mmr: FloatArray
    cum_quote: FloatArray
    fee_rate: FloatArray
    formula: npt.NDArray[np.int64]

    def __post_init__(self) -> None:
        nt = len(self.fee_rate)
        if len(self.start) != nt + 1 or len(self.formula) != nt:
            raise InputError("TierSet: start must have one entry more than fee_rate and formula")
        if np.any(np.diff(self.start) < 1) or self.start[0] != 0:
            raise InputError("TierSet: every table needs at least one tier (start increasing)")
        n = int(self.start[-1])
        for name in ("floor_quote", "mmr", "cum_quote"):
            if len(getattr(self, name)) != n:
                raise InputError(f"TierSet.{name}: length {len(getattr(self, name))}, expected {n}")

    def __len__(self) -> int:
        return len(self.fee_rate)

    def arrays(self) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray, IntArray]:
        """The tuple the kernels take: (start, floor, mmr, cum, fee, formula)."""
        return (self.start, self.floor_quote, self.mmr, self.cum_quote, self.fee_rate, self.formula)

    def tier_at(
        self, table_of: IntArray, notional_quote: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(mmr, cum) of the tier each notional sits in, in each position's table."""
        mmr = np.empty(len(table_of))
        cum = np.empty(len(table_of))
        for j in np.unique(table_of):
            sel = table_of == j
            a, b = int(self.start[j]), int(self.start[j + 1])
            k = np.searchsorted(self.floor_quote[a:b], notional_quote[sel], side="right") - 1
            k = a + np.clip(k, 0, b - a - 1)
            mmr[sel] = self.mmr[k]
            cum[sel] = self.cum_quote[k]
        return mmr, cum

    @classmethod
    def build(
        cls,
        floors: Sequence[FloatArray],
        mmrs: Sequence[FloatArray],
        cums: Sequence[FloatArray],
        fees: Sequence[float],
        formulas: Sequence[int],
    ) -> TierSet:
        sizes = [len(f) for f in floors]
        return cls(
            start=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            floor_quote=np.ascontiguousarray(np.concatenate(floors), np.float64),
            mmr=np.ascontiguousarray(np.concatenate(mmrs), np.float64),
            cum_quote=np.ascontiguousarray(np.concatenate(cums), np.float64),
            fee_rate=np.asarray(fees, np.float64),
            formula=np.asarray(formulas, np.int64),
        )

    @classmethod
    def from_rules(
        cls, rules: Sequence[VenueRules | None], mmr_fallback: Sequence[float]
    ) -> TierSet:
        """One table per entry: the rules' tier table, or one tier at ``mmr_fallback`` if None."""
        floors, mmrs, cums, fees, forms = [], [], [], [], []
        for r, fb in zip(rules, mmr_fallback, strict=True):
            if r is None:
                floors.append(np.zeros(1))
                mmrs.append(np.array([fb], np.float64))
                cums.append(np.zeros(1))
                fees.append(0.0)
                forms.append(FORMULA_TIERED)
                continue
            t = r.tiers
            floors.append(np.asarray(t.floor_quote, np.float64))
            mmrs.append(np.asarray(t.mmr, np.float64))
            cums.append(np.asarray(t.cum_quote, np.float64))
            fees.append(float(r.mm_fee_rate))
            forms.append(formula_code(r))
        return cls.build(floors, mmrs, cums, fees, forms)

    @classmethod
    def fixed(cls, mmr: FloatArray, cum_quote: FloatArray) -> tuple[TierSet, IntArray]:
        """One-tier tables, one per distinct (mmr, cum) pair, and each position's table."""
        pairs = np.stack([np.asarray(mmr, np.float64), np.asarray(cum_quote, np.float64)], axis=1)
        if len(pairs) == 0:
            pairs = np.zeros((1, 2))
        uniq, table_of = np.unique(pairs, axis=0, return_inverse=True)
        k = len(uniq)
        ts = cls(
            start=np.arange(k + 1, dtype=np.int64),
            floor_quote=np.zeros(k),
            mmr=np.ascontiguousarray(uniq[:, 0]),
            cum_quote=np.ascontiguousarray(uniq[:, 1]),
            fee_rate=np.zeros(k),
            formula=np.full(k, FORMULA_TIERED, np.int64),
        )
        return ts, np.ascontiguousarray(table_of.reshape(-1), np.int64)
