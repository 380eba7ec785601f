"""The market model: how net order flow moves the price, how liquidity responds, and where
forced orders come from. Every ensemble replay, forecast and validation runs through it.

The model works on 1-minute bars in log price (docs/market-model.md states every formula).

State at the close of bar t: the volatility state ``h_t`` (variance of 1m log returns per bar),
the transient impact ``T_t``, the exogenous net taker flow ``qe_t`` (base units, buy > 0), and
two queues of forced orders (long liquidations to sell, short liquidations to buy).

One step (bar t+1), with ``sr = sqrt(h_t) / sigma_ref``:

- liquidity state: impact per base unit ``lam = lam_ref * sr**beta`` (Kyle lambda rises as
  volatility rises: depth is withdrawn), expected traded volume ``V = v_ref * sr**gamma_v``;
- exogenous flow ``qe' = phi * qe + s_q * sr**gamma_q * z_q`` (Student-t ``z_q``), clipped to
  +-3 V (a bound that binds only in the far tail);
- forced flow: the liquidation engine executes at most ``forced_cap_frac * V`` of each queue
  per minute (forced orders are taker orders and never exceed what the market trades);
- transient impact (a propagator with kernel ``G(k) = perm + (1 - perm) rho**k``):
  ``r = lam * q - (1 - perm) (1 - rho) T + c_e sqrt(max(h - v_q, 0.05 h)) z``,
  ``T' = rho T + lam q``, where ``v_q = (lam s_q sr**gamma_q)**2 / (1 - phi**2)`` is the
  variance the flow's impact contributes: the noise fills the rest of the volatility state, so
  a step's variance is about ``h`` before forced orders add to it;
- bar low and high: the extremes of a Brownian bridge between the two closes with variance
  ``(k_range**2) h`` (exact sampling by the reflection principle);
- crossing: when the running low passes liquidation levels of the book grid, their size joins
  the long queue (shorts: the running high); they execute from the next bar on;
- the volatility state updates ``h' = a h + (1 - a) r**2``.

Liquidity thus is a state variable: forced selling raises volatility, which widens impact and
volume, which can liquidate more; depth recovers in exactly one place, the EWMA decay ``a`` of
the volatility state, and impact relaxes in one place, the propagator decay ``rho``.

``simulate_paths`` (numba, parallel over paths) and ``simulate_paths_plain`` (plain Python) are
twins; tests check they agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
from numba import njit, prange
from scipy import linalg, signal

from liqcascade.errors import ConfigError, InputError

__all__ = [
    "BookPrior",
    "child_seed",
    "crossed_size",
    "Ensemble",
    "MarketParams",
    "MarketState",
    "ParamsFile",
    "PathDraws",
    "default_params",
    "draw_ensemble",
    "filter_state",
    "impact_scale",
    "transient_state",
    "long_run_variance",
    "variance_state",
    "load_params",
    "run_ensemble",
    "depth_profile",
    "flow_memory_state",
    "flow_variance_factor",
    "simulate_paths",
    "simulate_paths_plain",
    "simulate_tape",
    "write_params",
]

PARAMS_SCHEMA = "liqcascade.market/1"
SIGMA_REF_PER_MIN = 5e-4  # normalisation constant of the volatility state (5 bp per minute)
BOOK_BIN_LOG = 1e-3  # width of a book grid bin in log price (0.1 %)
BOOK_BINS = 400  # grid reaches 40 % in log price on each side


class MarketParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fitted parameters of the market model (units in the names; per = per 1m bar)."""

    vol_decay: float = 0.95
    vol_reversion: float = 0.0
    impact_lambda_ref_per_base: float = 5e-6
    impact_vol_elasticity: float = 0.5
    impact_permanent_frac: float = 0.5
    impact_decay_minutes: float = 5.0
    noise_scale: float = 0.8
    noise_tail_df: float = 4.0
    flow_persistence: float = 0.2
    flow_scale_ref_base: float = 50.0
    flow_vol_elasticity: float = 1.0
    flow_tail_df: float = 4.0
    flow_memory_coef: float = 0.0
    flow_memory_decay: float = 0.8
    volume_ref_base: float = 150.0
    volume_vol_elasticity: float = 1.0
    volume_log_sd: float = 0.5
    range_scale: float = 1.0

    @property
    def rho(self) -> float:
        return math.exp(-1.0 / max(self.impact_decay_minutes, 1e-9))


class BookPrior(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Stated priors for the position book (not identified by the tape; see the docs)."""

    venue: str = "binance_usdm"
    symbol: str = "BTCUSDT"
    leverage_priors: tuple[str, str] = ("default", "high")
    oi_median_base: float = 87_650.0
    oi_log_sd: float = 0.30
    forced_cap_frac: float = 0.5
    lookback_minutes: int = 1440
    old_entry_log_sd: float = 0.04
    oi_source: str = (
        "geometric mean of Binance BTCUSDT OI 100,243 BTC (7 Oct 2025) and 76,643 BTC "
        "(2 Nov 2025), rows of Binance futures metrics files (sum_open_interest) kept as test "
        "fixtures in unrelated public repositories; both weak"
    )


class ParamsFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A parameters file: fitted values, their uncertainty and the stated priors."""

    schema: str = PARAMS_SCHEMA
    market: MarketParams = MarketParams()
    book: BookPrior = BookPrior()
    stderr: dict[str, float] = {}
    identified: dict[str, bool] = {}
    fit: dict[str, Any] = {}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        if isinstance(v, float) and not math.isfinite(v):
            return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")  # TOML 1.0 floats
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_table(name: str, d: dict[str, Any], out: list[str]) -> None:
    plain = {k: v for k, v in d.items() if not isinstance(v, dict)}
    nested = {k: v for k, v in d.items() if isinstance(v, dict)}
    out.append(f"[{name}]")
    out.extend(f"{k} = {_toml_value(v)}" for k, v in plain.items())
    out.append("")
    for k, v in nested.items():
        _toml_table(f"{name}.{k}", v, out)


def write_params(path: str | Path, params: ParamsFile, header: str = "") -> Path:
    """Write a parameters file as TOML (atomic: a temporary file renamed into place)."""
    p = Path(path)
    d = msgspec.to_builtins(params)
    out = [f"# {line}" for line in header.splitlines()] if header else []
    out.append(f"schema = {_toml_value(d.pop('schema'))}")
    out.append("")
    for key in ("market", "book", "stderr", "identified", "fit"):
        _toml_table(key, d[key], out)
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text("\n".join(out), encoding="utf-8")
    tmp.replace(p)
    return p


def load_params(path: str | Path | None = None) -> ParamsFile:
    """Load a parameters file (default: the shipped calibration, ``market_params.toml``)."""
    from liqcascade.config import load

    if path is None:
        p = Path(str(resources.files("liqcascade").joinpath("market_params.toml")))
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"{p}: parameters file not found")
    pf = load(p, ParamsFile, what="parameters")
    if pf.schema != PARAMS_SCHEMA:
        raise ConfigError(f"{p.name}: schema must be {PARAMS_SCHEMA!r}, got {pf.schema!r}")
    return pf


def default_params() -> ParamsFile:
    """The shipped calibration (see docs/market-model.md for its training set)."""
    return load_params(None)


# --------------------------------------------------------------------------------------------
# state filter on an observed tape


@dataclass(frozen=True)
class MarketState:
    """Model state at the close of every bar of an observed tape (index = bar)."""

    h: np.ndarray  # variance state per bar (known at the bar's close)
    transient: np.ndarray  # transient impact T (log price)
    flow_base: np.ndarray  # observed net taker flow (the flow state)
    lam: np.ndarray  # impact per base unit used for each bar (from the state before it)
    flow_memory_base: np.ndarray  # EWMA of the net taker flow up to and with the bar
    h_bar: np.ndarray  # long-run variance the state reverts to (mean r**2 up to the bar)


def initial_variance(close: np.ndarray, warmup: int = 30) -> float:
    """Mean squared 1m log return of the first ``warmup`` returns (floor 1e-10)."""
    r = np.diff(np.log(close[: warmup + 1]))
    v = float(np.mean(r * r)) if r.size else SIGMA_REF_PER_MIN**2
    return max(v, 1e-10)


def variance_state(
    close: np.ndarray, decay: float, warmup: int = 30, reversion: float = 0.0
) -> np.ndarray:
    """The volatility state after each bar.

    ``h_0`` = :func:`initial_variance`; ``h_t = (1 - k) (decay h_{t-1} + (1 - decay) r_t**2)
    + k hbar_t`` with ``r_t`` the 1m log return of bar t, ``k = reversion`` (per minute) and
    ``hbar_t`` the long-run variance, the mean of ``r_1**2 .. r_t**2`` (:func:`long_run_variance`).
    With ``k = 0`` this is the plain EWMA.
    """
    h0 = initial_variance(close, warmup)
    r = np.diff(np.log(close))
    hbar = long_run_variance(close)[1:]
    k = float(reversion)
    c = (1.0 - k) * decay
    u = (1.0 - k) * (1.0 - decay) * r * r + k * hbar
    zi = signal.lfiltic([1.0], [1.0, -c], [h0])
    after = signal.lfilter([1.0], [1.0, -c], u, zi=zi)[0]
    return np.concatenate([[h0], after])


def long_run_variance(close: np.ndarray, warmup: int = 30) -> np.ndarray:
    """Mean squared 1m log return of the tape up to each bar (causal; :func:`initial_variance`
    at bar 0), the level the volatility state reverts to."""
    r = np.diff(np.log(np.asarray(close, dtype=float)))
    h0 = initial_variance(close, warmup)
    if r.size == 0:
        return np.array([h0])
    m = np.cumsum(r * r) / np.arange(1, r.size + 1)
    return np.maximum(np.concatenate([[h0], m]), 1e-10)


def transient_state(impulse: np.ndarray, rho: float) -> np.ndarray:
    """The propagator's transient part after each bar: ``T_t = rho T_{t-1} + impulse_t``."""
    return signal.lfilter([1.0], [1.0, -rho], np.asarray(impulse, dtype=float))


def impact_scale(h_before: np.ndarray, params: MarketParams) -> np.ndarray:
    """Impact per base unit given the volatility state before a bar: ``lam_ref * sr**beta``."""
    sr = np.clip(np.sqrt(h_before) / SIGMA_REF_PER_MIN, 0.05, 200.0)
    return params.impact_lambda_ref_per_base * sr**params.impact_vol_elasticity


def flow_memory_state(net_flow_base: np.ndarray, decay: float) -> np.ndarray:
    """The flow memory after each bar: ``m_t = decay m_{t-1} + (1 - decay) q_t``, ``m_{-1} = 0``."""
    q = np.asarray(net_flow_base, dtype=float)
    return signal.lfilter([1.0 - decay], [1.0, -decay], q)


def flow_variance_factor(phi: float, psi: float, decay: float) -> float:
    """Stationary variance of the flow per unit innovation variance.

    The flow ``q_t = phi q_{t-1} + psi m_{t-1} + e_t`` with its memory
    ``m_t = decay m_{t-1} + (1 - decay) q_t`` is a VAR(1) in ``(q, m)``; the factor is the
    ``q`` entry of the solution of the discrete Lyapunov equation (``1 / (1 - phi**2)`` when
    ``psi = 0``). Infinite when the system is not stationary.
    """
    a = np.array([[phi, psi], [(1 - decay) * phi, decay + (1 - decay) * psi]])
    if np.max(np.abs(np.linalg.eigvals(a))) >= 1.0:
        return math.inf
    b = np.array([[1.0], [1.0 - decay]])
    return float(linalg.solve_discrete_lyapunov(a, b @ b.T)[0, 0])


def filter_state(
    close: np.ndarray, net_flow_base: np.ndarray, params: MarketParams, warmup: int = 30
) -> MarketState:
    """Run the model's state recursions over an observed tape (causal: bar t uses bars <= t)."""
    q = np.asarray(net_flow_base, dtype=float)
    h = variance_state(close, params.vol_decay, warmup, params.vol_reversion)
    lam = impact_scale(np.concatenate([h[:1], h[:-1]]), params)
    tr = transient_state(lam * q, params.rho)
    m = flow_memory_state(q, params.flow_memory_decay)
    return MarketState(
        h=h, transient=tr, flow_base=q, lam=lam, flow_memory_base=m,
        h_bar=long_run_variance(close, warmup),
    )  # fmt: skip


# --------------------------------------------------------------------------------------------
# the ensemble kernel


@dataclass(frozen=True)
class PathDraws:
    """Random inputs of an ensemble, drawn once from a seeded Generator.

    ``z_noise``, ``z_flow``: standardised Student-t draws (n_paths, horizon); ``u_low``,
    ``u_high``: uniforms in (0, 1] for the bar extremes; per path: ``lam_mult`` (impact scale),
    ``oi_mult`` (open interest), ``lev_mix`` (weight of the second leverage prior).
    """

    z_noise: np.ndarray
    z_flow: np.ndarray
    u_low: np.ndarray
    u_high: np.ndarray
    lam_mult: np.ndarray
    oi_mult: np.ndarray
    lev_mix: np.ndarray
    seed: int

    @property
    def n_paths(self) -> int:
        return int(self.z_noise.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.z_noise.shape[1])


def child_seed(ss: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """The k-th child of ``ss`` as ``ss.spawn`` would make it, without mutating ``ss``.

    ``SeedSequence.spawn`` counts the children it has made, so calling it twice gives new
    streams; ensembles that must share draws (model and impact-only, sensitivity runs) derive
    their streams with this instead.
    """
    return np.random.SeedSequence(
        entropy=ss.entropy, spawn_key=(*ss.spawn_key, k), pool_size=ss.pool_size
    )


def _std_t(rng: np.random.Generator, df: float, size: tuple[int, int]) -> np.ndarray:
    z = rng.standard_t(df, size=size)
    return z * math.sqrt((df - 2.0) / df) if df > 2.0 else z


def draw_ensemble(
    pf: ParamsFile,
    n_paths: int,
    horizon: int,
    seed: int | np.random.SeedSequence,
) -> PathDraws:
    """Draw an ensemble's random inputs from a seeded ``numpy.random.Generator``.

    Streams: one child of ``SeedSequence(seed)`` each for the noise, the flow, the bar extremes
    and the per-path parameters. The impact scale is lognormal with the calibration's relative
    standard error; open interest lognormal with ``book.oi_log_sd``; the leverage mix uniform.
    """
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    g_noise, g_flow, g_ext, g_par = (np.random.default_rng(child_seed(ss, k)) for k in range(4))
    m = pf.market
    shape = (n_paths, horizon)
    rel = pf.stderr.get("impact_lambda_ref_per_base", 0.0) / max(
        m.impact_lambda_ref_per_base, 1e-300
    )
    lam_sd = math.log1p(rel) if rel > 0 else 0.0
    u_low = 1.0 - g_ext.random(shape)
    u_high = 1.0 - g_ext.random(shape)
    entropy = ss.entropy if isinstance(ss.entropy, int) else 0
    return PathDraws(
        z_noise=_std_t(g_noise, m.noise_tail_df, shape),
        z_flow=_std_t(g_flow, m.flow_tail_df, shape),
        u_low=u_low,
        u_high=u_high,
        lam_mult=np.exp(lam_sd * g_par.standard_normal(n_paths) - 0.5 * lam_sd**2),
        oi_mult=np.exp(pf.book.oi_log_sd * g_par.standard_normal(n_paths)),
        lev_mix=g_par.random(n_paths),
        seed=int(entropy),
    )


def _param_vector(m: MarketParams, forced_cap_frac: float) -> np.ndarray:
    return np.array(
        [
            m.impact_lambda_ref_per_base,
            m.impact_vol_elasticity,
            m.impact_permanent_frac,
            m.rho,
            m.noise_scale,
            m.flow_persistence,
            m.flow_scale_ref_base,
            m.flow_vol_elasticity,
            m.volume_ref_base,
            m.volume_vol_elasticity,
            m.range_scale,
            m.vol_decay,
            forced_cap_frac,
            SIGMA_REF_PER_MIN,
            m.flow_memory_coef,
            m.flow_memory_decay,
            flow_variance_factor(m.flow_persistence, m.flow_memory_coef, m.flow_memory_decay),
            m.vol_reversion,
        ]
    )


@njit(cache=True, nogil=True, inline="always")
def _crossed(cum, d, g):  # pragma: no cover - numba
    """Size of a cumulative grid crossed when the log distance reaches |d| (linear in a bin)."""
    pos = abs(d) / g
    nb = cum.size - 1
    if pos >= nb:
        return cum[nb]
    k = int(pos)
    return cum[k] + (pos - k) * (cum[k + 1] - cum[k])


@njit(cache=True, nogil=True)
def _path(
    p, h0, t0, q0, m0, hb, pv, cum, lm, lp, oi, u, zn, zq, ul, uh, oc, olo, of, oe, ohi, oq, ov
):  # pragma: no cover
    """One path of the numba kernel; fills row p of the outputs."""
    lam_ref = pv[0]
    beta = pv[1]
    perm = pv[2]
    rho = pv[3]
    ce = pv[4]
    phi = pv[5]
    sq = pv[6]
    gq = pv[7]
    vref = pv[8]
    gv = pv[9]
    krange = pv[10]
    a = pv[11]
    capf = pv[12]
    s0 = pv[13]
    psi = pv[14]
    bm = pv[15]
    vf = pv[16]
    kr = pv[17]
    g = BOOK_BIN_LOG
    x = 0.0
    h = h0
    tr = t0
    qe = q0
    mq = m0
    mlow = 0.0
    mhigh = 0.0
    ql = 0.0
    qs = 0.0
    sf = 0.0
    tf = 0.0
    w = u[p]
    base_l = (1.0 - w) * _crossed(cum[0], 0.0, g) + w * _crossed(cum[1], 0.0, g)
    base_s = (1.0 - w) * _crossed(cum[2], 0.0, g) + w * _crossed(cum[3], 0.0, g)
    for k in range(oc.shape[1]):
        sig = math.sqrt(h)
        sr = min(max(sig / s0, 0.05), 200.0)
        lam = lam_ref * lm[p] * lp[k] * sr**beta
        vol = vref * sr**gv
        qe = phi * qe + psi * mq + sq * sr**gq * zq[p, k]
        qe = min(max(qe, -3.0 * vol), 3.0 * vol)
        cap = capf * vol
        fs = min(ql, cap)
        ql -= fs
        fb = min(qs, cap)
        qs -= fb
        q = qe - fs + fb
        fsd = lam * sq * sr**gq
        v_imp = fsd * fsd * vf
        nsd = ce * math.sqrt(max(h - v_imp, 0.05 * h))
        dx = lam * q - (1.0 - perm) * (1.0 - rho) * tr + nsd * zn[p, k]
        dx = min(max(dx, -0.5), 0.5)
        tr = rho * tr + lam * q
        sf += lam * (fb - fs)
        tf = rho * tf + lam * (fb - fs)
        xn = x + dx
        s2 = krange * krange * h
        d2 = dx * dx
        lo = 0.5 * (x + xn - math.sqrt(d2 - 2.0 * s2 * math.log(ul[p, k])))
        hi = 0.5 * (x + xn + math.sqrt(d2 - 2.0 * s2 * math.log(uh[p, k])))
        if lo < mlow:
            new_l = (1.0 - w) * _crossed(cum[0], lo, g) + w * _crossed(cum[1], lo, g)
            ql += oi[p] * (new_l - base_l)
            base_l = new_l
            mlow = lo
        if hi > mhigh:
            new_s = (1.0 - w) * _crossed(cum[2], hi, g) + w * _crossed(cum[3], hi, g)
            qs += oi[p] * (new_s - base_s)
            base_s = new_s
            mhigh = hi
        h = (1.0 - kr) * (a * h + (1.0 - a) * dx * dx) + kr * hb
        mq = bm * mq + (1.0 - bm) * qe
        x = xn
        oc[p, k] = x
        olo[p, k] = lo
        of[p, k] = fs - fb
        oe[p, k] = perm * sf + (1.0 - perm) * tf
        ohi[p, k] = hi
        oq[p, k] = q
        ov[p, k] = vol


@njit(cache=True, parallel=True, nogil=True)
def _kernel(
    h0, t0, q0, m0, hb, pv, cum, lm, lp, oi, u, zn, zq, ul, uh, oc, olo, of, oe, ohi, oq, ov
):  # pragma: no cover
    for p in prange(oc.shape[0]):
        _path(
            p,
            h0,
            t0,
            q0,
            m0,
            hb,
            pv,
            cum,
            lm,
            lp,
            oi,
            u,
            zn,
            zq,
            ul,
            uh,
            oc,
            olo,
            of,
            oe,
            ohi,
            oq,
            ov,
        )


def crossed_size(cum: np.ndarray, d: float) -> float:
    """Size (base units) of a cumulative book grid crossed at log distance ``d`` from its origin."""
    return float(_crossed(cum, float(d), BOOK_BIN_LOG))


def _crossed_np(cum: np.ndarray, d: np.ndarray, g: float) -> np.ndarray:
    pos = np.abs(d) / g
    nb = cum.size - 1
    k = np.minimum(pos.astype(np.int64), nb - 1)
    frac = np.minimum(pos - k, 1.0)
    return np.where(pos >= nb, cum[nb], cum[k] + frac * (cum[k + 1] - cum[k]))


def _simulate_numpy(h0, t0, q0, m0, hb, pv, cum, d: PathDraws, lp: np.ndarray):
    """Plain twin: the same model stepped in numpy, vectorised over paths."""
    lam_ref, beta, perm, rho, ce, phi, sq, gq, vref, gv, krange, a, capf, s0, psi, bm, vf, kr = (
        float(v) for v in pv
    )
    n, hz = d.n_paths, d.horizon
    g = BOOK_BIN_LOG
    oc, olo, of, oe, ohi, oq, ov = (np.empty((n, hz)) for _ in range(7))
    x = np.zeros(n)
    h = np.full(n, h0)
    tr = np.full(n, t0)
    qe = np.full(n, q0)
    mq = np.full(n, m0)
    mlow = np.zeros(n)
    mhigh = np.zeros(n)
    ql = np.zeros(n)
    qs = np.zeros(n)
    sf = np.zeros(n)
    tf = np.zeros(n)
    w = d.lev_mix

    def book(side: int, at: np.ndarray) -> np.ndarray:
        return (1.0 - w) * _crossed_np(cum[2 * side], at, g) + w * _crossed_np(
            cum[2 * side + 1], at, g
        )

    base_l = book(0, np.zeros(n))
    base_s = book(1, np.zeros(n))
    for k in range(hz):
        sig = np.sqrt(h)
        sr = np.clip(sig / s0, 0.05, 200.0)
        lam = lam_ref * d.lam_mult * lp[k] * sr**beta
        vol = vref * sr**gv
        qe = np.clip(phi * qe + psi * mq + sq * sr**gq * d.z_flow[:, k], -3.0 * vol, 3.0 * vol)
        cap = capf * vol
        fs = np.minimum(ql, cap)
        ql = ql - fs
        fb = np.minimum(qs, cap)
        qs = qs - fb
        q = qe - fs + fb
        v_imp = (lam * sq * sr**gq) ** 2 * vf
        nsd = ce * np.sqrt(np.maximum(h - v_imp, 0.05 * h))
        dx = lam * q - (1.0 - perm) * (1.0 - rho) * tr + nsd * d.z_noise[:, k]
        dx = np.clip(dx, -0.5, 0.5)
        tr = rho * tr + lam * q
        sf = sf + lam * (fb - fs)
        tf = rho * tf + lam * (fb - fs)
        xn = x + dx
        s2 = krange * krange * h
        lo = 0.5 * (x + xn - np.sqrt(dx * dx - 2.0 * s2 * np.log(d.u_low[:, k])))
        hi = 0.5 * (x + xn + np.sqrt(dx * dx - 2.0 * s2 * np.log(d.u_high[:, k])))
        dn = lo < mlow
        new_l = book(0, np.where(dn, lo, mlow))
        ql = ql + d.oi_mult * (new_l - base_l)
        base_l = new_l
        mlow = np.minimum(mlow, lo)
        up = hi > mhigh
        new_s = book(1, np.where(up, hi, mhigh))
        qs = qs + d.oi_mult * (new_s - base_s)
        base_s = new_s
        mhigh = np.maximum(mhigh, hi)
        h = (1.0 - kr) * (a * h + (1.0 - a) * dx * dx) + kr * hb
        mq = bm * mq + (1.0 - bm) * qe
        x = xn
        oc[:, k] = x
        olo[:, k] = lo
        of[:, k] = fs - fb
        oe[:, k] = perm * sf + (1.0 - perm) * tf
        ohi[:, k] = hi
        oq[:, k] = q
        ov[:, k] = vol
    return oc, olo, of, oe, ohi, oq, ov


def simulate_paths(
    state: tuple[float, ...],
    pv: np.ndarray,
    cum: np.ndarray,
    draws: PathDraws,
    plain: bool = False,
    lam_profile: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Simulate an ensemble from one origin (log price 0 at the origin's close).

    Args:
        state: (h, transient impact, exogenous flow in base units[, flow memory in base units[,
            long-run variance]]) at the origin close; the memory is 0 and the long-run variance
            ``h`` when left out.
        pv: parameter vector from ``_param_vector``.
        cum: cumulative book grids (4, BOOK_BINS + 1) in base units at the median open interest:
            long liquidations below price under the two leverage priors, then shorts above.
        draws: :class:`PathDraws`.
        plain: run the plain-Python twin instead of the numba kernel.
        lam_profile: a multiplier of the impact scale per step (horizon,), shared by all paths
            (an observed liquidity shock relaxing, see :func:`depth_profile`); ones by default.

    Returns log-price paths relative to the origin close: ``close``, ``low``, ``high`` (n_paths,
    horizon), ``forced_base`` (net forced sell flow executed per bar), ``endogenous`` (the
    forced orders' part of the log price level), ``net_flow_base`` (total net taker flow) and
    ``expected_volume_base`` (the liquidity state's traded volume per bar).
    """
    n, hz = draws.n_paths, draws.horizon
    oc, olo, of, oe, ohi, oq, ov = (np.empty((n, hz)) for _ in range(7))
    h0, t0, q0 = (float(v) for v in state[:3])
    m0 = float(state[3]) if len(state) > 3 else 0.0
    hb = float(state[4]) if len(state) > 4 else h0
    lp = np.ones(hz) if lam_profile is None else np.ascontiguousarray(lam_profile, dtype=float)
    if lp.shape != (hz,) or not np.all(lp > 0):
        raise InputError(f"lam_profile: expected {hz} positive multipliers, got shape {lp.shape}")
    if plain:
        oc, olo, of, oe, ohi, oq, ov = _simulate_numpy(h0, t0, q0, m0, hb, pv, cum, draws, lp)
    else:
        d = draws
        args = (d.lam_mult, lp, d.oi_mult, d.lev_mix, d.z_noise, d.z_flow, d.u_low, d.u_high)
        _kernel(h0, t0, q0, m0, hb, pv, cum, *args, oc, olo, of, oe, ohi, oq, ov)
    return {
        "close": oc,
        "low": olo,
        "high": ohi,
        "forced_base": of,
        "endogenous": oe,
        "net_flow_base": oq,
        "expected_volume_base": ov,
    }


def simulate_paths_plain(
    state: tuple[float, ...],
    pv: np.ndarray,
    cum: np.ndarray,
    draws: PathDraws,
    lam_profile: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """The plain-Python twin of :func:`simulate_paths` (reference for the equivalence test)."""
    return simulate_paths(state, pv, cum, draws, plain=True, lam_profile=lam_profile)


def depth_profile(depth_ratio: float, vol_decay: float, horizon: int) -> np.ndarray:
    """Impact-scale multipliers after an origin where the book is ``depth_ratio`` times thinner
    than usual: ``1 + (depth_ratio - 1) * vol_decay ** (k + 1)`` for step k, so the liquidity shock
    relaxes at the volatility state's rate (memory ``1 / (1 - vol_decay)`` minutes)."""
    k = np.arange(1, horizon + 1, dtype=float)
    return 1.0 + (float(depth_ratio) - 1.0) * float(vol_decay) ** k


# --------------------------------------------------------------------------------------------
# an ensemble from an observed origin


@dataclass(frozen=True)
class Ensemble:
    """Paths of an ensemble in price (quote per base), from the close of the origin bar."""

    origin_close: float
    close: np.ndarray
    low: np.ndarray
    forced_base: np.ndarray
    endogenous: np.ndarray
    high: np.ndarray
    seed: int

    def min_low(self) -> np.ndarray:
        return self.low.min(axis=1)

    def argmin_low(self) -> np.ndarray:
        return self.low.argmin(axis=1)


def empty_book() -> np.ndarray:
    """A book grid with no positions (the impact-only model)."""
    return np.zeros((4, BOOK_BINS + 1))


def run_ensemble(
    pf: ParamsFile,
    close: np.ndarray,
    net_flow_base: np.ndarray,
    origin: int,
    cum: np.ndarray,
    draws: PathDraws,
    state: MarketState | None = None,
    plain: bool = False,
    lam_profile: np.ndarray | None = None,
) -> Ensemble:
    """Simulate ``draws.horizon`` bars after bar ``origin`` of an observed tape.

    Only bars ``<= origin`` are read (the state filter is causal), so a tape cut after the
    origin gives the same ensemble.
    """
    st = state or filter_state(close[: origin + 1], net_flow_base[: origin + 1], pf.market)
    s0 = (
        float(st.h[origin]),
        float(st.transient[origin]),
        float(st.flow_base[origin]),
        float(st.flow_memory_base[origin]),
        float(st.h_bar[origin]),
    )
    pv = _param_vector(pf.market, pf.book.forced_cap_frac)
    out = simulate_paths(s0, pv, cum, draws, plain=plain, lam_profile=lam_profile)
    c0 = float(close[origin])
    return Ensemble(
        origin_close=c0,
        close=c0 * np.exp(out["close"]),
        low=c0 * np.exp(out["low"]),
        forced_base=out["forced_base"],
        endogenous=out["endogenous"],
        seed=draws.seed,
        high=c0 * np.exp(out["high"]),
    )


def simulate_tape(
    pf: ParamsFile,
    n_bars: int,
    seed: int | np.random.SeedSequence,
    *,
    start_price: float = 100_000.0,
    start_ms: int = 1_760_000_040_000,
    n_tapes: int = 1,
) -> list[Any]:
    """Synthetic 1m kline tapes drawn from the model (no position book), for calibration tests.

    Volume is the liquidity state's expected volume times a lognormal factor with
    ``volume_log_sd`` (mean one), raised to at least the bar's |net flow|; taker-buy volume is
    ``(volume + net flow) / 2``. Returns :class:`liqcascade.data.klines.Tape` objects.
    """
    from liqcascade.data.klines import Tape

    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    draws = draw_ensemble(pf, n_tapes, n_bars, child_seed(ss, 0))
    draws = PathDraws(
        z_noise=draws.z_noise, z_flow=draws.z_flow, u_low=draws.u_low, u_high=draws.u_high,
        lam_mult=np.ones(n_tapes), oi_mult=np.ones(n_tapes), lev_mix=np.zeros(n_tapes),
        seed=draws.seed,
    )  # fmt: skip
    g_vol = np.random.default_rng(child_seed(ss, 1))
    pv = _param_vector(pf.market, pf.book.forced_cap_frac)
    out = simulate_paths((SIGMA_REF_PER_MIN**2, 0.0, 0.0), pv, empty_book(), draws)
    sd = pf.market.volume_log_sd
    tapes = []
    for i in range(n_tapes):
        c = start_price * np.exp(out["close"][i])
        o = np.concatenate([[start_price], c[:-1]])
        vol = out["expected_volume_base"][i] * np.exp(
            sd * g_vol.standard_normal(n_bars) - 0.5 * sd**2
        )
        q = out["net_flow_base"][i]
        vol = np.maximum(vol, np.abs(q))  # the traded volume holds the net taker flow
        tb = 0.5 * (vol + q)
        tapes.append(
            Tape(
                source=f"simulated:{i}",
                symbol="SIMUSDT",
                open_ms=start_ms + 60_000 * np.arange(n_bars, dtype=np.int64),
                open=o,
                high=np.maximum(start_price * np.exp(out["high"][i]), np.maximum(o, c)),
                low=np.minimum(start_price * np.exp(out["low"][i]), np.minimum(o, c)),
                close=c,
                volume_base=vol,
                taker_buy_base=tb,
            )
        )
    return tapes
