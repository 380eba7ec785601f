"""Risk tools for traders: liquidation distance, liquidation probability, safe sizing, stops.

Everything here is about one position (or one account) against the venue's own margin rules
(:mod:`liqcascade.margin`). Formulas, defaults and sources are stated in ``docs/risk.md``.

Conventions
-----------
* ``side`` is +1 long, -1 short (the strings ``"long"``/``"short"`` are accepted too).
* Volatility ``vol_annual`` and drift ``drift_annual`` are annualised over a 365-day year
  (crypto trades every day). ``drift_annual`` (``mu``) is the drift of the *price*:
  ``E[S_T] = S_0 * exp(mu*T)``, so the log-price drifts by ``mu - vol^2/2`` (GBM) and by
  ``mu - vol^2/2 - lambda*kappa`` under Merton jump-diffusion, ``kappa = E[e^J] - 1``.
* A position is liquidated when the (mark) price touches its liquidation price at any time
  within the horizon (continuous monitoring, "barrier hit"), not only at the horizon.

Models
------
``gbm``: closed form for the first passage of a drifted Brownian motion in log-price
(reflection principle; e.g. Borodin & Salminen, *Handbook of Brownian Motion*, 2.1.1.4;
Shreve, *Stochastic Calculus for Finance II*, 7.2.2)::

    y_t = a t + s W_t,  c < 0 (barrier in log units, oriented so the barrier is below)
    P(min_{t<=T} y_t <= c) = Phi((c - aT)/(s sqrt T)) + exp(2 a c / s^2) Phi((c + aT)/(s sqrt T))

``jump``: Merton (1976) jump-diffusion, simulated with a seeded ``numpy.random.Generator``.
Within each step the diffusion's running minimum and maximum are drawn *exactly* from the
Brownian-bridge extreme law (given both end points, ``min = (x0 + x1 - sqrt((x1-x0)^2 -
2 s^2 dt ln U))/2``), and jumps are applied at the end of the step. The barrier crossing of
the continuous path is therefore not missed between steps; only the jump time is rounded to
the step grid. The probability is a binomial proportion over paths, reported with a
Clopper-Pearson interval.
"""

from __future__ import annotations

import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy import optimize, special, stats

from liqcascade.errors import DataError, InputError, RuleError
from liqcascade.log import logger

#: Days per year used to annualise volatility and drift (crypto trades 365 days a year).
DAYS_PER_YEAR = 365.0
#: Seconds per (365-day) year.
SECONDS_PER_YEAR = DAYS_PER_YEAR * 86400.0
#: Default number of simulated paths for the jump model.
DEFAULT_N_PATHS = 100_000
#: Default Monte Carlo seed (stored in every result).
DEFAULT_SEED = 20251010
#: Default confidence level of the binomial interval.
DEFAULT_CONFIDENCE = 0.95

__all__ = [
    "DAYS_PER_YEAR",
    "AccountRisk",
    "ClusterWarning",
    "FittedModel",
    "JumpDiffusion",
    "LiquidationProbability",
    "MoveOutcome",
    "PositionRisk",
    "SafeSize",
    "StopAnalysis",
    "account_risk",
    "cluster_warning",
    "fit_from_klines",
    "fit_from_store",
    "move_what_if",
    "parse_side",
    "position_risk",
    "prob_hit_gbm",
    "prob_liquidation",
    "read_klines",
    "safe_leverage",
    "safe_size",
    "simulate_log_extremes",
    "stop_analysis",
]


# --------------------------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------------------------
def parse_side(side: int | str) -> int:
    """Return +1 for a long and -1 for a short; accepts 1/-1, "long"/"short", "buy"/"sell"."""
    if isinstance(side, str):
        s = side.strip().lower()
        if s in ("long", "buy", "+1", "1"):
            return 1
        if s in ("short", "sell", "-1"):
            return -1
        raise InputError(f"side={side!r}: expected 'long' or 'short' (or +1 / -1)")
    if isinstance(side, (int, np.integer)) and int(side) in (1, -1):
        return int(side)
    raise InputError(f"side={side!r}: expected +1 (long) or -1 (short)")


def _positive(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: expected a number") from exc
    if not math.isfinite(v) or v <= 0.0:
        raise InputError(f"{name}={value!r}: expected a finite number > 0")
    return v


def _finite(name: str, value: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name}={value!r}: expected a number") from exc
    if not math.isfinite(v):
        raise InputError(f"{name}={value!r}: expected a finite number")
    return v


def _nonneg(name: str, value: float) -> float:
    v = _finite(name, value)
    if v < 0.0:
        raise InputError(f"{name}={value!r}: expected a number >= 0")
    return v


def _check_barrier(price: float, liq_price: float, side: int, what: str = "liq_price") -> None:
    """The liquidation price must lie below the price for a long and above it for a short."""
    if side == 1 and not liq_price < price:
        raise InputError(
            f"{what}={liq_price!r} is not below price={price!r}: a long is liquidated when the "
            "price falls to its liquidation price, so it must lie below the current price "
            "(a long at or below it is already liquidatable)"
        )
    if side == -1 and not liq_price > price:
        raise InputError(
            f"{what}={liq_price!r} is not above price={price!r}: a short is liquidated when the "
            "price rises to its liquidation price, so it must lie above the current price "
            "(a short at or above it is already liquidatable)"
        )


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class JumpDiffusion:
    """Merton (1976) jump-diffusion for the price ``S``; GBM when ``jump_intensity_annual`` is 0.

    ``d ln S = (mu - vol^2/2 - lambda*kappa) dt + vol dW + dJ``, jumps ``J ~ N(m, s^2)`` arriving
    at Poisson rate ``lambda`` per year, ``kappa = exp(m + s^2/2) - 1`` so that
    ``E[S_T] = S_0 exp(mu T)``.

    Attributes
    ----------
    vol_annual: diffusion volatility of log-price, annualised (365-day year).
    drift_annual: drift ``mu`` of the price itself, annualised.
    jump_intensity_annual: expected number of jumps per year (``lambda``).
    jump_mean_log: mean ``m`` of a jump in log-price (e.g. -0.05 for an average 4.9% drop).
    jump_std_log: standard deviation ``s`` of a jump in log-price.
    """

    vol_annual: float
    drift_annual: float = 0.0
    jump_intensity_annual: float = 0.0
    jump_mean_log: float = 0.0
    jump_std_log: float = 0.0

    def __post_init__(self) -> None:
        _positive("vol_annual", self.vol_annual)
        _finite("drift_annual", self.drift_annual)
        _nonneg("jump_intensity_annual", self.jump_intensity_annual)
        _finite("jump_mean_log", self.jump_mean_log)
        _nonneg("jump_std_log", self.jump_std_log)

    @property
    def kappa(self) -> float:
        """``E[e^J] - 1``, the mean relative price change of one jump."""
        return math.expm1(self.jump_mean_log + 0.5 * self.jump_std_log**2)

    @property
    def log_drift_annual(self) -> float:
        """Drift of the log-price per year: ``mu - vol^2/2 - lambda*kappa``."""
        return (
            self.drift_annual - 0.5 * self.vol_annual**2 - self.jump_intensity_annual * self.kappa
        )

    @property
    def has_jumps(self) -> bool:
        return self.jump_intensity_annual > 0.0

    def total_vol_annual(self) -> float:
        """Annualised standard deviation of log-returns including jumps."""
        lam = self.jump_intensity_annual
        var = self.vol_annual**2 + lam * (self.jump_mean_log**2 + self.jump_std_log**2)
        return math.sqrt(var)


def prob_hit_gbm(
    log_barrier: np.ndarray | float,
    log_drift_annual: np.ndarray | float,
    vol_annual: np.ndarray | float,
    horizon_years: np.ndarray | float,
) -> np.ndarray:
    """P(the drifted Brownian motion ``a t + s W_t`` touches ``log_barrier`` within ``horizon``).

    Vectorised. ``log_barrier`` < 0 is a lower barrier, > 0 an upper barrier, 0 is hit at once.
    Reflection-principle first-passage law, computed in log space so that
    ``exp(2ac/s^2)`` cannot overflow (Borodin & Salminen 2.1.1.4).
    """
    c0 = np.asarray(log_barrier, dtype=np.float64)
    a0 = np.asarray(log_drift_annual, dtype=np.float64)
    s = np.asarray(vol_annual, dtype=np.float64)
    t = np.asarray(horizon_years, dtype=np.float64)
    # Orient every barrier downwards: an upper barrier for y is a lower barrier for -y.
    up = c0 > 0
    c = np.where(up, -c0, c0)
    a = np.where(up, -a0, a0)
    sd = s * np.sqrt(t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z1 = (c - a * t) / sd
        z2 = (c + a * t) / sd
        term1 = special.ndtr(z1)
        log_term2 = 2.0 * a * c / (s * s) + special.log_ndtr(z2)
        term2 = np.exp(np.minimum(log_term2, 0.0))
        p = term1 + term2
    p = np.where(c >= 0.0, 1.0, p)
    return np.clip(p, 0.0, 1.0)


# --------------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------------
def default_n_steps(horizon_days: float) -> int:
    """Default time grid of the jump simulation: one step an hour, 16 to 2000 steps.

    The diffusion's extremes are exact whatever the grid; the grid only rounds jump times.
    """
    return int(min(2000, max(16, math.ceil(horizon_days * 24.0))))


def simulate_log_extremes(
    model: JumpDiffusion,
    horizon_days: float,
    *,
    n_paths: int = DEFAULT_N_PATHS,
    n_steps: int | None = None,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Running minimum, running maximum and end value of ``ln(S_t/S_0)`` over the horizon.

    Returns three float64 arrays of length ``n_paths``. Within each step of length ``dt`` the
    diffusion goes from ``x0`` to ``x1 = x0 + a dt + s sqrt(dt) Z``; its minimum over the step is
    drawn exactly from the Brownian-bridge law ``(x0 + x1 - sqrt((x1-x0)^2 - 2 s^2 dt ln U))/2``
    (the maximum likewise with an independent ``U``); then the step's Poisson number of jumps
    is added. Memory is O(n_paths); all draws come from ``rng``.
    """
    if n_paths < 1:
        raise InputError(f"n_paths={n_paths}: expected >= 1")
    horizon_days = _positive("horizon_days", horizon_days)
    steps = default_n_steps(horizon_days) if n_steps is None else int(n_steps)
    if steps < 1:
        raise InputError(f"n_steps={n_steps}: expected >= 1")
    dt = horizon_days / DAYS_PER_YEAR / steps
    a = model.log_drift_annual
    s = model.vol_annual
    sdt = s * math.sqrt(dt)
    two_var = 2.0 * s * s * dt
    lam_dt = model.jump_intensity_annual * dt
    x = np.zeros(n_paths)
    mn = np.zeros(n_paths)
    mx = np.zeros(n_paths)
    for _ in range(steps):
        x1 = x + a * dt + sdt * rng.standard_normal(n_paths)
        d2 = (x1 - x) ** 2
        root_min = np.sqrt(d2 - two_var * np.log(rng.random(n_paths)))
        root_max = np.sqrt(d2 - two_var * np.log(rng.random(n_paths)))
        np.minimum(mn, 0.5 * (x + x1 - root_min), out=mn)
        np.maximum(mx, 0.5 * (x + x1 + root_max), out=mx)
        if lam_dt > 0.0:
            k = rng.poisson(lam_dt, n_paths)
            jumped = k > 0
            if np.any(jumped):
                kj = k[jumped]
                x1[jumped] += kj * model.jump_mean_log + np.sqrt(
                    kj
                ) * model.jump_std_log * rng.standard_normal(kj.size)
                np.minimum(mn, x1, out=mn)
                np.maximum(mx, x1, out=mx)
        x = x1
    return mn, mx, x


def _clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


@dataclass(frozen=True)
class LiquidationProbability:
    """Probability that the price touches the liquidation price within the horizon.

    ``ci_low``/``ci_high``/``standard_error`` are ``None`` for the closed-form GBM model;
    for the simulated jump model they are the Clopper-Pearson interval at ``confidence`` and
    ``sqrt(p(1-p)/n_paths)``.
    """

    probability: float
    model: str
    price: float
    liq_price: float
    side: int
    horizon_days: float
    vol_annual: float
    drift_annual: float
    log_drift_annual: float
    distance_frac: float
    distance_sigma: float
    jump_intensity_annual: float = 0.0
    jump_mean_log: float = 0.0
    jump_std_log: float = 0.0
    ci_low: float | None = None
    ci_high: float | None = None
    standard_error: float | None = None
    confidence: float | None = None
    n_paths: int | None = None
    n_steps: int | None = None
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready)."""
        return asdict(self)


def _distance(price: float, liq_price: float, side: int, vol_annual: float, horizon_days: float):
    dist_frac = side * (price - liq_price) / price
    dist_log = abs(math.log(liq_price / price))
    dist_sigma = dist_log / (vol_annual * math.sqrt(horizon_days / DAYS_PER_YEAR))
    return dist_frac, dist_sigma


def prob_liquidation(
    price: float,
    liq_price: float,
    side: int | str,
    vol_annual: float,
    horizon_days: float,
    *,
    drift_annual: float = 0.0,
    model: str = "gbm",
    jump_intensity_annual: float = 0.0,
    jump_mean_log: float = 0.0,
    jump_std_log: float = 0.0,
    n_paths: int = DEFAULT_N_PATHS,
    n_steps: int | None = None,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> LiquidationProbability:
    """Probability of touching ``liq_price`` (quote per base) within ``horizon_days``.

    ``model="gbm"`` uses the closed form (:func:`prob_hit_gbm`); ``model="jump"`` simulates the
    Merton jump-diffusion with ``n_paths`` paths from ``numpy.random.default_rng(seed)`` and
    returns a Clopper-Pearson interval. ``vol_annual`` and ``drift_annual`` are annualised
    over 365 days; ``drift_annual`` is the drift of the price (default 0, so the log-price
    drifts by ``-vol^2/2``).

    Examples
    --------
    >>> r = prob_liquidation(100_000, 90_000, "long", 0.6, 7)
    >>> round(r.probability, 4)
    0.2158
    """
    price = _positive("price", price)
    liq_price = _positive("liq_price", liq_price)
    sd = parse_side(side)
    horizon_days = _positive("horizon_days", horizon_days)
    _check_barrier(price, liq_price, sd)
    if not 0.0 < confidence < 1.0:
        raise InputError(f"confidence={confidence!r}: expected a fraction in (0, 1)")
    jd = JumpDiffusion(
        vol_annual=vol_annual,
        drift_annual=drift_annual,
        jump_intensity_annual=jump_intensity_annual,
        jump_mean_log=jump_mean_log,
        jump_std_log=jump_std_log,
    )
    dist_frac, dist_sigma = _distance(price, liq_price, sd, jd.vol_annual, horizon_days)
    c = math.log(liq_price / price)
    t_years = horizon_days / DAYS_PER_YEAR
    common = dict(
        price=price,
        liq_price=liq_price,
        side=sd,
        horizon_days=horizon_days,
        vol_annual=jd.vol_annual,
        drift_annual=jd.drift_annual,
        log_drift_annual=jd.log_drift_annual,
        distance_frac=dist_frac,
        distance_sigma=dist_sigma,
    )
    if model == "gbm":
        if jd.has_jumps:
            raise InputError("model='gbm' takes no jump parameters; use model='jump'")
        p = float(prob_hit_gbm(c, jd.log_drift_annual, jd.vol_annual, t_years))
        return LiquidationProbability(probability=p, model="gbm", **common)
    if model != "jump":
        raise InputError(f"model={model!r}: expected 'gbm' or 'jump'")
    rng = np.random.default_rng(seed)
    steps = default_n_steps(horizon_days) if n_steps is None else int(n_steps)
    mn, mx, _ = simulate_log_extremes(jd, horizon_days, n_paths=n_paths, n_steps=steps, rng=rng)
    hits = int(np.count_nonzero(mn <= c)) if sd == 1 else int(np.count_nonzero(mx >= c))
    p = hits / n_paths
    lo, hi = _clopper_pearson(hits, n_paths, confidence)
    return LiquidationProbability(
        probability=p,
        model="jump",
        jump_intensity_annual=jd.jump_intensity_annual,
        jump_mean_log=jd.jump_mean_log,
        jump_std_log=jd.jump_std_log,
        ci_low=lo,
        ci_high=hi,
        standard_error=math.sqrt(p * (1 - p) / n_paths),
        confidence=confidence,
        n_paths=n_paths,
        n_steps=steps,
        seed=seed,
        **common,
    )


# --------------------------------------------------------------------------------------------
# fitting volatility and jumps from klines
# --------------------------------------------------------------------------------------------


def read_klines(path: str | Path) -> pl.DataFrame:
    """Read a Binance kline file (``.csv`` or ``.zip`` holding one csv, with or without header).

    Returns the frame sorted by ``open_time`` (epoch ms, Int64) with float ``open``, ``high``,
    ``low``, ``close``. Raises :class:`DataError` naming the file and what was wrong.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: kline file not found")
    try:
        if p.suffix == ".zip":
            with zipfile.ZipFile(p) as zf:
                names = [n for n in zf.namelist() if n.endswith(".csv")]
                if len(names) != 1:
                    raise DataError(f"{p}: expected one .csv inside the zip, found {names}")
                raw = zf.read(names[0])
        else:
            raw = p.read_bytes()
    except zipfile.BadZipFile as exc:
        raise DataError(f"{p}: not a readable zip file ({exc})") from exc
    from liqcascade.data.klines import epoch_ms_expr, parse_kline_text

    df, _ = parse_kline_text(raw, str(p))
    missing = [c for c in ("open_time", "close") if c not in df.columns]
    if missing:
        raise DataError(f"{p}: kline columns {missing} missing (have {df.columns})")
    try:
        out = df.select(
            pl.col("open_time").cast(pl.Int64),
            *[
                pl.col(c).cast(pl.Float64)
                for c in ("open", "high", "low", "close")
                if c in df.columns
            ],
        )
        out = out.with_columns(epoch_ms_expr("open_time")).sort("open_time")
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{p}: open_time/close not numeric ({exc})") from exc
    bad = out.filter(~(pl.col("close") > 0))
    if bad.height:
        row = out.with_row_index().filter(~(pl.col("close") > 0))["index"][0]
        raise DataError(f"{p}: row {row + 2}: close must be > 0")
    return out


def fit_from_store(
    venue: str,
    symbol: str,
    *,
    start: Any = None,
    end: Any = None,
    interval: str | None = None,
    kind: str = "trade",
    db: str | Path | None = None,
    jumps: bool = True,
    threshold_sigmas: float = 4.0,
) -> FittedModel:
    """:func:`fit_from_klines` on klines from the DuckDB market-data store (docs/data.md).

    ``start``/``end`` as the store takes them (datetime, ISO string or epoch ms; half-open);
    ``kind`` ``trade``/``mark``/``index``/``price``; ``db`` default: the store's default path.
    """
    from liqcascade.data import Store

    with Store(db, read_only=True) as st:
        df = st.klines(venue, symbol, start=start, end=end, interval=interval, kind=kind)
    if df.height == 0:
        raise DataError(
            f"store: no {kind} klines for {venue} {symbol} in [{start}, {end}) "
            "(ingest some with `liqcascade data ingest`)"
        )
    f = fit_from_klines(df, jumps=jumps, threshold_sigmas=threshold_sigmas)
    return replace(f, source=f"store {venue} {symbol} {kind} {df['interval'][0]}")


@dataclass(frozen=True)
class FittedModel:
    """A :class:`JumpDiffusion` fitted to kline closes, with what it was fitted on.

    Estimator (threshold jump detection, Mancini 2009): a log-return is a jump when it is more
    than ``threshold_sigmas`` robust standard deviations (1.4826 x MAD) from the median; the
    diffusion volatility is the standard deviation of the other returns, the jump intensity is
    the number of jumps per year and the jump law the mean and standard deviation of the jump
    returns. The drift is not estimated (a day of data says nothing about it): it is 0 unless
    given.
    """

    model: JumpDiffusion
    source: str
    n_returns: int
    bar_seconds: float
    start_ms: int
    end_ms: int
    n_jumps: int
    threshold_sigmas: float
    realised_vol_annual: float

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model"] = asdict(self.model)
        return d


def fit_from_klines(
    klines: pl.DataFrame | str | Path | Sequence[str | Path],
    *,
    jumps: bool = True,
    threshold_sigmas: float = 4.0,
    drift_annual: float = 0.0,
) -> FittedModel:
    """Fit diffusion volatility (and jumps) to kline closes; annualised over 365 days.

    ``klines`` is a frame with ``open_time`` (epoch ms) and ``close`` columns (as returned by
    :func:`read_klines` or the data store), a file path, or a list of paths (concatenated in
    time order). The bar length is the median spacing of ``open_time``; returns across a gap
    longer than 1.5 bars are dropped. With ``jumps=False`` the volatility is the plain
    realised volatility and the model has no jumps.
    """
    threshold_sigmas = _positive("threshold_sigmas", threshold_sigmas)
    if isinstance(klines, pl.DataFrame):
        df = klines
        source = "frame"
        for c in ("open_time", "close"):
            if c not in df.columns:
                raise InputError(f"klines frame: column {c!r} missing (have {df.columns})")
        t_col = pl.col("open_time")
        # the store returns datetimes; files give epoch milliseconds
        t_col = (
            t_col.dt.epoch("ms") if df.schema["open_time"].is_temporal() else t_col.cast(pl.Int64)
        )
        df = df.select(t_col.alias("open_time"), pl.col("close").cast(pl.Float64))
        df = df.sort("open_time")
    else:
        paths = [klines] if isinstance(klines, (str, Path)) else list(klines)
        if not paths:
            raise InputError("klines: no files given")
        frames = [read_klines(p).select("open_time", "close") for p in paths]
        df = pl.concat(frames).unique("open_time", keep="first").sort("open_time")
        names = [Path(p).name for p in paths]
        source = names[0] if len(names) == 1 else f"{names[0]} .. {names[-1]} ({len(names)} files)"
    if df.height < 30:
        raise DataError(f"{source}: {df.height} klines; need at least 30 to fit a volatility")
    t = df["open_time"].to_numpy()
    close = df["close"].to_numpy()
    if np.any(~(close > 0)):
        raise DataError(f"{source}: close must be > 0 in every row")
    gaps = np.diff(t)
    bar_ms = float(np.median(gaps))
    if bar_ms <= 0:
        raise DataError(f"{source}: open_time is not increasing")
    r = np.diff(np.log(close))
    r = r[gaps <= 1.5 * bar_ms]
    dt = bar_ms / 1000.0 / SECONDS_PER_YEAR
    realised = float(np.std(r, ddof=1) / math.sqrt(dt))
    med = float(np.median(r))
    robust = 1.4826 * float(np.median(np.abs(r - med)))
    if robust <= 0:
        robust = float(np.std(r, ddof=1))
    if jumps and robust > 0:
        is_jump = np.abs(r - med) > threshold_sigmas * robust
    else:
        is_jump = np.zeros(r.size, dtype=bool)
    diff_r = r[~is_jump]
    vol = float(np.std(diff_r, ddof=1) / math.sqrt(dt))
    n_jumps = int(is_jump.sum())
    years = r.size * dt
    if n_jumps:
        jr = r[is_jump] - med
        lam = n_jumps / years
        jm = float(jr.mean())
        js = float(jr.std(ddof=1)) if n_jumps > 1 else 0.0
    else:
        lam, jm, js = 0.0, 0.0, 0.0
    logger.debug("fit %s: %d returns, %d jumps, vol %.4f", source, r.size, n_jumps, vol)
    model = JumpDiffusion(
        vol_annual=vol,
        drift_annual=drift_annual,
        jump_intensity_annual=lam,
        jump_mean_log=jm,
        jump_std_log=js,
    )
    return FittedModel(
        model=model,
        source=source,
        n_returns=int(r.size),
        bar_seconds=bar_ms / 1000.0,
        start_ms=int(t[0]),
        end_ms=int(t[-1]),
        n_jumps=n_jumps,
        threshold_sigmas=threshold_sigmas,
        realised_vol_annual=realised,
    )


# --------------------------------------------------------------------------------------------
# one position against the venue's rules
# --------------------------------------------------------------------------------------------
def _margin_module():
    try:
        from liqcascade import margin
    except ImportError as exc:  # pragma: no cover - only while the margin module is missing
        raise RuleError("liqcascade.margin is not available: venue margin rules needed") from exc
    return margin


def _scalar(x: Any) -> float:
    return float(np.asarray(x, dtype=np.float64).reshape(-1)[0])


def _liq_price(rules: Any, side: int, size_base: float, entry_price: float, margin_quote: float):
    m = _margin_module()
    return _scalar(m.liquidation_price(rules, np.int8(side), size_base, entry_price, margin_quote))


def _mm(rules: Any, notional_quote: float) -> float:
    """Maintenance margin (quote) incl. the OKX/Gate taker-fee term of the liquidation test."""
    n = float(notional_quote)
    mm = _scalar(_margin_module().maintenance_margin(rules, np.asarray([n])))
    return mm + float(getattr(rules, "mm_fee_rate", 0.0)) * n


def _loss_at_liquidation(
    rules: Any, size_base: float, liq_price: float, margin_quote: float
) -> float:
    """Trader's loss when liquidated exactly at ``liq_price`` (no slippage).

    At the liquidation price equity equals maintenance margin; the venue's clearance fee
    (``rules.liquidation_fee_rate`` x notional) comes out of what is left, and the trader keeps
    the rest. Slippage below the liquidation price, or a backstop takeover (Hyperliquid keeps
    the maintenance margin), raise the loss up to the whole margin.
    """
    if not liq_price > 0:
        return 0.0
    n_liq = size_base * liq_price
    left = _mm(rules, n_liq) - float(rules.liquidation_fee_rate) * n_liq
    return float(margin_quote - max(0.0, min(left, margin_quote)))


@dataclass(frozen=True)
class PositionRisk:
    """Risk figures of one isolated position at ``mark_price`` (quote currency, fractions).

    ``margin_ratio`` is maintenance margin over equity (Binance's convention: liquidation at
    1.0 or above); ``distance_frac`` is ``side*(mark - liq)/mark`` (> 0 while safe);
    ``distance_sigma`` is ``|ln(liq/mark)| / (vol*sqrt(horizon))``.
    """

    venue: str
    symbol: str
    side: int
    size_base: float
    entry_price: float
    mark_price: float
    margin_quote: float
    notional_quote: float
    unrealised_pnl_quote: float
    equity_quote: float
    maintenance_margin_quote: float
    margin_ratio: float
    effective_leverage: float
    liquidation_price: float
    distance_frac: float
    loss_at_liquidation_quote: float
    liquidatable_now: bool
    vol_annual: float | None = None
    horizon_days: float | None = None
    distance_sigma: float | None = None
    liquidation_probability_gbm: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def position_risk(
    rules: Any,
    side: int | str,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    *,
    mark_price: float | None = None,
    vol_annual: float | None = None,
    horizon_days: float = 1.0,
    drift_annual: float = 0.0,
) -> PositionRisk:
    """Liquidation price, distance, margin ratio of an isolated position on ``rules``' venue.

    The liquidation price is :func:`liqcascade.margin.liquidation_price` (the venue's own
    formula, tier at the liquidation price). With ``vol_annual`` the distance is also given in
    volatility units over ``horizon_days`` and the GBM probability of touching it.

    Examples
    --------
    >>> from liqcascade.venues import load_venue
    >>> r = position_risk(load_venue("binance_usdm", "BTCUSDT"), "long", 0.85, 60_000, 2_550)
    >>> round(r.liquidation_price, 2), round(r.distance_frac, 4)   # Binance FAQ example
    (57228.92, 0.0462)
    """
    sd = parse_side(side)
    size_base = _positive("size_base", size_base)
    entry_price = _positive("entry_price", entry_price)
    margin_quote = _positive("margin_quote", margin_quote)
    mark = entry_price if mark_price is None else _positive("mark_price", mark_price)
    notional = size_base * mark
    upnl = sd * size_base * (mark - entry_price)
    equity = margin_quote + upnl
    mm = _mm(rules, notional)
    ratio = mm / equity if equity > 0 else math.inf
    liq = _liq_price(rules, sd, size_base, entry_price, margin_quote)
    if sd == 1 and not liq > 0:
        dist = 1.0  # a long whose liquidation price is <= 0 cannot be liquidated
    else:
        dist = sd * (mark - liq) / mark
    out: dict[str, Any] = dict(
        venue=str(rules.venue),
        symbol=str(rules.symbol),
        side=sd,
        size_base=size_base,
        entry_price=entry_price,
        mark_price=mark,
        margin_quote=margin_quote,
        notional_quote=notional,
        unrealised_pnl_quote=upnl,
        equity_quote=equity,
        maintenance_margin_quote=mm,
        margin_ratio=ratio,
        effective_leverage=notional / equity if equity > 0 else math.inf,
        liquidation_price=liq,
        distance_frac=dist,
        loss_at_liquidation_quote=_loss_at_liquidation(rules, size_base, liq, margin_quote),
        liquidatable_now=bool(equity < mm) or dist <= 0,
    )
    if vol_annual is not None:
        vol = _positive("vol_annual", vol_annual)
        h = _positive("horizon_days", horizon_days)
        out["vol_annual"] = vol
        out["horizon_days"] = h
        if dist > 0 and liq > 0:
            c = math.log(liq / mark)
            out["distance_sigma"] = abs(c) / (vol * math.sqrt(h / DAYS_PER_YEAR))
            jd = JumpDiffusion(vol_annual=vol, drift_annual=drift_annual)
            out["liquidation_probability_gbm"] = float(
                prob_hit_gbm(c, jd.log_drift_annual, vol, h / DAYS_PER_YEAR)
            )
        elif dist > 0:
            out["distance_sigma"] = math.inf
            out["liquidation_probability_gbm"] = 0.0
        else:
            out["distance_sigma"] = 0.0
            out["liquidation_probability_gbm"] = 1.0
    return PositionRisk(**out)


@dataclass(frozen=True)
class MoveOutcome:
    """What a price move does to a position (quote currency)."""

    move_frac: float
    new_price: float
    pnl_change_quote: float
    unrealised_pnl_quote: float
    equity_quote: float
    maintenance_margin_quote: float
    margin_ratio: float
    liquidated: bool
    realised_loss_if_liquidated_quote: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def move_what_if(
    rules: Any,
    side: int | str,
    size_base: float,
    entry_price: float,
    margin_quote: float,
    move_frac: float,
    *,
    mark_price: float | None = None,
) -> MoveOutcome:
    """Apply a relative price move (``-0.1`` = 10% down) to an isolated position.

    ``liquidated`` is true when the new price is at or beyond the liquidation price (the
    move passes through it; a position is liquidated once equity < maintenance margin).
    ``realised_loss_if_liquidated_quote`` then assumes the fill at the liquidation price.
    """
    sd = parse_side(side)
    move = _finite("move_frac", move_frac)
    if move <= -1.0:
        raise InputError(f"move_frac={move_frac!r}: a price cannot fall by 100% or more")
    base = position_risk(rules, sd, size_base, entry_price, margin_quote, mark_price=mark_price)
    new_price = base.mark_price * (1.0 + move)
    upnl = sd * base.size_base * (new_price - base.entry_price)
    equity = base.margin_quote + upnl
    mm = _mm(rules, base.size_base * new_price)
    liq = base.liquidation_price
    crossed = (sd * (new_price - liq) <= 0) if (liq > 0 or sd == -1) else False
    liquidated = bool(crossed or equity < mm)
    return MoveOutcome(
        move_frac=move,
        new_price=new_price,
        pnl_change_quote=sd * base.size_base * (new_price - base.mark_price),
        unrealised_pnl_quote=upnl,
        equity_quote=equity,
        maintenance_margin_quote=mm,
        margin_ratio=mm / equity if equity > 0 else math.inf,
        liquidated=liquidated,
        realised_loss_if_liquidated_quote=base.loss_at_liquidation_quote if liquidated else None,
    )


# --------------------------------------------------------------------------------------------
# safe sizing
# --------------------------------------------------------------------------------------------
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

    def __init__(
        self,
        side: int,
        model: JumpDiffusion,
        horizon_days: float,
        kind: str,
        n_paths: int,
        n_steps: int | None,
        seed: int,
    ) -> None:
        self.side = side
        self.model = model
        self.t_years = horizon_days / DAYS_PER_YEAR
        self.kind = kind
        self.seed = seed
        self.n_paths = n_paths
        if kind == "jump":
            rng = np.random.default_rng(seed)
            mn, mx, _ = simulate_log_extremes(
                model, horizon_days, n_paths=n_paths, n_steps=n_steps, rng=rng
            )
            # extreme in the direction of the barrier, as a positive log-distance
            self.reach = np.sort(-mn if side == 1 else mx)
        elif kind != "gbm":
            raise InputError(f"model={kind!r}: expected 'gbm' or 'jump'")

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
class SafeSize:
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
    target_probability: float
    binding: str
    model: str
    horizon_days: float
    vol_annual: float
    max_distance_log: float
    seed: int | None = None
    n_paths: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _make_law(side, vol_annual, horizon_days, drift_annual, model, jump, n_paths, n_steps, seed):
    jump = dict(jump or {})
    unknown = set(jump) - {"jump_intensity_annual", "jump_mean_log", "jump_std_log"}
    if unknown:
        raise InputError(f"jump parameters {sorted(unknown)} unknown")
    jd = JumpDiffusion(vol_annual=vol_annual, drift_annual=drift_annual, **jump)
    if model == "gbm" and jd.has_jumps:
        raise InputError("model='gbm' takes no jump parameters; use model='jump'")
    return jd, _BarrierLaw(side, jd, horizon_days, model, n_paths, n_steps, seed)


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


def _safe_result(
    rules: Any,
    side: int,
    price: float,
    margin_quote: float,
    size_base: float,
    target: float,
    binding: str,
    model: str,
    horizon_days: float,
    jd: JumpDiffusion,
    law: _BarrierLaw,
    d_star: float,
    seed: int,
    n_paths: int,
) -> SafeSize:
    """The :class:`SafeSize` answer shared by :func:`safe_size` and :func:`safe_leverage`."""
    liq = _liq_price(rules, side, size_base, price, margin_quote)
    return SafeSize(
        venue=str(rules.venue),
        symbol=str(rules.symbol),
        side=side,
        price=price,
        margin_quote=margin_quote,
        size_base=size_base,
        notional_quote=size_base * price,
        leverage=size_base * price / margin_quote,
        liquidation_price=liq,
        probability=law.prob(_liq_log_distance(side, price, liq)),
        target_probability=target,
        binding=binding,
        model=model,
        horizon_days=horizon_days,
        vol_annual=jd.vol_annual,
        max_distance_log=d_star,
        seed=seed if model == "jump" else None,
        n_paths=n_paths if model == "jump" else None,
    )


def safe_size(
    rules: Any,
    side: int | str,
    price: float,
    margin_quote: float,
    target_prob: float,
    *,
    vol_annual: float,
    horizon_days: float,
    drift_annual: float = 0.0,
    model: str = "gbm",
    jump: Mapping[str, float] | None = None,
    n_paths: int = DEFAULT_N_PATHS,
    n_steps: int | None = None,
    seed: int = DEFAULT_SEED,
) -> SafeSize:
    """Largest position (base units) opened at ``price`` with ``margin_quote`` of isolated margin
    whose probability of liquidation within ``horizon_days`` stays at or below ``target_prob``.

    Inverts the probability in two monotone steps: the barrier distance whose touch
    probability equals the target (brentq on the closed form, or the empirical quantile of
    the simulated extremes with a fixed seed), then the size whose venue liquidation price
    (:func:`liqcascade.margin.liquidation_price`) sits at that distance (brentq). The result is
    capped by the venue's initial-margin tiers (size <= margin x max leverage of its tier).

    Examples
    --------
    >>> from liqcascade.venues import load_venue
    >>> r = safe_size(load_venue("binance_usdm", "BTCUSDT"), "long", 100_000, 1_000, 0.05,
    ...               vol_annual=0.6, horizon_days=7)
    >>> round(r.leverage, 2), round(r.probability, 6), r.binding
    (6.4, 0.05, 'liquidation probability')
    """
    sd = parse_side(side)
    price = _positive("price", price)
    margin_quote = _positive("margin_quote", margin_quote)
    target = _check_target(target_prob)
    horizon_days = _positive("horizon_days", horizon_days)
    jd, law = _make_law(
        sd, vol_annual, horizon_days, drift_annual, model, jump, n_paths, n_steps, seed
    )
    d_star = law.distance_for(target)
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
                f"even a tiny position has a liquidation probability above {target}: "
                "the margin cannot protect against this volatility over this horizon"
            )
        size = float(
            optimize.brentq(lambda s: dist_at(s) - d_star, lo, size_cap, xtol=1e-12, rtol=1e-12)
        )
        # brentq may land a hair on the unsafe side; step back until the distance is enough
        while dist_at(size) < d_star:
            size *= 1.0 - 1e-12
        binding = "liquidation probability"
    return _safe_result(
        rules,
        sd,
        price,
        margin_quote,
        size,
        target,
        binding,
        model,
        horizon_days,
        jd,
        law,
        d_star,
        seed,
        n_paths,
    )


def safe_leverage(
    rules: Any,
    side: int | str,
    price: float,
    size_base: float,
    target_prob: float,
    *,
    vol_annual: float,
    horizon_days: float,
    drift_annual: float = 0.0,
    model: str = "gbm",
    jump: Mapping[str, float] | None = None,
    n_paths: int = DEFAULT_N_PATHS,
    n_steps: int | None = None,
    seed: int = DEFAULT_SEED,
) -> SafeSize:
    """Highest leverage (least isolated margin) for ``size_base`` opened at ``price`` keeping the
    probability of liquidation within ``horizon_days`` at or below ``target_prob``.

    Capped by the venue's maximum leverage for the position's notional tier.
    """
    sd = parse_side(side)
    price = _positive("price", price)
    size_base = _positive("size_base", size_base)
    target = _check_target(target_prob)
    horizon_days = _positive("horizon_days", horizon_days)
    notional = size_base * price
    lev_cap = _max_leverage_at(rules, notional)
    jd, law = _make_law(
        sd, vol_annual, horizon_days, drift_annual, model, jump, n_paths, n_steps, seed
    )
    d_star = law.distance_for(target)

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
    return _safe_result(
        rules,
        sd,
        price,
        margin_q,
        size_base,
        target,
        binding,
        model,
        horizon_days,
        jd,
        law,
        d_star,
        seed,
        n_paths,
    )


# --------------------------------------------------------------------------------------------
# protective stop and hedge
# --------------------------------------------------------------------------------------------
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
    steps = default_n_steps(horizon_days) if n_steps is None else int(n_steps)
    dt = horizon_days / DAYS_PER_YEAR / steps
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
class StopAnalysis:
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

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

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
    size_base = _positive("size_base", size_base)
    entry_price = _positive("entry_price", entry_price)
    margin_quote = _positive("margin_quote", margin_quote)
    price = entry_price if mark_price is None else _positive("mark_price", mark_price)
    horizon_days = _positive("horizon_days", horizon_days)
    h = _nonneg("hedge_ratio", hedge_ratio)
    if h > 1.0:
        raise InputError(f"hedge_ratio={hedge_ratio!r}: expected a fraction in [0, 1]")
    slip = _nonneg("stop_slippage_frac", stop_slippage_frac)
    fee = (
        float(rules.taker_fee_rate)
        if taker_fee_rate is None
        else _nonneg("taker_fee_rate", taker_fee_rate)
    )
    jd = JumpDiffusion(vol_annual=vol_annual, drift_annual=drift_annual, **dict(jump or {}))
    base = position_risk(rules, sd, size_base, entry_price, margin_quote, mark_price=price)
    if base.liquidatable_now:
        raise InputError(
            f"the position is already liquidatable at price {price} "
            f"(liquidation price {base.liquidation_price})"
        )
    liq = base.liquidation_price
    liq_log = sd * math.log(liq / price) if liq > 0 else -math.inf
    if stop_price is not None:
        stop_price = _positive("stop_price", stop_price)
        if not sd * (price - stop_price) > 0:
            raise InputError(
                f"stop_price={stop_price} must be {'below' if sd == 1 else 'above'} the price "
                f"{price} for a {'long' if sd == 1 else 'short'}"
            )
        if liq > 0 and not sd * (stop_price - liq) > 0:
            raise InputError(
                f"stop_price={stop_price} is beyond the liquidation price {liq:.6g}: the "
                "position would be liquidated before the stop triggers"
            )
    steps = default_n_steps(horizon_days) if n_steps is None else int(n_steps)

    def run(stop_log: np.ndarray, liq_log_: np.ndarray):
        rng = np.random.default_rng(seed)  # one set of paths for every scenario
        return simulate_stop_paths(
            jd, sd, horizon_days, stop_log, liq_log_, n_paths=n_paths, n_steps=steps, rng=rng
        )

    def summarise(name, size, liq_p, loss_liq, stop_p, out, exit_log, end_log, hedge_size):
        n = out.size
        # price at exit or horizon (quote per base)
        end_price = price * np.exp(sd * end_log)
        stop_fill = price * np.exp(sd * exit_log) * (1.0 - sd * slip)
        liq_fill = np.full(n, liq_p if liq_p > 0 else 0.0)
        exit_price = np.where(out == 1, stop_fill, np.where(out == 2, liq_fill, end_price))
        upnl_start = sd * size * (price - entry_price)
        pnl_main = np.where(
            out == 2,
            -margin_quote + (margin_quote - loss_liq) - upnl_start,
            sd * size * (exit_price - price),
        )
        fees = np.where(out == 1, fee * size * stop_fill, 0.0)
        if name == "reduced":
            fees = fees + fee * (size_base - size) * price
        hedge_pnl = -sd * hedge_size * (exit_price - price)
        fees = fees + fee * hedge_size * (price + exit_price)
        total = pnl_main + hedge_pnl - fees
        realised = np.where(
            out > 0,
            -total,
            fee * hedge_size * price
            + (fee * (size_base - size) * price if name == "reduced" else 0.0),
        )
        k_liq = int(np.count_nonzero(out == 2))
        lo, hi = _clopper_pearson(k_liq, n, confidence)
        stopped = out == 1
        return StopScenario(
            name=name,
            size_base=size,
            liquidation_price=liq_p,
            stop_price=stop_p,
            hedge_size_base=hedge_size,
            prob_stop=float(np.mean(stopped)),
            prob_liquidation=k_liq / n,
            prob_liquidation_ci_low=lo,
            prob_liquidation_ci_high=hi,
            expected_realised_loss_quote=float(np.mean(realised)),
            expected_pnl_quote=float(np.mean(total)),
            expected_fees_quote=float(np.mean(fees)),
            loss_given_stop_quote=float(-np.mean(total[stopped])) if stopped.any() else None,
            loss_given_liquidation_quote=float(loss_liq + upnl_start),
        )

    # loss at liquidation is measured from entry; re-base to the current price in summarise
    loss_liq = base.loss_at_liquidation_quote
    # every scenario's barrier pair, evaluated in one pass over the same paths
    specs: list[tuple[str, float, float, float, float | None, float, float, float]] = [
        ("as is", size_base, liq, loss_liq, None, 0.0, liq_log, liq_log)
    ]
    if stop_price is not None:
        specs.append(
            (
                "stop",
                size_base,
                liq,
                loss_liq,
                stop_price,
                0.0,
                sd * math.log(stop_price / price),
                liq_log,
            )
        )
    if h > 0.0:
        specs.append(("hedge", size_base, liq, loss_liq, None, h * size_base, liq_log, liq_log))
        if h < 1.0:
            small = size_base * (1.0 - h)
            r2 = position_risk(rules, sd, small, entry_price, margin_quote, mark_price=price)
            liq2 = r2.liquidation_price
            liq2_log = sd * math.log(liq2 / price) if liq2 > 0 else -math.inf
            specs.append(
                (
                    "reduced",
                    small,
                    liq2,
                    r2.loss_at_liquidation_quote,
                    None,
                    0.0,
                    liq2_log,
                    liq2_log,
                )
            )
    out, ex, end = run(np.array([x[6] for x in specs]), np.array([x[7] for x in specs]))
    rows = [
        summarise(name, size, liq_p, loss_l, stop_p, out[k], ex[k], end, hedge)
        for k, (name, size, liq_p, loss_l, stop_p, hedge, _, _) in enumerate(specs)
    ]
    return StopAnalysis(
        venue=str(rules.venue),
        symbol=str(rules.symbol),
        side=sd,
        price=price,
        entry_price=entry_price,
        margin_quote=margin_quote,
        horizon_days=horizon_days,
        vol_annual=jd.vol_annual,
        jump_intensity_annual=jd.jump_intensity_annual,
        taker_fee_rate=fee,
        liquidation_fee_rate=float(rules.liquidation_fee_rate),
        scenarios=rows,
        n_paths=n_paths,
        n_steps=steps,
        seed=seed,
    )


# --------------------------------------------------------------------------------------------
# liquidation-cluster warning
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClusterBand:
    """The densest band of liquidations of one side within ``search_frac`` of the price."""

    side: int
    band_low_price: float
    band_high_price: float
    notional_quote: float
    share_of_side: float
    distance_frac: float
    distance_sigma: float | None
    prob_reach_gbm: float | None
    warning: bool
    message: str


@dataclass(frozen=True)
class ClusterWarning:
    """Dense liquidation bands near the price, from a liquidation map (see ``estimate.py``)."""

    price: float
    band_frac: float
    search_frac: float
    horizon_days: float
    vol_annual: float | None
    bands: list[ClusterBand]
    position_message: str | None

    @property
    def warning(self) -> bool:
        return any(b.warning for b in self.bands)

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warning"] = self.warning
        return d


def _map_frame(liq_map: Any) -> pl.DataFrame:
    df = getattr(liq_map, "levels", liq_map)
    if not isinstance(df, pl.DataFrame):
        raise InputError("liquidation map: expected a polars DataFrame or a LiquidationMap")
    missing = [c for c in ("price_level", "side", "notional_quote") if c not in df.columns]
    if missing:
        raise InputError(
            f"liquidation map: columns {missing} missing; expected price_level (quote), "
            "side (+1 long / -1 short, the side liquidated there), notional_quote"
        )
    side = df["side"]
    if side.dtype == pl.String:
        side = side.str.to_lowercase().replace_strict(
            {"long": 1, "short": -1, "1": 1, "-1": -1}, default=0, return_dtype=pl.Int8
        )
    out = pl.DataFrame(
        {
            "price_level": df["price_level"].cast(pl.Float64),
            "side": side.cast(pl.Int8),
            "notional_quote": df["notional_quote"].cast(pl.Float64),
        }
    )
    bad = out.with_row_index().filter(
        ~pl.col("side").is_in([1, -1])
        | ~(pl.col("price_level") > 0)
        | ~(pl.col("notional_quote") >= 0)
    )
    if bad.height:
        r = bad.row(0, named=True)
        raise InputError(
            f"liquidation map row {r['index']}: side={r['side']}, price_level={r['price_level']}, "
            f"notional_quote={r['notional_quote']}; expected side +1/-1, price > 0, notional >= 0"
        )
    return out.group_by("price_level", "side").agg(pl.col("notional_quote").sum())


def cluster_warning(
    price: float,
    liq_map: Any,
    *,
    band_frac: float = 0.01,
    search_frac: float = 0.10,
    vol_annual: float | None = None,
    horizon_days: float = 1.0,
    drift_annual: float = 0.0,
    warn_distance_frac: float = 0.03,
    warn_prob: float = 0.10,
    position_side: int | str | None = None,
    position_liq_price: float | None = None,
) -> ClusterWarning:
    """How close ``price`` is to the densest band of an estimated liquidation map.

    ``liq_map`` is a polars frame (or :class:`liqcascade.estimate.LiquidationMap`) with
    ``price_level`` (quote), ``side`` (+1/-1: the side liquidated there; long liquidations sit
    below the price, short ones above) and ``notional_quote``. For each side the band of width
    ``band_frac x price`` holding the most notional within ``search_frac`` of the price is
    found (sliding window over the levels); its distance is to its nearest edge. A band warns
    when it is within ``warn_distance_frac`` or, given ``vol_annual``, when the GBM probability
    of touching it within ``horizon_days`` is at least ``warn_prob``. Forced orders fired in
    the band move the price further in the same direction, so a band between the price and a
    position's liquidation price (``position_side``/``position_liq_price``) is flagged.
    """
    price = _positive("price", price)
    band_frac = _positive("band_frac", band_frac)
    search_frac = _positive("search_frac", search_frac)
    horizon_days = _positive("horizon_days", horizon_days)
    vol = None if vol_annual is None else _positive("vol_annual", vol_annual)
    df = _map_frame(liq_map)
    width = band_frac * price
    bands: list[ClusterBand] = []
    for sd in (1, -1):
        sub = df.filter(pl.col("side") == sd)
        if sd == 1:
            sub = sub.filter(
                (pl.col("price_level") < price)
                & (pl.col("price_level") >= price * (1 - search_frac))
            )
        else:
            sub = sub.filter(
                (pl.col("price_level") > price)
                & (pl.col("price_level") <= price * (1 + search_frac))
            )
        total = float(sub["notional_quote"].sum()) if sub.height else 0.0
        if sub.height == 0 or total <= 0:
            continue
        sub = sub.sort("price_level")
        p = sub["price_level"].to_numpy()
        q = sub["notional_quote"].to_numpy()
        cq = np.concatenate([[0.0], np.cumsum(q)])
        if sd == 1:  # band [p_i - w, p_i], nearest edge p_i
            lo_idx = np.searchsorted(p, p - width, side="left")
            sums = cq[np.arange(p.size) + 1] - cq[lo_idx]
            i = int(np.argmax(sums))
            low, high, edge = p[i] - width, p[i], p[i]
        else:  # band [p_i, p_i + w], nearest edge p_i
            hi_idx = np.searchsorted(p, p + width, side="right")
            sums = cq[hi_idx] - cq[np.arange(p.size)]
            i = int(np.argmax(sums))
            low, high, edge = p[i], p[i] + width, p[i]
        notional = float(sums[i])
        dist = float(abs(price - edge) / price)
        dsig = prob = None
        if vol is not None:
            c = math.log(edge / price)
            dsig = abs(c) / (vol * math.sqrt(horizon_days / DAYS_PER_YEAR))
            jd = JumpDiffusion(vol_annual=vol, drift_annual=drift_annual)
            prob = float(prob_hit_gbm(c, jd.log_drift_annual, vol, horizon_days / DAYS_PER_YEAR))
        warn = dist <= warn_distance_frac or (prob is not None and prob >= warn_prob)
        who = "long" if sd == 1 else "short"
        where = "below" if sd == 1 else "above"
        msg = (
            f"{notional:,.0f} quote of {who} liquidations in {low:,.2f}-{high:,.2f}, "
            f"{dist:.2%} {where} the price"
            + (f" ({dsig:.2f} sigma, P(reach in {horizon_days:g} d) = {prob:.1%})" if vol else "")
        )
        bands.append(
            ClusterBand(
                side=sd,
                band_low_price=float(low),
                band_high_price=float(high),
                notional_quote=notional,
                share_of_side=notional / total,
                distance_frac=dist,
                distance_sigma=dsig,
                prob_reach_gbm=prob,
                warning=bool(warn),
                message=("WARNING: " if warn else "") + msg,
            )
        )
    pos_msg = None
    if position_side is not None and position_liq_price is not None:
        ps = parse_side(position_side)
        pl_ = _positive("position_liq_price", position_liq_price)
        _check_barrier(price, pl_, ps, "position_liq_price")
        for b in bands:
            if b.side != ps:
                continue
            edge = b.band_high_price if ps == 1 else b.band_low_price
            if ps * (edge - pl_) > 0:
                pos_msg = (
                    f"the densest {'long' if ps == 1 else 'short'}-liquidation band "
                    f"({b.band_low_price:,.2f}-{b.band_high_price:,.2f}) lies between the price "
                    f"and your liquidation price {pl_:,.2f}: a cascade through it pushes the "
                    "price toward your liquidation"
                )
            else:
                pos_msg = (
                    f"your liquidation price {pl_:,.2f} is reached before the densest band "
                    f"({b.band_low_price:,.2f}-{b.band_high_price:,.2f})"
                )
    return ClusterWarning(
        price=price,
        band_frac=band_frac,
        search_frac=search_frac,
        horizon_days=horizon_days,
        vol_annual=vol,
        bands=bands,
        position_message=pos_msg,
    )


# --------------------------------------------------------------------------------------------
# a whole account
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountRisk:
    """Per-position and per-account risk of a book at given marks (quote currency).

    ``positions`` has one row per position: liquidation price (the book's: isolated formula or
    the cross formula with the other positions at their marks), distance in % and volatility
    units, GBM probability, and the what-if columns when a move was given. ``accounts`` has
    one row per margin pool (an account's cross wallet, or one isolated position): equity,
    maintenance margin, margin ratio (MM/equity) and, after the move, whether it is
    liquidated. The move is applied to every mark at once (one common relative move).
    """

    positions: pl.DataFrame
    accounts: pl.DataFrame
    move_frac: float | None
    vol_annual: float | None
    horizon_days: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "move_frac": self.move_frac,
            "vol_annual": self.vol_annual,
            "horizon_days": self.horizon_days,
            "positions": self.positions.to_dicts(),
            "accounts": self.accounts.to_dicts(),
        }


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
    from liqcascade.venues import load_venue

    margin = _margin_module()
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
    mark = book.entry_price.copy()
    for i in range(n):
        if isinstance(marks, (int, float)):
            mark[i] = _positive("mark_price", marks)
        elif marks and symbols[i] in marks:
            mark[i] = _positive(f"mark of {symbols[i]}", marks[symbols[i]])
    mm = np.empty(n)
    mm_new = np.full(n, np.nan)
    new_mark = mark * (1.0 + move) if move is not None else None
    rules_cache: dict[tuple[str, str], Any] = {}
    for i in range(n):
        key = (str(venues[i]), str(symbols[i]))
        if key not in rules_cache:
            rules_cache[key] = load_venue(*key)
        r = rules_cache[key]
        fee = float(r.mm_fee_rate)
        q = book.size_base[i]
        mm[i] = float(margin.maintenance_margin(r, q * mark[i])) + fee * q * mark[i]
        if new_mark is not None:
            mm_new[i] = float(margin.maintenance_margin(r, q * new_mark[i])) + fee * q * new_mark[i]
    side = book.side.astype(np.float64)
    upnl = side * book.size_base * (mark - book.entry_price)
    liq = book.liquidation_price
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = np.where(np.isfinite(liq), side * (mark - liq) / mark, 1.0)
    pos = {
        "account_id": book.account_id,
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
        t = horizon_days / DAYS_PER_YEAR
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.log(liq / mark)
            dsig = np.where(np.isfinite(liq), np.abs(c) / (vol * math.sqrt(t)), np.inf)
        jd = JumpDiffusion(vol_annual=vol, drift_annual=drift_annual)
        prob = np.where(
            ~np.isfinite(liq),
            0.0,
            np.where(
                dist <= 0,
                1.0,
                prob_hit_gbm(np.where(np.isfinite(c), c, -1.0), jd.log_drift_annual, vol, t),
            ),
        )
        pos["distance_sigma"] = np.where(dist <= 0, 0.0, dsig)
        pos["liquidation_probability_gbm"] = prob
    # margin pools: a cross account, or one isolated position
    is_cross = book.margin_mode == 1
    pool = np.where(is_cross, book.account_id.astype(str), "iso-" + np.arange(n).astype(str))
    collateral = np.where(
        is_cross,
        np.array([book.account_collateral_quote.get(int(a), np.nan) for a in book.account_id]),
        book.margin_quote,
    )
    if move is not None:
        upnl_new = side * book.size_base * (new_mark - book.entry_price)
        pos["new_mark_price"] = new_mark
        pos["pnl_change_quote"] = upnl_new - upnl
        pos["new_maintenance_margin_quote"] = mm_new
    frame = pl.DataFrame(pos).with_columns(
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
    if move is not None:
        aggs += [pl.col("pnl_change_quote").sum(), pl.col("new_maintenance_margin_quote").sum()]
    acc = frame.group_by("pool", maintain_order=True).agg(aggs)
    acc = acc.with_columns(
        (pl.col("collateral_quote") + pl.col("unrealised_pnl_quote")).alias("equity_quote")
    ).with_columns(
        pl.when(pl.col("equity_quote") > 0)
        .then(pl.col("maintenance_margin_quote") / pl.col("equity_quote"))
        .otherwise(float("inf"))
        .alias("margin_ratio"),
        (pl.col("notional_quote") / pl.col("equity_quote")).alias("effective_leverage"),
    )
    if move is not None:
        acc = acc.with_columns(
            (pl.col("equity_quote") + pl.col("pnl_change_quote")).alias("new_equity_quote")
        ).with_columns(
            pl.when(pl.col("new_equity_quote") > 0)
            .then(pl.col("new_maintenance_margin_quote") / pl.col("new_equity_quote"))
            .otherwise(float("inf"))
            .alias("new_margin_ratio"),
            (pl.col("new_equity_quote") < pl.col("new_maintenance_margin_quote")).alias(
                "liquidated"
            ),
        )
        liq_pools = set(acc.filter(pl.col("liquidated"))["pool"].to_list())
        frame = frame.with_columns(pl.col("pool").is_in(list(liq_pools)).alias("liquidated"))
    return AccountRisk(
        positions=frame,
        accounts=acc,
        move_frac=move,
        vol_annual=vol,
        horizon_days=horizon_days,
    )
