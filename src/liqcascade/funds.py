"""Where liquidation losses land: insurance funds, backstop vaults and the per-event ledger.

Sign convention (the same in every column, see docs/engine-dynamic.md): every amount is the value
*received* by the named party, in quote currency, measured at the event's reference price (the
price at which the position left the venue). Positive = that party gained, negative = it paid.
For every event

    trader_pnl + fee + insurance_fund_change + vault_pnl + adl_transfer + bad_debt = 0

where ``trader_pnl`` is the change of the liquidated trader's position value (returned collateral
plus remaining position equity, minus the equity before the event), ``fee`` the clearance /
liquidation fee, ``adl_transfer`` what the ADL counterparties received (negative: their haircut),
and ``bad_debt`` the loss nobody covered (<= 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from liqcascade.errors import InputError

__all__ = ["EVENT_KINDS", "LOSS_FIELDS", "BackstopVault", "InsuranceFund", "Ledger"]

#: event kind codes used in the ledger
EVENT_KINDS: dict[int, str] = {
    0: "liquidation",  # full close into the book (Binance-style at bankruptcy, HL market order)
    1: "partial_liquidation",  # part of the position into the book, rest stays open
    2: "vault_takeover",  # backstop liquidator vault takes the position and its margin
    3: "adl_loser",  # bankrupt position closed against ADL counterparties
    4: "adl_winner",  # profitable opposite position closed by ADL
    5: "funding",  # funding payment (not part of the loss identity; see Ledger.funding)
}

#: the terms of the loss identity above (quote, value received); they sum to 0 for every event
LOSS_FIELDS: tuple[str, ...] = (
    "trader_pnl",
    "fee",
    "insurance_fund_change",
    "vault_pnl",
    "adl_transfer",
    "bad_debt",
)

LEDGER_FIELDS: tuple[str, ...] = (
    "step",
    "venue_code",
    "kind",
    "position",
    "side",
    "qty_base",
    "ref_price",
    "exec_price",
    "liq_price",
    *LOSS_FIELDS,
    "returned_quote",
    "adl_needed",
    "adl_haircut",
)


@dataclass
class InsuranceFund:
    """A venue's insurance fund (quote units). It pays deficits down to ``floor_quote``."""

    balance_quote: float
    floor_quote: float = 0.0
    initial_quote: float = field(init=False)

    def __post_init__(self) -> None:
        if not math.isfinite(self.balance_quote) and self.balance_quote != math.inf:
            raise InputError("insurance fund: balance_quote must be a number or inf")
        self.initial_quote = self.balance_quote

    def can_cover(self, loss_quote: float) -> bool:
        """True if the fund can pay ``loss_quote`` (>= 0) without going below its floor."""
        return self.balance_quote - loss_quote >= self.floor_quote

    @property
    def change_quote(self) -> float:
        return 0.0 if math.isinf(self.initial_quote) else self.balance_quote - self.initial_quote


@dataclass
class BackstopVault:
    """A backstop liquidator vault (Hyperliquid's HLP liquidator): takes over positions below
    2/3 of maintenance margin and keeps their remaining margin; absorbs losses up to its capital.
    ``mode`` = "hold" keeps taken-over positions (marked to market at the end of the run),
    "unwind" sends them straight into the book."""

    capital_quote: float
    mode: str = "hold"
    pnl_quote: float = 0.0
    held_qty_base: float = 0.0  # signed
    held_cost_quote: float = 0.0  # signed quote paid for the held inventory at takeover prices

    def __post_init__(self) -> None:
        if self.mode not in ("hold", "unwind"):
            raise InputError(f"vault mode must be 'hold' or 'unwind', got {self.mode!r}")
        if self.capital_quote < 0:
            raise InputError("vault capital_quote must be >= 0")

    def mark_to_market(self, price: float) -> float:
        """PnL of the held inventory at ``price`` relative to its takeover prices."""
        return self.held_qty_base * price - self.held_cost_quote


class Ledger:
    """Append-only per-event ledger (columnar chunks concatenated at the end)."""

    def __init__(self) -> None:
        self._chunks: list[dict[str, np.ndarray]] = []

    def append(self, chunk: dict[str, np.ndarray]) -> None:
        n = len(chunk["position"])
        if n:
            self._chunks.append(chunk)

    def columns(self) -> dict[str, np.ndarray]:
        if not self._chunks:
            return {f: np.zeros(0) for f in LEDGER_FIELDS}
        return {f: np.concatenate([c[f] for c in self._chunks]) for f in LEDGER_FIELDS}

    def to_polars(
        self, account_id: np.ndarray, venues: tuple[str, ...], dt_s: float
    ) -> pl.DataFrame:
        c = self.columns()
        pos = c["position"].astype(np.int64)
        return pl.DataFrame(
            {
                "step": c["step"].astype(np.int64),
                "time_s": c["step"].astype(np.float64) * dt_s,
                "venue": np.array(venues, dtype=object)[c["venue_code"].astype(np.int64)],
                "kind": np.array([EVENT_KINDS[k] for k in range(len(EVENT_KINDS))], dtype=object)[
                    c["kind"].astype(np.int64)
                ],
                "position": pos,
                "account_id": account_id[pos] if len(pos) else np.zeros(0, np.int64),
                "side": c["side"].astype(np.int8),
                "qty_base": c["qty_base"],
                "ref_price": c["ref_price"],
                "exec_price": c["exec_price"],
                "liq_price": c["liq_price"],
                "trader_pnl": c["trader_pnl"],
                "fee": c["fee"],
                "insurance_fund_change": c["insurance_fund_change"],
                "vault_pnl": c["vault_pnl"],
                "adl_transfer": c["adl_transfer"],
                "bad_debt": c["bad_debt"],
                "returned_quote": c["returned_quote"],
                "adl_needed": c["adl_needed"],
                "adl_haircut": c["adl_haircut"],
            },
            schema_overrides={"venue": pl.Utf8, "kind": pl.Utf8},
        )


def empty_chunk(n: int) -> dict[str, np.ndarray]:
    """Preallocated ledger chunk of ``n`` rows."""
    out: dict[str, np.ndarray] = {}
    for f in LEDGER_FIELDS:
        if f in ("step", "venue_code", "kind", "position", "side"):
            out[f] = np.zeros(n, np.int64)
        else:
            out[f] = np.zeros(n, np.float64)
    return out
