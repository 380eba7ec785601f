"""Protective stops, hedges and size cuts simulated on common paths."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import InputError
from liqcascade.jsonutil import AsDict
from liqcascade.risk._checks import _nonneg, _positive, parse_side
from liqcascade.risk.models import (
    DEFAULT_CONFIDENCE,
    DEFAULT_N_PATHS,
    DEFAULT_SEED,
    JumpDiffusion,
    _clopper_pearson,
    price_model,
    step_grid,
)
from liqcascade.risk.position import PositionRisk, position_risk


def simulate_stop_paths(
    model: JumpDiffusion,
    side: int,
    horizon_days: float,
    stop_log: float | np.ndarray,
    liq_log: float | np.ndarray,
    *,
    n_paths: int,
    n_steps: int | None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First passage of a stop and a liquidation barrier (log-distances below 0 in the loss
    direction: ``stop_log`` >= ``liq_log``, both <= 0 for ``y = side*ln(S/S0)``).

    ``stop_log``/``liq_log`` may be equal-length arrays of K barrier pairs, all evaluated on the
    same paths. Returns ``(outcome, exit_log, end_log)``: outcome 0 = survived the horizon,
    1 = stopped, 2 = liquidated; ``exit_log`` the loss-direction log-price of the stop fill (the
    stop level when the diffusion reached it, the post-jump level when a jump gapped through it;
    NaN otherwise) -- both shape (K, n_paths), or (n_paths,) for scalar barriers; ``end_log``
    the value of ``y`` at the horizon. A jump that gaps through both barriers liquidates (the
    venue's mark-price trigger fires before a stop-market order can fill); a continuous path
    always meets the stop first. Diffusion crossings are detected exactly with the
    Brownian-bridge minimum; jumps land at step ends.
    """
    scalar = np.ndim(stop_log) == 0 and np.ndim(liq_log) == 0
    stop = np.atleast_1d(np.asarray(stop_log, dtype=np.float64))[:, None]
    liq = np.atleast_1d(np.asarray(liq_log, dtype=np.float64))[:, None]
    if stop.shape != liq.shape:
        raise InputError("stop_log and liq_log: expected the same number of barrier pairs")
    has_stop = stop > liq
    steps, dt = step_grid(horizon_days, n_steps)
    a = side * model.log_drift_annual
    s = model.vol_annual
    sdt = s * math.sqrt(dt)
    two_var = 2.0 * s * s * dt
    lam_dt = model.jump_intensity_annual * dt
    jm, js = side * model.jump_mean_log, model.jump_std_log
    y = np.zeros(n_paths)
    outcome = np.zeros((stop.shape[0], n_paths), dtype=np.int8)
    exit_log = np.full((stop.shape[0], n_paths), np.nan)
    for _ in range(steps):
        y1 = y + a * dt + sdt * rng.standard_normal(n_paths)
        root = np.sqrt((y1 - y) ** 2 - two_var * np.log(rng.random(n_paths)))
        low = 0.5 * (y + y1 - root)
        hit = (outcome == 0) & (low[None, :] <= stop)
        outcome[hit & has_stop] = 1
        outcome[hit & ~has_stop] = 2
        exit_log = np.where(hit & has_stop, stop, exit_log)
        if lam_dt > 0.0:
            k = rng.poisson(lam_dt, n_paths)
            jumped = k > 0
            if np.any(jumped):
                kj = k[jumped]
                y1[jumped] += kj * jm + np.sqrt(kj) * js * rng.standard_normal(kj.size)
                alive = (outcome == 0) & jumped[None, :]
                gap_liq = alive & (y1[None, :] <= liq)
                outcome[gap_liq] = 2
                gap_stop = alive & ~gap_liq & (y1[None, :] <= stop)
                outcome[gap_stop] = 1
                exit_log = np.where(gap_stop, y1[None, :], exit_log)
        y = y1
    if scalar:
        return outcome[0], exit_log[0], y
    return outcome, exit_log, y


@dataclass(frozen=True)
class StopScenario:
    """One row of :class:`StopAnalysis` (quote currency; probabilities over the horizon)."""

    name: str
    size_base: float
    liquidation_price: float
    stop_price: float | None
    hedge_size_base: float
    prob_stop: float
    prob_liquidation: float
    prob_liquidation_ci_low: float
    prob_liquidation_ci_high: float
    expected_realised_loss_quote: float
    expected_pnl_quote: float
    expected_fees_quote: float
    loss_given_stop_quote: float | None
    loss_given_liquidation_quote: float


@dataclass(frozen=True)
class StopAnalysis(AsDict):
    """Effect of a protective stop, a hedge and a size cut on one isolated position.

    All scenarios use the same simulated paths (common random numbers, one seed).
    ``expected_realised_loss_quote`` counts losses realised within the horizon (stop fills,
    liquidations, fees); ``expected_pnl_quote`` adds the mark-to-market of survivors.
    """

    venue: str
    symbol: str
    side: int
    price: float
    entry_price: float
    margin_quote: float
    horizon_days: float
    vol_annual: float
    jump_intensity_annual: float
    taker_fee_rate: float
    liquidation_fee_rate: float
    scenarios: list[StopScenario]
    n_paths: int
    n_steps: int
    seed: int

    def to_polars(self) -> pl.DataFrame:
        return pl.DataFrame([asdict(s) for s in self.scenarios])


def stop_analysis(
    rules: Any,
    side: int | str,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    *,
    vol_annual: float,
    horizon_days: float,
    stop_price: float | None = None,
    hedge_ratio: float = 0.0,
    mark_price: float | None = None,
    drift_annual: float = 0.0,
    jump: Mapping[str, float] | None = None,
    stop_slippage_frac: float = 0.0,
    taker_fee_rate: float | None = None,
    n_paths: int = DEFAULT_N_PATHS,
    n_steps: int | None = None,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> StopAnalysis:
    """What a protective stop, a hedge or a size cut changes over ``horizon_days``.

    Scenarios (same paths):

    * ``as is``: liquidation when the price touches the venue liquidation price; the loss is
      the margin less what the trader keeps at liquidation (:func:`position_risk`).
    * ``stop``: a stop-market exit at ``stop_price`` (between the price and the liquidation
      price), filled at the stop less ``stop_slippage_frac``, or at the gapped price when a
      jump goes through it; a gap through the liquidation price liquidates. Exit pays the
      taker fee.
    * ``hedge``: an opposite position of ``hedge_ratio x size`` held fully collateralised
      elsewhere (spot or another account); it does not change the isolated position's
      liquidation but pays back part of the loss; opening and closing it pay the taker fee.
      The hedge is closed when the main position ends (stop, liquidation or horizon).
    * ``reduced``: the position cut by ``hedge_ratio`` with the same margin (lower leverage,
      liquidation price further away); the cut pays the taker fee.

    Fees default to ``rules.taker_fee_rate``; the clearance fee is ``rules.liquidation_fee_rate``.
    """
    sd = parse_side(side)
    base = _live_position(rules, sd, size_base, entry_price, margin_quote, mark_price)
    price = base.mark_price
    horizon_days = _positive("horizon_days", horizon_days)
    ctx = _costs(rules, base, taker_fee_rate, stop_slippage_frac, confidence)
    jd = price_model("jump", vol_annual, drift_annual, **dict(jump or {}))
    if stop_price is not None:
        stop_price = _check_stop(sd, price, _positive("stop_price", stop_price), base)
    steps, _ = step_grid(horizon_days, n_steps)
    specs = _scenario_specs(rules, sd, price, base, stop_price, hedge_ratio)
    # every scenario's barrier pair, evaluated in one pass over the same paths
    stop_logs = np.array([x.stop_log for x in specs])
    liq_logs = np.array([x.liq_log for x in specs])
    rng = np.random.default_rng(seed)  # one set of paths for every scenario
    out, ex, end = simulate_stop_paths(
        jd, sd, horizon_days, stop_logs, liq_logs, n_paths=n_paths, n_steps=steps, rng=rng
    )
    rows = [_summarise(ctx, x, out[k], ex[k], end) for k, x in enumerate(specs)]
    return StopAnalysis(
        venue=str(rules.venue),
        symbol=str(rules.symbol),
        side=sd,
        price=price,
        entry_price=base.entry_price,
        margin_quote=base.margin_quote,
        horizon_days=horizon_days,
        vol_annual=jd.vol_annual,
        jump_intensity_annual=jd.jump_intensity_annual,
        taker_fee_rate=ctx.fee,
        liquidation_fee_rate=float(rules.liquidation_fee_rate),
        scenarios=rows,
        n_paths=n_paths,
        n_steps=steps,
        seed=seed,
    )


def _live_position(
    rules: Any,
    side: int,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    mark_price: float | None,
) -> PositionRisk:
    """The position at the mark; an already liquidatable one has nothing left to protect."""
    base = position_risk(rules, side, size_base, entry_price, margin_quote, mark_price=mark_price)
    if base.liquidatable_now:
        raise InputError(
            f"the position is already liquidatable at price {base.mark_price} "
            f"(liquidation price {base.liquidation_price})"
        )
    return base


def _check_stop(side: int, price: float, stop_price: float, base: PositionRisk) -> float:
    """A stop lies between the price and the liquidation price."""
    liq = base.liquidation_price
    if not side * (price - stop_price) > 0:
        raise InputError(
            f"stop_price={stop_price} must be {'below' if side == 1 else 'above'} the price "
            f"{price} for a {'long' if side == 1 else 'short'}"
        )
    if liq > 0 and not side * (stop_price - liq) > 0:
        raise InputError(
            f"stop_price={stop_price} is beyond the liquidation price {liq:.6g}: the "
            "position would be liquidated before the stop triggers"
        )
    return stop_price


@dataclass(frozen=True)
class _Spec:
    """One scenario: its position, liquidation, stop and hedge, and its two log barriers."""

    name: str
    size_base: float
    liq_price: float
    # loss at liquidation, measured from entry (re-based to the current price in _summarise)
    loss_liq_quote: float
    stop_price: float | None
    hedge_size_base: float
    stop_log: float
    liq_log: float


@dataclass(frozen=True)
class _Costs:
    """What every scenario shares: the position at the start, the fee and the stop slippage."""

    base: PositionRisk
    fee: float
    slip: float
    confidence: float


def _costs(
    rules: Any,
    base: PositionRisk,
    taker_fee_rate: float | None,
    stop_slippage_frac: float,
    confidence: float,
) -> _Costs:
    """Fees default to the venue's taker fee."""
    fee = (
        float(rules.taker_fee_rate)
        if taker_fee_rate is None
        else _nonneg("taker_fee_rate", taker_fee_rate)
    )
    return _Costs(base, fee, _nonneg("stop_slippage_frac", stop_slippage_frac), confidence)


def _liq_log(side: int, price: float, liq: float) -> float:
    return side * math.log(liq / price) if liq > 0 else -math.inf


def _scenario_specs(
    rules: Any,
    side: int,
    price: float,
    base: PositionRisk,
    stop_price: float | None,
    hedge_ratio: float,
) -> list[_Spec]:
    """``as is``, then ``stop`` (with a stop), ``hedge`` and ``reduced`` (with a hedge ratio)."""
    h = _nonneg("hedge_ratio", hedge_ratio)
    if h > 1.0:
        raise InputError(f"hedge_ratio={hedge_ratio!r}: expected a fraction in [0, 1]")
    size, liq, loss = base.size_base, base.liquidation_price, base.loss_at_liquidation_quote
    liq_log = _liq_log(side, price, liq)
    specs = [_Spec("as is", size, liq, loss, None, 0.0, liq_log, liq_log)]
    if stop_price is not None:
        stop_log = side * math.log(stop_price / price)
        specs.append(_Spec("stop", size, liq, loss, stop_price, 0.0, stop_log, liq_log))
    if h > 0.0:
        specs.append(_Spec("hedge", size, liq, loss, None, h * size, liq_log, liq_log))
    if 0.0 < h < 1.0:
        small = size * (1.0 - h)
        r2 = position_risk(
            rules, side, small, base.entry_price, base.margin_quote, mark_price=price
        )
        liq2_log = _liq_log(side, price, r2.liquidation_price)
        specs.append(
            _Spec(
                "reduced",
                small,
                r2.liquidation_price,
                r2.loss_at_liquidation_quote,
                None,
                0.0,
                liq2_log,
                liq2_log,
            )
        )
    return specs


def _summarise(
    c: _Costs, x: _Spec, out: np.ndarray, exit_log: np.ndarray, end_log: np.ndarray
) -> StopScenario:
    """Probabilities and expected losses of one scenario over its simulated outcomes."""
    start = c.base
    n, sd, price, size, hedge = (
        out.size,
        start.side,
        start.mark_price,
        x.size_base,
        x.hedge_size_base,
    )
    # price at exit or horizon (quote per base)
    end_price = price * np.exp(sd * end_log)
    stop_fill = price * np.exp(sd * exit_log) * (1.0 - sd * c.slip)
    liq_fill = np.full(n, x.liq_price if x.liq_price > 0 else 0.0)
    exit_price = np.where(out == 1, stop_fill, np.where(out == 2, liq_fill, end_price))
    upnl_start = sd * size * (price - start.entry_price)
    pnl_main = np.where(
        out == 2,
        -start.margin_quote + (start.margin_quote - x.loss_liq_quote) - upnl_start,
        sd * size * (exit_price - price),
    )
    # the size cut pays the taker fee at the start
    cut_fee = c.fee * (start.size_base - size) * price if x.name == "reduced" else 0.0
    fees = np.where(out == 1, c.fee * size * stop_fill, 0.0) + cut_fee
    hedge_pnl = -sd * hedge * (exit_price - price)
    fees = fees + c.fee * hedge * (price + exit_price)
    total = pnl_main + hedge_pnl - fees
    realised = np.where(out > 0, -total, c.fee * hedge * price + cut_fee)
    k_liq = int(np.count_nonzero(out == 2))
    lo, hi = _clopper_pearson(k_liq, n, c.confidence)
    stopped = out == 1
    return StopScenario(
        name=x.name,
        size_base=size,
        liquidation_price=x.liq_price,
        stop_price=x.stop_price,
        hedge_size_base=hedge,
        prob_stop=float(np.mean(stopped)),
        prob_liquidation=k_liq / n,
        prob_liquidation_ci_low=lo,
        prob_liquidation_ci_high=hi,
        expected_realised_loss_quote=float(np.mean(realised)),
        expected_pnl_quote=float(np.mean(total)),
        expected_fees_quote=float(np.mean(fees)),
        loss_given_stop_quote=float(-np.mean(total[stopped])) if stopped.any() else None,
        loss_given_liquidation_quote=float(x.loss_liq_quote + upnl_start),
    )
