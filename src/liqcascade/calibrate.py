"""Fit the market model (:mod:`liqcascade.market`) on a set of 1m kline tapes.

Every parameter is estimated by code from the pooled tapes (no parameter from one day alone),
with a standard error from a bootstrap over tapes (resampling whole files with replacement) and
a flag saying whether the tapes identify it. docs/market-model.md states each estimator:

1. ``vol_decay`` and ``vol_reversion``: the EWMA decay of the volatility state and its
   reversion per minute to the tape's long-run variance, by Gaussian quasi-likelihood of the
   1m log returns given the state before them (grids 0.80..0.995 and 0..0.05).
2. impact: weighted least squares of ``r_t`` on ``q_t sr**beta`` and the transient state
   ``T~_{t-1}`` (weights ``1/h_{t-1}``), on a grid of ``beta`` (vol elasticity) and the decay
   time ``tau``; ``lam_ref`` and ``perm`` follow from the two coefficients.
3. noise: the noise fills the part ``max(h - v_q, 0.05 h)`` of the volatility state that the
   flow's impact (variance ``v_q``, the model's own formula) leaves, so a step's variance is
   the state ``h`` and the state stays stable (``noise_scale`` = 1 by construction; the
   empirical ratio ``sqrt(mean(resid**2 / max(h - v_q, 0.05 h)))`` is reported as
   ``noise_rms_over_rest``); ``noise_tail_df`` by Student-t maximum likelihood on the
   residuals standardised by that ratio.
4. flow: ``flow_vol_elasticity`` = slope of ``log|q_t|`` on ``log sr``; ``flow_persistence``
   (phi), ``flow_memory_coef`` (psi) and ``flow_scale_ref_base`` by least squares of
   ``q_t / sr**gamma_q`` on ``q_{t-1}`` and the flow memory ``m_{t-1}`` (both divided by the same
   ``sr**gamma_q``), ``m_t = b m_{t-1} + (1 - b) q_t``, with ``flow_memory_decay`` b the grid
   value (0.5..0.97) of least squared error among the stationary fits; tail df by Student-t
   likelihood of the innovations.
5. volume: ``log V_t`` on ``log sr`` (slope, residual sd ``s``); ``volume_ref_base`` is the
   mean at ``sr = 1``, ``exp(intercept + s**2 / 2)``.
6. ``range_scale``: for a Brownian bridge between two closes with variance ``k**2 h``,
   ``2 (a - m)(b - m) / h`` is exponential with mean ``k**2`` (m the bar low in log; the same
   with highs), so ``k**2`` is its sample mean.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import msgspec
import numpy as np
import polars as pl
from scipy import optimize, special

from liqcascade.data.klines import Tape, read_klines
from liqcascade.errors import InputError
from liqcascade.jsonutil import frame_schema
from liqcascade.market import (
    SIGMA_REF_PER_MIN,
    BookPrior,
    MarketParams,
    ParamsFile,
    flow_memory_state,
    flow_variance_factor,
    transient_state,
    variance_state,
)

__all__ = ["FIT_NAMES", "CalibrationResult", "calibrate", "calibrate_files", "fit_point"]

FIT_NAMES = (
    "vol_decay",
    "vol_reversion",
    "impact_lambda_ref_per_base",
    "impact_vol_elasticity",
    "impact_permanent_frac",
    "impact_decay_minutes",
    "noise_tail_df",
    "flow_persistence",
    "flow_scale_ref_base",
    "flow_vol_elasticity",
    "flow_tail_df",
    "flow_memory_coef",
    "flow_memory_decay",
    "volume_ref_base",
    "volume_vol_elasticity",
    "volume_log_sd",
    "range_scale",
)
PRIOR_NAMES = ("oi_median_base", "oi_log_sd", "forced_cap_frac", "old_entry_log_sd")
_DECAYS = np.array([0.80, 0.85, 0.88, 0.90, 0.92, 0.94, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995])
_BETAS = np.linspace(0.0, 1.5, 16)
_TAUS = np.array([1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 60.0])
_REVERSIONS = np.array([0.0, 0.001, 0.002, 0.005, 0.01, 0.015, 0.02, 0.03, 0.05])
_FLOW_MEMORY_DECAYS = np.array([0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97])
WARMUP_BARS = 30


@dataclass(frozen=True)
class _Prepared:
    r: np.ndarray  # 1m log returns, bar t (t >= 1)
    q: np.ndarray  # net taker flow of bar t
    v: np.ndarray  # volume of bar t
    a: np.ndarray  # log prev close
    b: np.ndarray  # log close
    lo: np.ndarray  # log low
    hi: np.ndarray  # log high
    close: np.ndarray


def _prep(tape: Tape) -> _Prepared:
    c = tape.close
    lc = np.log(c)
    return _Prepared(
        r=np.diff(lc),
        q=tape.net_flow_base[1:],
        v=tape.volume_base[1:],
        a=np.log(tape.open[1:]),
        b=lc[1:],
        lo=np.log(tape.low[1:]),
        hi=np.log(tape.high[1:]),
        close=c,
    )


def _var_state(p: _Prepared, decay: float, reversion: float = 0.0) -> np.ndarray:
    """h_{t-1} for each return r_t (the state known before bar t)."""
    return np.maximum(variance_state(p.close, decay, WARMUP_BARS, reversion)[:-1], 1e-12)


def _impulses(
    preps: Sequence[_Prepared], hs: Sequence[np.ndarray], beta: float
) -> list[np.ndarray]:
    """Per tape, the impact regressor ``q_t sr**beta`` (impact per unit of ``lam_ref``)."""
    s0 = SIGMA_REF_PER_MIN
    return [
        p.q * np.clip(np.sqrt(h) / s0, 0.05, 200.0) ** beta for p, h in zip(preps, hs, strict=True)
    ]


def _lagged_transient(xs: Sequence[np.ndarray], rho: float, sl: slice) -> np.ndarray:
    """``T~_{t-1}`` pooled over tapes: the transient state before each bar, per unit of lam."""
    return np.concatenate([np.concatenate([[0.0], transient_state(x, rho)[:-1]])[sl] for x in xs])


def _tfit(x: np.ndarray) -> float:
    """Student-t degrees of freedom by maximum likelihood (scale free, location 0), in [2.1, 60]."""
    x = x[np.isfinite(x)]
    if x.size < 20:
        return float("nan")

    def nll(theta: np.ndarray) -> float:
        nu = 2.05 + math.exp(theta[0])
        s = math.exp(theta[1])
        z = x / s
        ll = (
            special.gammaln((nu + 1) / 2)
            - special.gammaln(nu / 2)
            - 0.5 * math.log(nu * math.pi)
            - math.log(s)
            - (nu + 1) / 2 * np.log1p(z * z / nu)
        )
        return -float(np.sum(ll))

    res = optimize.minimize(nll, x0=np.array([math.log(2.0), math.log(np.std(x) + 1e-12)]),
                            method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-4})  # fmt: skip
    return float(min(2.05 + math.exp(res.x[0]), 60.0))


def fit_point(tapes: Sequence[Tape]) -> tuple[MarketParams, dict[str, float]]:
    """Point estimates of every fitted parameter on the pooled tapes, and fit metrics."""
    preps = [_prep(t) for t in tapes if len(t) > WARMUP_BARS + 2]
    if not preps:
        raise InputError("calibration needs at least one tape longer than the warm-up (32 bars)")
    s0 = SIGMA_REF_PER_MIN
    # 1. volatility decay and reversion by Gaussian QMLE on a grid
    best = (math.inf, 0.95, 0.0)
    for dcy in _DECAYS:
        for kr in _REVERSIONS:
            nll = 0.0
            for p in preps:
                h = _var_state(p, float(dcy), float(kr))[WARMUP_BARS:]
                r = p.r[WARMUP_BARS:]
                nll += float(np.sum(np.log(h) + r * r / h))
            best = min(best, (nll, float(dcy), float(kr)))
    decay, reversion = best[1], best[2]
    hs = [_var_state(p, decay, reversion) for p in preps]
    sl = slice(WARMUP_BARS, None)
    r = np.concatenate([p.r[sl] for p in preps])
    q = np.concatenate([p.q[sl] for p in preps])
    h = np.concatenate([x[sl] for x in hs])
    sr = np.clip(np.sqrt(h) / s0, 0.05, 200.0)
    wts = 1.0 / h
    # 2. impact: grid over (beta, tau), WLS for (lam, coefficient of the transient state)
    best_fit: tuple[float, float, float, float, float] | None = None
    for beta in _BETAS:
        xs_all = _impulses(preps, hs, float(beta))
        x1 = np.concatenate([x[sl] for x in xs_all])
        for tau in _TAUS:
            x2 = _lagged_transient(xs_all, math.exp(-1.0 / tau), sl)
            X = np.column_stack([x1, x2])
            sw = np.sqrt(wts)
            coef, *_ = np.linalg.lstsq(X * sw[:, None], r * sw, rcond=None)
            ssr = float(np.sum(wts * (r - X @ coef) ** 2))
            if best_fit is None or ssr < best_fit[0]:
                best_fit = (ssr, float(beta), float(tau), float(coef[0]), float(coef[1]))
    assert best_fit is not None
    ssr, beta, tau, lam, c2 = best_fit
    rho = math.exp(-1.0 / tau)
    lam = max(lam, 1e-12)
    perm = float(np.clip(1.0 + c2 / (lam * (1.0 - rho)), 0.0, 1.0))
    x1 = q * sr**beta
    x2 = _lagged_transient(_impulses(preps, hs, beta), rho, sl)
    resid = r - (lam * x1 - lam * (1.0 - perm) * (1.0 - rho) * x2)
    r2_impact = 1.0 - float(np.sum(wts * resid**2) / np.sum(wts * r**2))
    # 4. flow
    ok = np.abs(q) > 0
    gq = float(np.polyfit(np.log(sr[ok]), np.log(np.abs(q[ok])), 1)[0])
    # the model's flow recursion q_t = phi q_{t-1} + psi m_{t-1} + s_q sr_t**gq z_t, divided by
    # sr_t**gq, with the memory m_t = b m_{t-1} + (1 - b) q_t; least squares per b on a grid
    best_flow: tuple[float, float, float, float, np.ndarray] | None = None
    for bm in _FLOW_MEMORY_DECAYS:
        ys, xls, xms = [], [], []
        for p, hh in zip(preps, hs, strict=True):
            srg = np.clip(np.sqrt(hh[sl]) / s0, 0.05, 200.0) ** gq
            qq = p.q[sl]
            mm = flow_memory_state(p.q, float(bm))[sl]
            ys.append(qq[1:] / srg[1:])
            xls.append(qq[:-1] / srg[1:])
            xms.append(mm[:-1] / srg[1:])
        y = np.concatenate(ys)
        X = np.column_stack([np.concatenate(xls), np.concatenate(xms)])
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        phi_b, psi_b = float(coef[0]), float(coef[1])
        if not math.isfinite(flow_variance_factor(phi_b, psi_b, float(bm))):
            continue  # a non-stationary flow is not a candidate
        res_b = y - X @ coef
        ssr_b = float(res_b @ res_b)
        if best_flow is None or ssr_b < best_flow[0]:
            best_flow = (ssr_b, phi_b, psi_b, float(bm), res_b)
    if best_flow is None:
        raise InputError("calibration: no stationary flow recursion fits these tapes")
    _, phi, psi, flow_mem_decay, innov = best_flow
    sq = float(np.std(innov))
    flow_df = _tfit(innov / max(sq, 1e-12))
    # 3. noise: the part of the volatility state the flow's impact leaves, scaled by c_e
    lam_t = lam * sr**beta
    v_imp = (lam_t * sq * sr**gq) ** 2 * flow_variance_factor(phi, psi, flow_mem_decay)
    rest = np.maximum(h - v_imp, 0.05 * h)
    noise_ratio = float(np.sqrt(np.mean(resid * resid / rest)))
    noise_df = _tfit(resid / np.sqrt(rest) / noise_ratio)
    # 5. volume
    v = np.concatenate([p.v[sl] for p in preps])
    okv = v > 0
    gv, iv = np.polyfit(np.log(sr[okv]), np.log(v[okv]), 1)
    vres = np.log(v[okv]) - (gv * np.log(sr[okv]) + iv)
    # 6. range scale
    a = np.concatenate([p.a[sl] for p in preps])
    b = np.concatenate([p.b[sl] for p in preps])
    lo = np.concatenate([p.lo[sl] for p in preps])
    hi = np.concatenate([p.hi[sl] for p in preps])
    ex = np.concatenate([2 * (a - lo) * (b - lo) / h, 2 * (hi - a) * (hi - b) / h])
    k2 = float(np.mean(ex[np.isfinite(ex)]))
    mp = MarketParams(
        vol_decay=decay,
        vol_reversion=reversion,
        impact_lambda_ref_per_base=lam,
        impact_vol_elasticity=beta,
        impact_permanent_frac=perm,
        impact_decay_minutes=tau,
        noise_scale=1.0,
        noise_tail_df=noise_df,
        flow_persistence=phi,
        flow_scale_ref_base=sq,
        flow_vol_elasticity=gq,
        flow_tail_df=flow_df,
        flow_memory_coef=psi,
        flow_memory_decay=flow_mem_decay,
        volume_ref_base=float(math.exp(iv + 0.5 * float(np.var(vres)))),
        volume_vol_elasticity=float(gv),
        volume_log_sd=float(np.std(vres)),
        range_scale=math.sqrt(max(k2, 1e-6)),
    )
    metrics = {
        "n_bars": int(r.size),
        "n_tapes": len(preps),
        "impact_weighted_r2": r2_impact,
        "noise_rms_over_rest": noise_ratio,
        "vol_qmle_nll_per_bar": best[0] / r.size,
    }
    return mp, metrics


class ParamRow(TypedDict):
    """One fitted parameter of :meth:`CalibrationResult.table`."""

    param: str
    value: float
    stderr: float
    """Bootstrap standard error (NaN where there is none)."""
    identified: bool


@dataclass(frozen=True)
class CalibrationResult:
    params: ParamsFile
    files: list[str]
    seconds: float

    def table(self) -> list[ParamRow]:
        """Rows of (param, value, stderr, identified) for printing."""
        m = msgspec.to_builtins(self.params.market)
        return [
            {
                "param": k,
                "value": m[k],
                "stderr": self.params.stderr.get(k, float("nan")),
                "identified": self.params.identified.get(k, False),
            }
            for k in FIT_NAMES
        ]

    def to_polars(self) -> pl.DataFrame:
        """:meth:`table` as a DataFrame: ``param``, ``value``, ``stderr`` (NaN where not
        identified), ``identified``."""
        return pl.DataFrame(self.table(), schema=frame_schema(ParamRow))

    def plot(self) -> Any:
        """Each fitted parameter with a two-standard-error bar, one panel per parameter (their
        units differ)."""
        from liqcascade import plotting

        go = plotting.graph_objects("CalibrationResult.plot")
        rows = self.table()
        fig = plotting.subplots(
            "CalibrationResult.plot",
            rows=1,
            cols=len(rows),
            subplot_titles=[r["param"] for r in rows],
        )
        for i, r in enumerate(rows, start=1):
            se = r["stderr"]
            bar = 2.0 * se if se is not None and math.isfinite(se) else 0.0
            fig.add_trace(
                go.Scatter(
                    x=[r["param"]],
                    y=[r["value"]],
                    error_y={"type": "data", "array": [bar]},
                    mode="markers",
                    name=r["param"],
                    showlegend=False,
                ),
                1,
                i,
            )
        fig.update_xaxes(showticklabels=False)
        return plotting.styled(
            fig, f"Calibrated market model ({len(self.files)} files), value +- 2 s.e."
        )


def calibrate(
    tapes: Sequence[Tape],
    *,
    n_boot: int = 40,
    seed: int = 20251010,
    book: BookPrior | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> CalibrationResult:
    """Fit on ``tapes`` with a bootstrap over tapes for the standard errors.

    ``progress(done, total)``, when given, is called after the point fit and after each
    bootstrap resample (the CLI passes a progress bar).

    A parameter is flagged not identified when its bootstrap coefficient of variation exceeds
    0.5 or when the bootstrap puts it on the edge of its search grid in more than a quarter of
    the resamples. The book priors (open interest, forced-flow cap, old-entry dispersion) are
    not fitted and are always reported as not identified.
    """
    t0 = time.perf_counter()
    point, metrics = fit_point(tapes)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    boots: dict[str, list[float]] = {k: [] for k in FIT_NAMES}
    n = len(tapes)
    n_resamples = n_boot if n > 1 else 0
    if progress is not None:
        progress(1, n_resamples + 1)
    for b in range(n_resamples):
        idx = rng.integers(0, n, size=n)
        try:
            mp, _ = fit_point([tapes[i] for i in idx])
        except InputError:
            continue
        finally:
            if progress is not None:
                progress(b + 2, n_resamples + 1)
        bd = msgspec.to_builtins(mp)
        for k in FIT_NAMES:
            boots[k].append(float(bd[k]))
    pd = msgspec.to_builtins(point)
    stderr: dict[str, float] = {}
    ident: dict[str, bool] = {}
    edges = {
        "vol_decay": (_DECAYS[0], _DECAYS[-1]),
        "vol_reversion": (_REVERSIONS[0], _REVERSIONS[-1]),
        "impact_vol_elasticity": (_BETAS[0], _BETAS[-1]),
        "impact_decay_minutes": (_TAUS[0], _TAUS[-1]),
        "impact_permanent_frac": (0.0, 1.0),
        "noise_tail_df": (2.05, 60.0),
        "flow_tail_df": (2.05, 60.0),
        "flow_memory_decay": (_FLOW_MEMORY_DECAYS[0], _FLOW_MEMORY_DECAYS[-1]),
    }
    for k in FIT_NAMES:
        boot = np.array(boots[k])
        se = float(np.std(boot, ddof=1)) if boot.size > 1 else float("nan")
        stderr[k] = se
        cv = se / abs(pd[k]) if pd[k] != 0 and math.isfinite(se) else float("inf")
        on_edge = False
        if k in edges and boot.size:
            lo, hi = edges[k]
            on_edge = float(np.mean((np.abs(boot - lo) < 1e-9) | (np.abs(boot - hi) < 1e-9))) > 0.25
        ident[k] = bool(cv <= 0.5 and not on_edge)
    for k in PRIOR_NAMES:
        ident[k] = False
    fit_info: dict[str, Any] = {
        **metrics,
        "bootstrap_resamples": int(len(boots[FIT_NAMES[0]])),
        "bootstrap_seed": seed,
        "method": "pooled estimators of liqcascade.calibrate; bootstrap over whole tapes",
        "training_set": [t.source.split("/")[-1] for t in tapes],
    }
    pf = ParamsFile(
        market=point, book=book or BookPrior(), stderr=stderr, identified=ident, fit=fit_info
    )
    return CalibrationResult(
        params=pf, files=[t.source for t in tapes], seconds=time.perf_counter() - t0
    )


def calibrate_files(paths: Sequence[str | Path], **kw: Any) -> CalibrationResult:
    """Read each kline file strictly (:func:`liqcascade.data.klines.read_klines`) and fit."""
    if not paths:
        raise InputError("calibrate: give at least one kline file")
    tapes = [read_klines(p) for p in paths]
    short = [t.source for t in tapes if len(t) <= WARMUP_BARS + 2]
    if short and len(short) == len(tapes):
        raise InputError(
            f"calibrate: every file is shorter than the warm-up ({WARMUP_BARS + 2} bars): {short}"
        )
    return calibrate([t for t in tapes if len(t) > WARMUP_BARS + 2], **kw)
