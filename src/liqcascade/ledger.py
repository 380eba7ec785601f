"""The loss ledger: where the loss of a liquidation lands, defined once for every engine.

When a liquidated position's equity at its fill is negative, the shortfall (its *deficit*) is
covered in this order (the waterfall, :func:`waterfall`):

1. the venue's insurance fund, down to its floor;
2. a backstop vault (Hyperliquid's HLP liquidator) where the venue has one;
3. ADL counterparties (profitable opposite positions closed against the bankrupt one,
   :mod:`liqcascade.adl`);
4. what is left is **bad debt**: the loss nobody covered.

:class:`LossLedger` holds one non-negative amount per party, in quote currency (each field
says which party and what it means).

``deficit_quote`` = insurance fund + vault + ADL counterparty + bad debt: the loss beyond the
traders' collateral. Amounts are never negative; amounts smaller than :data:`AMOUNT_TOL_QUOTE`
are rounding noise and are reported as 0 (:func:`snap_amount`).

The dynamic engine records each event with signed columns (value *received* by each party,
:mod:`liqcascade.funds`); :meth:`LossLedger.from_events` turns them into these amounts. The
stress kernel (:mod:`liqcascade.scenarios.cascade`) calls the scalar primitives
:func:`position_equity_quote`, :func:`clearance_fee_quote` and :func:`waterfall` (compiled
there with numba; these plain functions are the twins its plain-Python run uses).

Money is printed through :func:`liqcascade.fmt.money`, which shows amounts below
:data:`AMOUNT_TOL_QUOTE` as ``0``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from liqcascade.errors import LiqcascadeError

__all__ = [
    "AMOUNT_TOL_QUOTE",
    "LedgerError",
    "LossLedger",
    "clearance_fee_quote",
    "position_equity_quote",
    "snap_amount",
    "snap_amounts",
    "waterfall",
]

#: Amounts below this (quote currency) are rounding noise: reported and printed as 0.
AMOUNT_TOL_QUOTE = 1e-6


class LedgerError(LiqcascadeError, ValueError):
    """A loss-ledger amount is negative (beyond rounding) or not a number."""


def snap_amount(x: float, tol: float = AMOUNT_TOL_QUOTE) -> float:
    """``x`` with rounding noise removed: 0.0 when ``|x| < tol`` (NaN stays NaN).

    >>> snap_amount(5.4e-10), snap_amount(-3e-9), snap_amount(12.5)
    (0.0, 0.0, 12.5)
    """
    x = float(x)
    return 0.0 if abs(x) < tol else x


def snap_amounts(x: np.ndarray, tol: float = AMOUNT_TOL_QUOTE) -> np.ndarray:
    """Vectorised :func:`snap_amount` (a new float64 array)."""
    a = np.array(x, dtype=np.float64)
    a[np.abs(a) < tol] = 0.0
    return a


# --------------------------------------------------------------------------------------------
# scalar primitives (plain twins; numba versions below)
# --------------------------------------------------------------------------------------------
def position_equity_quote(
    side: float, size_base: float, price: float, bankruptcy_price: float
) -> float:
    """Equity of a position closed at ``price``: ``side x size x (price - bankruptcy price)``
    (negative = a deficit). ``side`` is +1 (long) or -1 (short).

    >>> position_equity_quote(1.0, 2.0, 95.0, 96.0)
    -2.0
    """
    return side * size_base * (price - bankruptcy_price)


def clearance_fee_quote(
    fee_rate: float, size_base: float, price: float, equity_quote: float
) -> float:
    """Clearance fee of a liquidation: ``fee_rate x size x price``, never more than the
    position's remaining equity (a bankrupt position pays none).

    >>> clearance_fee_quote(0.01, 1.0, 100.0, 0.4)
    0.4
    """
    if equity_quote <= 0.0:
        return 0.0
    fee = fee_rate * size_base * price
    return fee if fee < equity_quote else equity_quote


def waterfall(
    deficit_quote: float, fund_quote: float, vault_quote: float, adl_quote: float
) -> tuple[float, float, float, float]:
    """Split a deficit (>= 0) over the insurance fund (available ``fund_quote``), a backstop
    vault (``vault_quote``) and ADL counterparties (``adl_quote``, ``inf`` = as much as
    needed), in that order; returns ``(fund, vault, adl, bad_debt)``, all >= 0, summing to the
    deficit.

    >>> waterfall(10.0, 4.0, 0.0, 5.0)
    (4.0, 0.0, 5.0, 1.0)
    """
    rest = deficit_quote if deficit_quote > 0.0 else 0.0
    f = fund_quote if fund_quote < rest else rest
    f = f if f > 0.0 else 0.0
    rest -= f
    w = vault_quote if vault_quote < rest else rest
    w = w if w > 0.0 else 0.0
    rest -= w
    a = adl_quote if adl_quote < rest else rest
    a = a if a > 0.0 else 0.0
    rest -= a
    return f, w, a, rest


# --------------------------------------------------------------------------------------------
# the ledger
# --------------------------------------------------------------------------------------------
_LOSS_KINDS = ("liquidation", "partial_liquidation", "vault_takeover", "adl_loser")


@dataclass(frozen=True, kw_only=True)
class LossLedger:
    """Where the losses of a run landed: one non-negative amount per party (quote currency).

    Construction snaps amounts within :data:`AMOUNT_TOL_QUOTE` of 0 to 0 and rejects any
    other negative or NaN amount (:class:`LedgerError`).

    >>> lg = LossLedger(insurance_fund_quote=4.0, adl_counterparty_quote=5.0, bad_debt_quote=1.0)
    >>> lg.deficit_quote
    10.0
    >>> LossLedger(bad_debt_quote=5.4e-10).bad_debt_quote
    0.0
    """

    trader_loss_quote: float = 0.0
    """Equity liquidated and deleveraged traders lost at the event's reference price
    (collateral not returned)."""
    fees_quote: float = 0.0
    """Clearance / liquidation fees charged (received by the venue)."""
    insurance_fund_quote: float = 0.0
    """Paid out by insurance funds."""
    vault_quote: float = 0.0
    """Lost by backstop vaults on positions they took over."""
    adl_counterparty_quote: float = 0.0
    """Taken from ADL counterparties (their haircut against the reference price) to cover
    bankrupt positions."""
    adl_counterparty_gain_quote: float = 0.0
    """Received by ADL counterparties: the equity left in positions that ADL closed at their
    bankruptcy price before they were bankrupt at the reference price."""
    bad_debt_quote: float = 0.0
    """The loss nobody covered."""

    def __post_init__(self) -> None:
        for f in fields(self):
            v = float(getattr(self, f.name))
            if math.isnan(v) or v <= -AMOUNT_TOL_QUOTE:
                raise LedgerError(f"loss ledger: {f.name} = {v!r}; expected an amount >= 0")
            object.__setattr__(self, f.name, snap_amount(v))

    @property
    def deficit_quote(self) -> float:
        """Loss beyond the traders' collateral: fund + vault + ADL counterparty + bad debt."""
        return snap_amount(
            self.insurance_fund_quote
            + self.vault_quote
            + self.adl_counterparty_quote
            + self.bad_debt_quote
        )

    def as_dict(self) -> dict[str, float]:
        """The amounts and ``deficit_quote``."""
        return {**asdict(self), "deficit_quote": self.deficit_quote}

    def __add__(self, other: LossLedger) -> LossLedger:
        return LossLedger(
            **{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)}
        )

    @classmethod
    def total(cls, ledgers: Iterable[LossLedger]) -> LossLedger:
        out = cls()
        for lg in ledgers:
            out = out + lg
        return out

    @classmethod
    def from_events(cls, events: Any) -> LossLedger:
        """From the per-event ledger of :func:`liqcascade.engine.dynamic.simulate`
        (``DynamicResult.ledger``, a polars frame with the :mod:`liqcascade.funds` columns).

        Per event: fund payouts are its negative ``insurance_fund_change``; vault losses its
        negative ``vault_pnl``; on an ``adl_loser`` row a negative ``adl_transfer`` is taken
        from the counterparties and a positive one is the loser's leftover equity they
        received; bad debt is ``-bad_debt``; trader loss the negative ``trader_pnl`` of
        liquidation and ADL rows.
        """
        if events.height == 0:
            return cls()
        kind = events["kind"].to_numpy()
        ifc = events["insurance_fund_change"].to_numpy()
        vault = events["vault_pnl"].to_numpy()
        adl = np.where(kind == "adl_loser", events["adl_transfer"].to_numpy(), 0.0)
        tp = np.where(np.isin(kind, _LOSS_KINDS), events["trader_pnl"].to_numpy(), 0.0)
        return cls(
            trader_loss_quote=float(np.maximum(-tp, 0.0).sum()),
            fees_quote=float(np.maximum(events["fee"].to_numpy(), 0.0).sum()),
            insurance_fund_quote=float(np.maximum(-ifc, 0.0).sum()),
            vault_quote=float(np.maximum(-vault, 0.0).sum()),
            adl_counterparty_quote=float(np.maximum(-adl, 0.0).sum()),
            adl_counterparty_gain_quote=float(np.maximum(adl, 0.0).sum()),
            bad_debt_quote=float(np.maximum(-events["bad_debt"].to_numpy(), 0.0).sum()),
        )
