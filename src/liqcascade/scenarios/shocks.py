"""Shock models: the exogenous price path a cascade starts from, and its fitting from klines.

Every model turns a seeded :class:`numpy.random.Generator` into a :class:`ShockPath`: the
exogenous perp price relative to the initial price, ``price_ratio[t]`` (``price_ratio[0] = 1``),
on a grid ``time_s`` (seconds), plus for collateral shocks the value of each collateral asset
relative to par. The cascade (forced flow and its price impact) comes on top, in the engine.

Models (formulas in docs/stress.md):

- ``jump``: one instant move J (fixed or uniform on a range);
- ``news``: impulse over ``impulse_s``, exponential retracement, drift and Brownian noise;
- ``bridge``: Brownian bridge in log price forced through ``target_low`` at ``at_s``;
- ``jump_diffusion``: Merton (1976) with parameters fitted by the threshold method;
- ``garch``: GARCH(1,1) with Student-t innovations fitted with the ``arch`` package;
- ``collateral``: collateral assets depeg (USDe, wBETH, BNSOL on Binance, 10 Oct 2025).

Volatilities are annualised on a 365-day year (crypto trades every day).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import ConfigError, DataError
from liqcascade.log import logger
from liqcascade.scenarios import schema as S
from liqcascade.timeutil import datetime_to_ms, parse_iso

__all__ = [
    "YEAR_S",
    "ShockPath",
    "ShockModel",
    "build_shock",
    "read_klines",
    "resolve_data_path",
    "fit_merton",
    "fit_garch",
    "log_returns",
    "read_return_path",
]

#: Seconds in a 365-day year (annualisation of volatilities).
YEAR_S = 365.0 * 86400.0


@dataclass(frozen=True)
class ShockPath:
    """One exogenous scenario path.

    Attributes
    ----------
    time_s:
        Grid in seconds from the shock start, shape (T+1,), ``time_s[0] = 0``.
    price_ratio:
        Exogenous perp price over the initial price, shape (T+1,), ``price_ratio[0] = 1``.
    collateral_ratio:
        Value of each collateral asset relative to par, shape (A, T+1); A = 0 without a
        collateral shock.
    """

    time_s: np.ndarray
    price_ratio: np.ndarray
    collateral_ratio: np.ndarray

    @property
    def n_steps(self) -> int:
        """Number of steps T (the grid has T+1 points)."""
        return len(self.time_s) - 1


# --------------------------------------------------------------------------------------------
# klines
# --------------------------------------------------------------------------------------------
def resolve_data_path(spec: str, base_dir: Path | None = None) -> Path:
    """``sample:REL`` -> shipped ``liqcascade/sample_data/REL``; relative paths -> base_dir."""
    if spec.startswith("sample:"):
        p = Path(str(files("liqcascade") / "sample_data")) / spec[len("sample:") :]
    else:
        p = Path(spec)
        if not p.is_absolute() and base_dir is not None:
            p = base_dir / p
    if not p.is_file():
        raise ConfigError(f"{spec}: kline file not found (resolved to {p})")
    return p


def _read_one_kline(path: Path) -> pl.DataFrame:
    from liqcascade.data.klines import KLINE_COLUMNS, _read_bytes, epoch_ms_expr, parse_kline_text

    df, _ = parse_kline_text(_read_bytes(path), str(path))
    missing = [
        c
        for c in ("open_time", "high", "low", "close", "volume", "quote_volume")
        if c not in df.columns
    ]
    if missing:
        raise DataError(
            f"{path}: kline file lacks columns {missing}; expected the Binance layout {KLINE_COLUMNS}"
        )
    try:
        out = df.select(
            pl.col("open_time").cast(pl.Int64),
            *(
                pl.col(c).cast(pl.Float64)
                for c in ("open", "high", "low", "close", "volume", "quote_volume")
            ),
        ).with_columns(epoch_ms_expr("open_time"))
    except Exception as exc:
        raise DataError(f"{path}: non-numeric kline values ({exc})") from None
    bad = out.filter(
        ~(pl.col("close") > 0) | ~(pl.col("low") <= pl.col("high")) | (pl.col("volume") < 0)
    )
    if bad.height:
        row = int(out["open_time"].arg_min() or 0)
        raise DataError(
            f"{path}: {bad.height} candles with close <= 0, low > high or volume < 0 "
            f"(first at open_time {bad['open_time'][0]}, row offset {row})"
        )
    return out


def _to_ms(ts: str | None, key: str) -> int | None:
    if ts is None:
        return None
    try:
        return datetime_to_ms(parse_iso(ts))
    except ValueError:
        raise ConfigError(
            f"{key}: {ts!r} is not an ISO-8601 time (e.g. 2025-10-10T20:00:00)"
        ) from None


def read_klines(
    paths: list[str],
    base_dir: Path | None = None,
    start: str | None = None,
    end: str | None = None,
) -> pl.DataFrame:
    """Read Binance-layout kline files (CSV or ZIP, with or without header) into one frame.

    Columns: open_time (ms), open, high, low, close, volume (base), quote_volume (quote);
    sorted by time, duplicates removed, restricted to ``[start, end)`` (ISO-8601, UTC).
    """
    frames = [_read_one_kline(resolve_data_path(p, base_dir)) for p in paths]
    df = pl.concat(frames).unique("open_time", keep="first").sort("open_time")
    lo, hi = _to_ms(start, "start"), _to_ms(end, "end")
    if lo is not None:
        df = df.filter(pl.col("open_time") >= lo)
    if hi is not None:
        df = df.filter(pl.col("open_time") < hi)
    if df.height < 3:
        raise DataError(
            f"klines {paths} hold {df.height} candles in [{start}, {end}); expected >= 3"
        )
    return df


def log_returns(klines: pl.DataFrame, step_s: float) -> tuple[np.ndarray, float]:
    """Close-to-close log returns at ``step_s`` (a multiple of the kline interval).

    Returns (returns, dt_s). Gaps in the candles are skipped, not bridged.
    """
    t = klines["open_time"].to_numpy()
    close = klines["close"].to_numpy()
    interval_s = float(np.median(np.diff(t))) / 1000.0
    k = step_s / interval_s
    if k < 1 - 1e-9 or abs(k - round(k)) > 1e-9:
        raise ConfigError(
            f"step_s={step_s} is not a multiple of the kline interval {interval_s:g} s"
        )
    k = int(round(k))
    idx = np.arange(0, len(close), k)
    c, tt = close[idx], t[idx]
    r = np.diff(np.log(c))
    contiguous = np.diff(tt) == int(k * interval_s * 1000)
    return r[contiguous], k * interval_s


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------
def fit_merton(returns: np.ndarray, dt_s: float, threshold_sd: float = 4.0) -> dict[str, float]:
    """Merton parameters of log returns at ``dt_s`` seconds, as the shock's parameter dict.

    The estimator is :func:`liqcascade.jumps.fit_threshold_jumps` (iterated threshold filter,
    Mancini 2009), the one :func:`liqcascade.risk.fit_from_klines` uses too. Drift is not
    estimable over days and is returned as 0 (log-price drift). Units: sigma annualised,
    intensity per day (``jump_intensity_per_day``, the scenario field).
    """
    from liqcascade.jumps import fit_threshold_jumps

    f = fit_threshold_jumps(returns, dt_s, threshold_sigmas=threshold_sd)
    return {
        "mu_annual": 0.0,
        "sigma_annual": f.vol_annual,
        "jump_intensity_per_day": f.jump_intensity_per_day,
        "jump_mean": f.jump_mean_log,
        "jump_std": f.jump_std_log,
        "n_returns": float(f.n_returns),
        "n_jumps": float(f.n_jumps),
        "dt_s": float(dt_s),
    }


def fit_garch(returns: np.ndarray, dt_s: float) -> dict[str, float]:
    """Fit GARCH(1,1) with a constant mean and standardised Student-t innovations (``arch``).

    Returns are scaled to unit variance for the optimiser (1-minute returns in percent are
    too small for it to converge to an interior optimum) and the parameters scaled back:
    ``mu`` (per step, log), ``omega`` (per step², log-return units), ``alpha``, ``beta``,
    ``nu`` (degrees of freedom), ``sigma_last`` (last conditional sd per step), and the
    unconditional annualised volatility.
    """
    from liqcascade._optional import require

    require("the GARCH shock", "arch", extra="garch")
    from arch import arch_model

    r = np.asarray(returns, dtype=np.float64)
    if len(r) < 100:
        raise DataError(f"{len(r)} returns; expected at least 100 to fit GARCH(1,1)")
    scale = 1.0 / float(np.std(r))
    am = arch_model(r * scale, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    res = am.fit(disp="off", show_warning=False)
    if res.convergence_flag != 0:
        raise DataError(
            f"GARCH(1,1) fit did not converge on {len(r)} returns (flag {res.convergence_flag})"
        )
    p = res.params
    omega = float(p["omega"]) / scale**2
    alpha, beta = float(p["alpha[1]"]), float(p["beta[1]"])
    persistence = alpha + beta
    uncond = omega / (1 - persistence) if persistence < 1 else float(np.var(r))
    return {
        "mu": float(p["mu"]) / scale,
        "omega": omega,
        "alpha": alpha,
        "beta": beta,
        "nu": float(p["nu"]),
        "sigma_last": float(res.conditional_volatility[-1]) / scale,
        "sigma_uncond_annual": math.sqrt(uncond / dt_s * YEAR_S),
        "loglik": float(res.loglikelihood),
        "n_returns": float(len(r)),
        "dt_s": float(dt_s),
    }


# --------------------------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------------------------
def _draw(rng: np.random.Generator, value: float | None, rng_range: list[float] | None) -> float:
    if value is not None:
        return float(value)
    assert rng_range is not None
    return float(rng.uniform(rng_range[0], rng_range[1]))


def _grid(horizon_s: float, step_s: float) -> np.ndarray:
    n = int(round(horizon_s / step_s))
    return np.arange(n + 1, dtype=np.float64) * step_s


@dataclass(frozen=True)
class ShockModel:
    """A built shock: its config, fitted parameters and a sampler.

    ``sample(rng)`` returns one :class:`ShockPath`; ``params`` holds the fitted or given
    parameters (they go into the results so a run can be reproduced and audited).
    """

    config: Any
    params: dict[str, float] = field(default_factory=dict)
    assets: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """The shock kind (the ``[shock].kind`` tag)."""
        return type(self.config).__struct_config__.tag

    def sample(self, rng: np.random.Generator) -> ShockPath:
        """Draw one path with the given generator (all randomness comes from ``rng``)."""
        c = self.config
        empty = np.zeros((0, 0))
        if isinstance(c, S.JumpShock):
            j = _draw(rng, c.size, c.size_range)
            return ShockPath(np.array([0.0, 0.0]), np.array([1.0, 1.0 + j]), empty.reshape(0, 2))
        t = _grid(c.horizon_s, c.step_s)
        n = len(t) - 1
        dt = c.step_s
        if isinstance(c, S.NewsShock):
            j = _draw(rng, c.impulse, c.impulse_range)
            ramp = np.minimum(1.0, t / c.impulse_s) if c.impulse_s > 0 else np.ones_like(t)
            after = np.clip(t - c.impulse_s, 0.0, None)
            level = ramp * (1.0 - c.retrace * (1.0 - np.exp(-after / c.decay_s)))
            noise = np.concatenate(
                [[0.0], np.cumsum(rng.standard_normal(n) * c.sigma_annual * math.sqrt(dt / YEAR_S))]
            )
            logp = math.log1p(j) * level + c.drift_annual * t / YEAR_S + noise
            logp[0] = 0.0
            return ShockPath(t, np.exp(logp), empty.reshape(0, n + 1))
        if isinstance(c, S.BridgeShock):
            sig = self.params["sigma_annual"] * math.sqrt(dt / YEAR_S)
            w = np.concatenate([[0.0], np.cumsum(rng.standard_normal(n) * sig)])
            k = int(round(c.at_s / dt))
            target = math.log1p(c.target_low)
            logp = w.copy()
            frac = t[: k + 1] / t[k] if k > 0 else np.ones(1)
            logp[: k + 1] = w[: k + 1] - frac * w[k] + frac * target
            logp[k + 1 :] = target + (w[k + 1 :] - w[k])
            return ShockPath(t, np.exp(logp), empty.reshape(0, n + 1))
        if isinstance(c, S.JumpDiffusionShock):
            p = self.params
            dty = dt / YEAR_S
            diff = p["mu_annual"] * dty + p["sigma_annual"] * math.sqrt(dty) * rng.standard_normal(
                n
            )
            nj = rng.poisson(p["jump_intensity_per_day"] * dt / 86400.0, size=n)
            jumps = nj * p["jump_mean"] + np.sqrt(nj) * p["jump_std"] * rng.standard_normal(n)
            logp = np.concatenate([[0.0], np.cumsum(diff + jumps)])
            logp = self._stress(logp, t, c)
            return ShockPath(t, np.exp(logp), empty.reshape(0, n + 1))
        if isinstance(c, S.GarchShock):
            p = self.params
            nu = p["nu"]
            z = rng.standard_t(nu, size=n) * math.sqrt((nu - 2.0) / nu)
            r = _garch_recursion(
                z, p["mu"], p["omega"], p["alpha"], p["beta"], p["sigma_last"] * c.vol_multiplier
            )
            logp = self._stress(np.concatenate([[0.0], np.cumsum(r)]), t, c)
            return ShockPath(t, np.exp(logp), empty.reshape(0, n + 1))
        if isinstance(c, S.CollateralShock):
            price = np.full(n + 1, 1.0 + c.perp_move)
            price[0] = 1.0
            coll = np.ones((len(c.assets), n + 1))
            for a, asset in enumerate(c.assets):
                d = _draw(rng, asset.depeg, asset.depeg_range)
                coll[a] = _depeg_curve(t, d, asset.start_s, asset.duration_s, asset.recovery_s)
            return ShockPath(t, price, coll)
        raise ConfigError(f"[shock].kind: no sampler for {self.kind!r}")

    @staticmethod
    def _stress(logp: np.ndarray, t: np.ndarray, c: Any) -> np.ndarray:
        if c.stress_jump is None:
            return logp
        k = int(np.searchsorted(t, c.stress_at_s, side="left"))
        k = max(1, min(k, len(t) - 1))
        out = logp.copy()
        out[k:] += math.log1p(c.stress_jump)
        return out


def _garch_recursion(
    z: np.ndarray, mu: float, omega: float, alpha: float, beta: float, sigma0: float
) -> np.ndarray:
    """r_t = mu + sigma_t z_t;  sigma²_{t+1} = omega + alpha (r_t - mu)² + beta sigma²_t."""
    r = np.empty(len(z))
    s2 = sigma0 * sigma0
    for i in range(len(z)):
        e = math.sqrt(s2) * z[i]
        r[i] = mu + e
        s2 = omega + alpha * e * e + beta * s2
    return r


def _depeg_curve(
    t: np.ndarray, depeg: float, start_s: float, duration_s: float, recovery_s: float
) -> np.ndarray:
    """Collateral value relative to par: 1 -> 1-depeg linearly over duration_s from start_s,
    then back to 1 linearly over recovery_s (0: stays depegged)."""
    if duration_s > 0:
        down = np.clip((t - start_s) / duration_s, 0.0, 1.0)
    else:
        down = (t >= start_s).astype(np.float64)
    v = 1.0 - depeg * down
    if recovery_s > 0:
        up = np.clip((t - start_s - duration_s) / recovery_s, 0.0, 1.0)
        v = v + depeg * up
    return v


def build_shock(cfg: Any, base_dir: Path | None = None) -> ShockModel:
    """Build (and fit, where parameters come from klines) the shock model of a scenario."""
    params: dict[str, float] = {}
    if isinstance(cfg, S.BridgeShock):
        if cfg.sigma_annual is not None:
            params["sigma_annual"] = cfg.sigma_annual
        else:
            assert cfg.fit is not None
            kl = read_klines(cfg.fit.klines, base_dir, cfg.fit.start, cfg.fit.end)
            r, dt = log_returns(kl, float(np.median(np.diff(kl["open_time"].to_numpy()))) / 1000.0)
            params["sigma_annual"] = float(np.std(r, ddof=1) / math.sqrt(dt / YEAR_S))
            params["fit_n_returns"] = float(len(r))
    elif isinstance(cfg, S.JumpDiffusionShock):
        given = {
            "mu_annual": cfg.mu_annual,
            "sigma_annual": cfg.sigma_annual,
            "jump_intensity_per_day": cfg.jump_intensity_per_day,
            "jump_mean": cfg.jump_mean,
            "jump_std": cfg.jump_std,
        }
        if cfg.fit is not None:
            kl = read_klines(cfg.fit.klines, base_dir, cfg.fit.start, cfg.fit.end)
            interval = float(np.median(np.diff(kl["open_time"].to_numpy()))) / 1000.0
            r, dt = log_returns(kl, interval)
            params.update(fit_merton(r, dt, cfg.threshold_sd))
        for k, v in given.items():
            if v is not None:
                params[k] = float(v)
    elif isinstance(cfg, S.GarchShock):
        kl = read_klines(cfg.fit.klines, base_dir, cfg.fit.start, cfg.fit.end)
        r, dt = log_returns(kl, cfg.step_s)
        params.update(fit_garch(r, dt))
    elif isinstance(cfg, S.NewsShock):
        params["sigma_annual"] = cfg.sigma_annual
    assets: tuple[str, ...] = ()
    if isinstance(cfg, S.CollateralShock):
        assets = tuple(a.asset for a in cfg.assets)
    model = ShockModel(cfg, params, assets)
    logger.info("shock %s built with params %s", model.kind, params)
    return model


def read_return_path(path: str | Path, initial_price: float) -> np.ndarray:
    """Per-step exogenous returns (fractions) from a CSV/Parquet file: a ``return`` column, or a
    ``price`` column (each return against the previous row, the first against
    ``initial_price``, quote per base). The input of ``liqcascade dynamic --path``."""
    from liqcascade.errors import InputError

    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    try:
        df = pl.read_parquet(p) if p.suffix.lower() == ".parquet" else pl.read_csv(p)
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{p}: cannot read a return/price table ({exc})") from exc
    cols = {c.lower(): c for c in df.columns}
    if "return" in cols:
        arr = df[cols["return"]].cast(pl.Float64).to_numpy()
    elif "price" in cols:
        price = df[cols["price"]].cast(pl.Float64).to_numpy()
        bad = np.flatnonzero(~(price > 0))
        if len(bad):
            raise InputError(f"{p} row {bad[0] + 1}: price must be > 0, got {price[bad[0]]}")
        prev = np.concatenate([[initial_price], price[:-1]])
        arr = (price - prev) / prev
    else:
        raise InputError(f"{p}: expected a 'return' or a 'price' column, found {df.columns}")
    bad = np.flatnonzero(~np.isfinite(arr) | (arr <= -1))
    if len(bad):
        raise InputError(f"{p} row {bad[0] + 1}: return must be finite and > -1, got {arr[bad[0]]}")
    return np.asarray(arr, dtype=np.float64)
