"""Safe sizing: the largest size or leverage keeping P(liquidation) under a target."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Required, TypedDict, Unpack

import numpy as np
from scipy import optimize

from liqcascade.errors import InputError, RuleError
from liqcascade.jsonutil import AsDict
from liqcascade.risk._checks import _finite, _positive, parse_side
from liqcascade.risk.models import (
    DAYS_PER_YEAR,
    DEFAULT_N_PATHS,
    DEFAULT_SEED,
    price_model,
    prob_hit_gbm,
    simulate_log_extremes,
)
from liqcascade.risk.position import _liq_price


def _max_notional_for_margin(rules: Any, margin_quote: float) -> tuple[float, str]:
    """Largest notional the venue lets ``margin_quote`` open (initial margin N/lev_k(N))."""
    t = rules.tiers
    best = 0.0
    for k in range(len(t)):
        lev = min(float(t.max_leverage[k]), float(getattr(rules, "max_leverage_limit", math.inf)))
        n_max = min(float(t.cap_quote[k]), margin_quote * lev)
        if n_max >= float(t.floor_quote[k]):
            best = max(best, n_max)
    return best, "venue tier leverage limit"


def _max_leverage_at(rules: Any, notional_quote: float) -> float:
    t = rules.tiers
    if notional_quote > float(t.cap_quote[-1]):
        raise RuleError(
            f"notional {notional_quote:.2f} exceeds the venue's last tier cap "
            f"{float(t.cap_quote[-1]):.2f} ({rules.venue} {rules.symbol})"
        )
    k = int(t.index(np.asarray([notional_quote]))[0])
    return min(float(t.max_leverage[k]), float(getattr(rules, "max_leverage_limit", math.inf)))


class _BarrierLaw:
    """P(touch a barrier at log-distance c) as a function of c, for one model (one side)."""

    def __init__(self, side: int, spec: SizingModel) -> None:
        self.side = side
        self.model = price_model(
            spec.model, spec.vol_annual, spec.drift_annual, **(spec.jump or {})
        )
        self.t_years = spec.horizon_days / DAYS_PER_YEAR
        self.kind = spec.model
        if spec.model == "jump":
            rng = np.random.default_rng(spec.seed)
            mn, mx, _ = simulate_log_extremes(
                self.model, spec.horizon_days, n_paths=spec.n_paths, n_steps=spec.n_steps, rng=rng
            )
            # extreme in the direction of the barrier, as a positive log-distance
            self.reach = np.sort(-mn if side == 1 else mx)

    def prob(self, dist_log: float) -> float:
        """Probability of touching a barrier ``dist_log`` > 0 log-units away."""
        if dist_log <= 0:
            return 1.0
        if self.kind == "gbm":
            c = -self.side * dist_log
            return float(
                prob_hit_gbm(c, self.model.log_drift_annual, self.model.vol_annual, self.t_years)
            )
        k = self.reach.size - int(np.searchsorted(self.reach, dist_log, side="left"))
        return k / self.reach.size

    def distance_for(self, target: float) -> float:
        """Smallest log-distance whose touch probability is <= ``target``."""
        if self.kind == "jump":
            n = self.reach.size
            k = int(math.floor(target * n))  # at most k paths may reach it
            if k >= n:
                return 0.0
            # barrier just beyond the (k+1)-th largest reach
            return float(np.nextafter(self.reach[n - k - 1], np.inf))
        hi = 1e-6
        while self.prob(hi) > target:
            hi *= 2.0
            if hi > 50:
                raise InputError(f"target probability {target} is not reachable")
        d = float(optimize.brentq(lambda d: self.prob(d) - target, 1e-12, hi, xtol=1e-14))
        while self.prob(d) > target:  # land on the safe side of the root
            d = float(np.nextafter(d, np.inf)) * (1.0 + 1e-13)
        return d


@dataclass(frozen=True)
class SafeSize(AsDict):
    """Largest size (or leverage) keeping P(liquidation within the horizon) <= target."""

    venue: str
    symbol: str
    side: int
    price: float
    margin_quote: float
    size_base: float
    notional_quote: float
    leverage: float
    liquidation_price: float
    probability: float
    """P(liquidation within the horizon) of the answer, at most ``target_probability``."""
    target_probability: float
    binding: str
    """What limits the answer: ``"liquidation probability"`` or ``"venue tier leverage limit"``."""
    model: str
    horizon_days: float
    vol_annual: float
    max_distance_log: float
    """The log-distance whose touch probability is the target: the liquidation price keeps at
    least this far from ``price``."""
    seed: int | None = None
    """Seed of the simulated paths (``None`` for closed-form GBM)."""
    n_paths: int | None = None


@dataclass(frozen=True, kw_only=True)
class SizingModel:
    """The price model and horizon :func:`safe_size` and :func:`safe_leverage` invert; their
    keywords are these fields.

    Examples
    --------
    >>> SizingModel(vol_annual=0.6, horizon_days=7)
    SizingModel(vol_annual=0.6, horizon_days=7.0, drift_annual=0.0, model='gbm', jump={}, \
n_paths=100000, n_steps=None, seed=20251010)
    """

    vol_annual: float
    """Diffusion volatility of the log-price, annualised over 365 days."""
    horizon_days: float
    """Days within which a touch of the liquidation price counts as a liquidation."""
    drift_annual: float = 0.0
    """Drift ``mu`` of the price, annualised: ``E[S_T] = S_0 exp(mu T)``."""
    model: str = "gbm"
    """``"gbm"`` (closed form) or ``"jump"`` (Merton jump-diffusion, simulated)."""
    jump: Mapping[str, float] | None = field(default_factory=dict)
    """The jump parameters of :class:`~liqcascade.risk.JumpDiffusion` (``model="jump"``)."""
    n_paths: int = DEFAULT_N_PATHS
    """Simulated paths of the jump model."""
    n_steps: int | None = None
    """Time steps of the jump simulation (``None``: one an hour, 16 to 2,000)."""
    seed: int = DEFAULT_SEED
    """Seed of the jump simulation's ``numpy.random.default_rng``."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "horizon_days", _positive("horizon_days", self.horizon_days))
        object.__setattr__(self, "jump", dict(self.jump or {}))


class SizingKeywords(TypedDict, total=False):
    """The keywords :func:`safe_size` and :func:`safe_leverage` take: the fields of
    :class:`SizingModel`, for type checkers and editors."""

    vol_annual: Required[float]
    horizon_days: Required[float]
    drift_annual: float
    model: str
    jump: Mapping[str, float] | None
    n_paths: int
    n_steps: int | None
    seed: int


def _check_target(target_prob: float) -> float:
    t = _finite("target_prob", target_prob)
    if not 0.0 < t < 1.0:
        raise InputError(f"target_prob={target_prob!r}: expected a probability in (0, 1)")
    return t


def _liq_log_distance(side: int, price: float, liq_price: float) -> float:
    """Log-distance ``|ln(liq/price)|`` from ``price`` to the liquidation price in the loss
    direction: ``inf`` when a long cannot be liquidated (``liq <= 0``), 0 when already past."""
    if side == 1 and not liq_price > 0:
        return math.inf
    if side * (price - liq_price) <= 0:
        return 0.0
    return abs(math.log(liq_price / price))


@dataclass(frozen=True)
class _Target:
    """What safe sizing aims at: the position's side and price, the target probability, the
    price model, its barrier law and the log-distance ``d_star`` the liquidation price must
    keep."""

    side: int
    price: float
    target: float
    spec: SizingModel
    law: _BarrierLaw
    d_star: float


def _aim(
    side: int | str, price: float, target_prob: float, sizing_model: SizingKeywords
) -> _Target:
    """The target of ``target_prob`` at ``price``; ``sizing_model`` holds the keywords of
    :class:`SizingModel`."""
    sd = parse_side(side)
    price = _positive("price", price)
    target = _check_target(target_prob)
    spec = SizingModel(**sizing_model)
    law = _BarrierLaw(sd, spec)
    return _Target(sd, price, target, spec, law, law.distance_for(target))


def _safe_result(
    rules: Any, t: _Target, margin_quote: float, size_base: float, binding: str
) -> SafeSize:
    """The :class:`SafeSize` answer shared by :func:`safe_size` and :func:`safe_leverage`."""
    liq = _liq_price(rules, t.side, size_base, t.price, margin_quote)
    jump = t.spec.model == "jump"
    return SafeSize(
        venue=str(rules.venue),
        symbol=str(rules.symbol),
        side=t.side,
        price=t.price,
        margin_quote=margin_quote,
        size_base=size_base,
        notional_quote=size_base * t.price,
        leverage=size_base * t.price / margin_quote,
        liquidation_price=liq,
        probability=t.law.prob(_liq_log_distance(t.side, t.price, liq)),
        target_probability=t.target,
        binding=binding,
        model=t.spec.model,
        horizon_days=t.spec.horizon_days,
        vol_annual=t.law.model.vol_annual,
        max_distance_log=t.d_star,
        seed=t.spec.seed if jump else None,
        n_paths=t.spec.n_paths if jump else None,
    )


def safe_size(
    rules: Any,
    side: int | str,
    price: float,
    margin_quote: float,
    target_prob: float,
    **sizing_model: Unpack[SizingKeywords],
) -> SafeSize:
    """Largest position (base units) opened at ``price`` with ``margin_quote`` of isolated margin
    whose probability of liquidation within ``horizon_days`` stays at or below ``target_prob``.

    Inverts the probability in two monotone steps: the barrier distance whose touch
    probability equals the target (brentq on the closed form, or the empirical quantile of
    the simulated extremes with a fixed seed), then the size whose venue liquidation price
    (:func:`liqcascade.margin.liquidation_price`) sits at that distance (brentq). The result is
    capped by the venue's initial-margin tiers (size <= margin x max leverage of its tier).

    ``sizing_model`` are the keywords of :class:`SizingModel`: ``vol_annual`` and
    ``horizon_days`` (required), ``drift_annual``, ``model`` (``"gbm"`` or ``"jump"``), ``jump``
    (a mapping of jump parameters), ``n_paths``, ``n_steps`` and ``seed``.

    Examples
    --------
    >>> from liqcascade.venues import load_venue
    >>> r = safe_size(load_venue("binance_usdm", "BTCUSDT"), "long", 100_000, 1_000, 0.05,
    ...               vol_annual=0.6, horizon_days=7)
    >>> round(r.leverage, 2), round(r.probability, 6), r.binding
    (6.4, 0.05, 'liquidation probability')
    """
    margin_quote = _positive("margin_quote", margin_quote)
    t = _aim(side, price, target_prob, sizing_model)
    sd, price, d_star = t.side, t.price, t.d_star
    n_cap, cap_reason = _max_notional_for_margin(rules, margin_quote)
    if n_cap <= 0:
        raise RuleError(f"margin {margin_quote} opens no position on {rules.venue} {rules.symbol}")
    size_cap = n_cap / price

    def dist_at(size: float) -> float:
        return _liq_log_distance(sd, price, _liq_price(rules, sd, size, price, margin_quote))

    if dist_at(size_cap) >= d_star:
        size, binding = size_cap, cap_reason
    else:
        lo = size_cap * 1e-9
        if dist_at(lo) < d_star:
            raise InputError(
                f"even a tiny position has a liquidation probability above {t.target}: "
                "the margin cannot protect against this volatility over this horizon"
            )
        size = float(
            optimize.brentq(lambda s: dist_at(s) - d_star, lo, size_cap, xtol=1e-12, rtol=1e-12)
        )
        # brentq may land a hair on the unsafe side; step back until the distance is enough
        while dist_at(size) < d_star:
            size *= 1.0 - 1e-12
        binding = "liquidation probability"
    return _safe_result(rules, t, margin_quote, size, binding)


def safe_leverage(
    rules: Any,
    side: int | str,
    price: float,
    size_base: float,
    target_prob: float,
    **sizing_model: Unpack[SizingKeywords],
) -> SafeSize:
    """Highest leverage (least isolated margin) for ``size_base`` opened at ``price`` keeping the
    probability of liquidation within ``horizon_days`` at or below ``target_prob``.

    Capped by the venue's maximum leverage for the position's notional tier. ``sizing_model``
    are the keywords of :class:`SizingModel`, as for :func:`safe_size`.
    """
    size_base = _positive("size_base", size_base)
    notional = size_base * _positive("price", price)
    lev_cap = _max_leverage_at(rules, notional)
    t = _aim(side, price, target_prob, sizing_model)
    sd, price, d_star = t.side, t.price, t.d_star

    def dist_at(margin_q: float) -> float:
        return _liq_log_distance(sd, price, _liq_price(rules, sd, size_base, price, margin_q))

    m_min = notional / lev_cap
    if dist_at(m_min) >= d_star:
        margin_q, binding = m_min, "venue tier leverage limit"
    else:
        hi = notional
        while dist_at(hi) < d_star:
            hi *= 2.0
            if hi > notional * 1e6:
                raise InputError("no margin keeps the liquidation probability under the target")
        margin_q = float(
            optimize.brentq(lambda m: dist_at(m) - d_star, m_min, hi, xtol=1e-9, rtol=1e-12)
        )
        while dist_at(margin_q) < d_star:
            margin_q *= 1.0 + 1e-12
        binding = "liquidation probability"
    return _safe_result(rules, t, margin_q, size_base, binding)
