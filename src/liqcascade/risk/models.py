"""The price models of the risk tools: Merton jump-diffusion (GBM without jumps), the GBM
first-passage law and the exact Brownian-bridge simulation of running extremes."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from liqcascade.errors import InputError
from liqcascade.risk._checks import _finite, _nonneg, _positive

#: Days per year used to annualise volatility and drift (crypto trades 365 days a year).
DAYS_PER_YEAR = 365.0
#: Default number of simulated paths for the jump model.
DEFAULT_N_PATHS = 100_000
#: Default Monte Carlo seed (stored in every result).
DEFAULT_SEED = 20251010
#: Default confidence level of the binomial interval.
DEFAULT_CONFIDENCE = 0.95


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


#: The jump parameters of :class:`JumpDiffusion`, the keys a ``jump`` mapping may hold.
JUMP_PARAMETERS = ("jump_intensity_annual", "jump_mean_log", "jump_std_log")
#: The price models of the risk tools: closed-form GBM and simulated Merton jump-diffusion.
MODELS = ("gbm", "jump")


def price_model(
    model: str, vol_annual: float, drift_annual: float = 0.0, **jump: float
) -> JumpDiffusion:
    """The :class:`JumpDiffusion` of the risk model named ``model`` (``"gbm"`` or ``"jump"``).

    ``jump`` holds the jump parameters (:data:`JUMP_PARAMETERS`); ``"gbm"`` takes none.

    Examples
    --------
    >>> price_model("jump", 0.6, jump_intensity_annual=20, jump_mean_log=-0.05).kappa < 0
    True
    """
    unknown = set(jump) - set(JUMP_PARAMETERS)
    if unknown:
        raise InputError(f"jump parameters {sorted(unknown)} unknown")
    jd = JumpDiffusion(vol_annual=vol_annual, drift_annual=drift_annual, **jump)
    if model == "gbm" and jd.has_jumps:
        raise InputError("model='gbm' takes no jump parameters; use model='jump'")
    if model not in MODELS:
        raise InputError(f"model={model!r}: expected 'gbm' or 'jump'")
    return jd


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


def gbm_touch(
    log_barrier: np.ndarray | float,
    vol_annual: float,
    horizon_days: float,
    drift_annual: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Distance in volatility units ``|c| / (vol sqrt(T))`` of a barrier ``c = ln(level/price)``
    and the GBM probability of touching it within ``horizon_days`` (:func:`prob_hit_gbm` with
    the log-drift of :class:`JumpDiffusion` without jumps). Vectorised over ``log_barrier``."""
    jd = JumpDiffusion(vol_annual=vol_annual, drift_annual=drift_annual)
    t_years = horizon_days / DAYS_PER_YEAR
    c = np.asarray(log_barrier, dtype=np.float64)
    dist_sigma = np.abs(c) / (jd.vol_annual * math.sqrt(t_years))
    return dist_sigma, prob_hit_gbm(c, jd.log_drift_annual, jd.vol_annual, t_years)


# --------------------------------------------------------------------------------------------
# simulation
# --------------------------------------------------------------------------------------------
def default_n_steps(horizon_days: float) -> int:
    """Default time grid of the jump simulation: one step an hour, 16 to 2000 steps.

    The diffusion's extremes are exact whatever the grid; the grid only rounds jump times.
    """
    return int(min(2000, max(16, math.ceil(horizon_days * 24.0))))


def step_grid(horizon_days: float, n_steps: int | None) -> tuple[int, float]:
    """The simulation's steps over ``horizon_days``: their number (``n_steps``, or
    :func:`default_n_steps` when ``None``) and the length of one step in years."""
    steps = default_n_steps(horizon_days) if n_steps is None else int(n_steps)
    if steps < 1:
        raise InputError(f"n_steps={n_steps}: expected >= 1")
    return steps, horizon_days / DAYS_PER_YEAR / steps


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
    steps, dt = step_grid(horizon_days, n_steps)
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
