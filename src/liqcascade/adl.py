"""Auto-deleveraging (ADL) and loss-allocation policies, pluggable.

A bankrupt position of side ``s_l`` and size ``Q`` that the insurance fund / vault will not take is
closed against *profitable* opposite positions ("winners"). A policy decides who takes how much and
at which price:

* ``queue`` with a ranking (``binance``, ``hyperliquid``, ``bitmex``): winners sorted by score, highest
  first, each closing ``min(remaining, size)`` at the loser's closing price ``X``
  (Binance: the bankruptcy price, FAQ 360033525471; Hyperliquid: the previous mark price,
  docs "auto-deleveraging");
* ``random_start``: dYdX v4 ``x/clob/keeper/deleveraging.go`` walks the offsetting subaccounts from a
  pseudo-random index (not ranked), closing at the bankruptcy price; the start index is drawn from
  the run's seeded ``numpy.random.Generator``;
* ``pro_rata``: every winner closes ``Q * size_j / sum(size)`` at ``X``;
* ``capped_pro_rata``: quantities pro-rata by size, the deficit split in proportion to each winner's
  profit on the closed part, each haircut capped at ``cap_fraction`` of that profit.

Invariant (property-tested): ADL never takes from a losing account. Winners must be in profit at
the reference price ``R`` and a winner's closing price is clamped at its entry price, so the closed
part never realises a loss; whatever the clamp leaves uncovered is bad debt.

Overshoot (Chitra 2025, arXiv 2512.01112): ``taken`` = sum over winners of ``s_w*q_j*(R - x_j)``
(what ADL removed from winners relative to closing at the reference price), ``needed`` = the
losers' negative equity at ``R``; overshoot = taken - needed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from liqcascade.errors import ConfigError

__all__ = [
    "ADLAllocation",
    "ADLPolicy",
    "allocate",
    "binance_score",
    "bitmex_score",
    "capped_pro_rata",
    "hyperliquid_score",
    "pro_rata",
    "rank_queue",
]

_KINDS = ("queue", "random_start", "pro_rata", "capped_pro_rata")
_RANKINGS = ("binance", "hyperliquid", "bitmex")


@dataclass(frozen=True, kw_only=True)
class ADLPolicy:
    """Which ADL policy a venue uses.

    kind: "queue" | "random_start" | "pro_rata" | "capped_pro_rata".
    ranking: score for "queue" ("binance", "hyperliquid", "bitmex").
    cap_fraction: for "capped_pro_rata", max haircut as a fraction of the closed part's profit.
    max_iterate: for "random_start", max offsetting positions walked per step (None = all).
    """

    kind: str = "queue"
    ranking: str = "binance"
    cap_fraction: float = 1.0
    max_iterate: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ConfigError(f"adl_policy.kind: expected one of {_KINDS}, got {self.kind!r}")
        if self.ranking not in _RANKINGS:
            raise ConfigError(
                f"adl_policy.ranking: expected one of {_RANKINGS}, got {self.ranking!r}"
            )
        if not 0.0 < self.cap_fraction <= 1.0:
            raise ConfigError(f"adl_policy.cap_fraction must be in (0, 1], got {self.cap_fraction}")
        if self.max_iterate is not None and self.max_iterate < 1:
            raise ConfigError("adl_policy.max_iterate must be >= 1 or None")

    @classmethod
    def parse(cls, spec: str | ADLPolicy | dict) -> ADLPolicy:
        """From "queue:binance", "random_start", "pro_rata", "capped_pro_rata:0.5" or a dict."""
        if isinstance(spec, ADLPolicy):
            return spec
        if isinstance(spec, dict):
            unknown = set(spec) - {"kind", "ranking", "cap_fraction", "max_iterate"}
            if unknown:
                raise ConfigError(f"adl_policy: unknown keys {sorted(unknown)}")
            return cls(**spec)
        kind, _, arg = str(spec).partition(":")
        if kind == "queue":
            return cls(kind="queue", ranking=arg or "binance")
        if kind == "capped_pro_rata":
            return cls(kind=kind, cap_fraction=float(arg) if arg else 1.0)
        return cls(kind=kind)


# --------------------------------------------------------------------------------------------
# ranking scores (higher = deleveraged first)
# --------------------------------------------------------------------------------------------


def binance_score(
    upnl_quote: np.ndarray, wallet_quote: np.ndarray, mm_quote: np.ndarray
) -> np.ndarray:
    """Binance ADL ranking: PnL% x margin ratio (FAQ 360033525471 via dev.binance.vision 17801).

    PnL% = max(0, UPnL) / max(1, WB); margin ratio = MM / (WB + UPnL), 0 if WB + UPnL <= 0.
    """
    pnl_pct = np.maximum(0.0, upnl_quote) / np.maximum(1.0, wallet_quote)
    bal = wallet_quote + upnl_quote
    ratio = np.where(bal > 0, mm_quote / np.where(bal > 0, bal, 1.0), 0.0)
    return pnl_pct * ratio


def hyperliquid_score(
    side: np.ndarray,
    mark_price: float,
    entry_price: np.ndarray,
    notional_quote: np.ndarray,
    account_value_quote: np.ndarray,
) -> np.ndarray:
    """Hyperliquid ADL sorting index: (mark/entry) x (notional / account value) (HL docs, ADL page).

    The doc writes mark/entry; for shorts the profit direction is entry/mark, used here so that
    more profitable shorts rank higher (an interpretation, stated in docs/engine-dynamic.md).
    """
    ratio = np.where(side > 0, mark_price / entry_price, entry_price / mark_price)
    av = np.where(account_value_quote > 0, account_value_quote, np.inf)
    return ratio * notional_quote / av


def bitmex_score(
    side: np.ndarray, mark_price: float, entry_price: np.ndarray, bankruptcy_price: np.ndarray
) -> np.ndarray:
    """BitMEX-style ranking (venues.md 1.6 caveat; Bybit, MEXC): PnL% x L_eff if PnL% > 0 else
    PnL% / L_eff, L_eff = mark value / (mark value - bankrupt value)."""
    pnl_pct = side * (mark_price - entry_price) / entry_price
    denom = np.abs(mark_price - bankruptcy_price)
    leff = np.where(denom > 0, mark_price / np.where(denom > 0, denom, 1.0), np.inf)
    return np.where(pnl_pct > 0, pnl_pct * leff, pnl_pct / leff)


# --------------------------------------------------------------------------------------------
# quantity splits
# --------------------------------------------------------------------------------------------


def rank_queue(size_base_in_order: np.ndarray, qty_base: float) -> np.ndarray:
    """Walk a ranked queue: each winner closes min(remaining, size). Returns qty per winner.

    >>> rank_queue(np.array([2.0, 3.0, 4.0]), 4.0).tolist()
    [2.0, 2.0, 0.0]
    """
    cum = np.cumsum(size_base_in_order)
    prev = cum - size_base_in_order
    return np.clip(qty_base - prev, 0.0, size_base_in_order)


def pro_rata(size_base: np.ndarray, qty_base: float) -> np.ndarray:
    """Every winner closes qty * size / sum(size) (all of its size if the total falls short).

    >>> pro_rata(np.array([1.0, 3.0]), 2.0).tolist()
    [0.5, 1.5]
    """
    total = float(size_base.sum())
    if total <= 0:
        return np.zeros_like(size_base)
    if qty_base >= total:
        return size_base.copy()
    return size_base * (qty_base / total)


def capped_pro_rata(
    profit_quote: np.ndarray, deficit_quote: float, cap_fraction: float = 1.0
) -> np.ndarray:
    """Split ``deficit_quote`` in proportion to profit, each share capped at cap * profit.

    >>> capped_pro_rata(np.array([10.0, 30.0]), 30.0, cap_fraction=0.5).tolist()
    [5.0, 15.0]
    """
    total = float(profit_quote.sum())
    if total <= 0 or deficit_quote <= 0:
        return np.zeros_like(profit_quote)
    share = profit_quote * (deficit_quote / total)
    return np.minimum(share, cap_fraction * profit_quote)


def _top_until(score: np.ndarray, size_base: np.ndarray, qty_base: float) -> np.ndarray:
    """Indices of the highest scores, in descending order, enough to cover ``qty_base`` (a partial
    sort: only the head of the queue that ADL reaches is ordered). Equal scores keep index order,
    exactly as the full stable sort: every tie of the k-th score joins the head."""
    n = len(score)
    k = min(n, 256)
    while True:
        if k < n:
            kth = -score[np.argpartition(-score, k - 1)[k - 1]]
            top = np.flatnonzero(-score <= kth)
            top = top[np.argsort(-score[top], kind="stable")]
        else:
            return np.argsort(-score, kind="stable")
        if size_base[top].sum() >= qty_base:
            return top
        k *= 4


@dataclass(frozen=True)
class ADLAllocation:
    """Result of one ADL allocation: winners (indices into the caller's arrays), the quantity each
    closes (base units), and the price each closes at (quote per base)."""

    winner: np.ndarray
    qty_base: np.ndarray
    price: np.ndarray

    @property
    def filled_base(self) -> float:
        return float(self.qty_base.sum())


def allocate(
    policy: ADLPolicy,
    *,
    loser_side: int,
    qty_base: float,
    close_price: float,
    ref_price: float,
    deficit_quote: float,
    side: np.ndarray,
    size_base: np.ndarray,
    entry_price: np.ndarray,
    wallet_quote: np.ndarray,
    mm_quote: np.ndarray,
    bankruptcy_price: np.ndarray,
    rng: np.random.Generator,
) -> ADLAllocation:
    """Allocate ``qty_base`` of a bankrupt ``loser_side`` position to opposite-side winners.

    Arrays describe the candidate positions (same venue and symbol, open, any side); only
    opposite-side positions in profit at ``ref_price`` are used. ``close_price`` is the price the
    loser is closed at (bankruptcy price, or previous mark on Hyperliquid); ``deficit_quote`` the
    amount to cover (used by capped_pro_rata). Winners' prices are clamped at their entry price.
    """
    w_side = -int(loser_side)
    upnl = side * size_base * (ref_price - entry_price)
    ok = (side == w_side) & (size_base > 0) & (upnl > 0)
    empty = ADLAllocation(np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    if qty_base <= 0 or not ok.any():
        return empty
    if policy.kind == "random_start":
        offsetting = np.flatnonzero((side == w_side) & (size_base > 0))
        start = int(rng.integers(len(offsetting)))
        walk = np.roll(offsetting, -start)
        if policy.max_iterate is not None:
            walk = walk[: policy.max_iterate]
        cand = walk[ok[walk]]
        q = rank_queue(size_base[cand], qty_base)
    else:
        cand = np.flatnonzero(ok)
        if policy.kind == "queue":
            if policy.ranking == "binance":
                score = binance_score(upnl[cand], wallet_quote[cand], mm_quote[cand])
            elif policy.ranking == "hyperliquid":
                score = hyperliquid_score(
                    side[cand],
                    ref_price,
                    entry_price[cand],
                    size_base[cand] * ref_price,
                    wallet_quote[cand] + upnl[cand],
                )
            else:
                score = bitmex_score(
                    side[cand], ref_price, entry_price[cand], bankruptcy_price[cand]
                )
            cand = cand[_top_until(score, size_base[cand], qty_base)]
            q = rank_queue(size_base[cand], qty_base)
        else:
            q = pro_rata(size_base[cand], qty_base)
    keep = q > 0
    cand, q = cand[keep], q[keep]
    if policy.kind == "capped_pro_rata":
        ppu = w_side * (ref_price - entry_price[cand])  # profit per unit at R, > 0
        h = capped_pro_rata(q * ppu, deficit_quote, policy.cap_fraction)
        price = ref_price - w_side * h / q
    else:
        price = np.full(len(cand), float(close_price))
    # never realise a loss on the closed part: clamp at entry
    if w_side < 0:
        price = np.minimum(price, entry_price[cand])
    else:
        price = np.maximum(price, entry_price[cand])
    return ADLAllocation(cand.astype(np.int64), q, price)
