"""Scenario files: frozen, keyword-only configs that reject unknown keys.

A scenario is a TOML file (read with :mod:`tomllib`) with the tables ``[scenario]``,
``[[venues]]``, ``[book]``, ``[shock]``, ``[behaviours.*]`` and ``[monte_carlo]``; see
docs/stress.md for every key, default and unit. :func:`load_scenario` reads it with the one
config loader, :func:`liqcascade.config.load`: unknown keys (with the closest valid key) and
unknown ``kind``/``source``/``dist`` tags are reported by name, then types, numeric bounds and
the checks across fields.

Every error is a :class:`~liqcascade.errors.ConfigError` whose message starts with the file name
and the field path, e.g. ``scenario.toml: shock.kind: expected one of jump|news|...; got 'jmp'``.

Units: fractions are plain fractions (``-0.1`` = -10 %); times in seconds; prices in quote
currency per base unit; notionals in quote currency; volatilities annualised (365-day year,
crypto trades every day).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Union

import msgspec

from liqcascade.config import Config, convert, load
from liqcascade.errors import ConfigError
from liqcascade.impact_config import ImpactConfig
from liqcascade.resources import package_path

__all__ = [
    "Scenario",
    "ScenarioMeta",
    "VenueConfig",
    "PositionsBook",
    "StoreBook",
    "SyntheticBook",
    "SegmentConfig",
    "ParetoDist",
    "LognormalDist",
    "UniformDist",
    "FixedDist",
    "FitConfig",
    "JumpShock",
    "NewsShock",
    "BridgeShock",
    "JumpDiffusionShock",
    "GarchShock",
    "CollateralAsset",
    "CollateralShock",
    "RetailDeleverage",
    "DipBuying",
    "MarketMakerWithdrawal",
    "Arbitrage",
    "Behaviours",
    "MonteCarloConfig",
    "load_scenario",
    "parse_scenario",
    "SHOCK_KINDS",
]

Frac = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Pos = Annotated[float, msgspec.Meta(gt=0.0)]
NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]
#: Relative price move: > -1 (a price cannot go below zero).
Move = Annotated[float, msgspec.Meta(gt=-1.0, le=10.0)]


class _Cfg(Config, frozen=True, kw_only=True):
    """Base of every scenario table: a :class:`liqcascade.config.Config`."""


# --------------------------------------------------------------------------------------------
# distributions
# --------------------------------------------------------------------------------------------
class ParetoDist(_Cfg, frozen=True, kw_only=True, tag="pareto", tag_field="dist"):
    """Truncated Pareto on [x_min, x_max]: density ∝ x^-(alpha+1). Heavy right tail."""

    alpha: Pos
    x_min: Pos
    x_max: Pos

    def check(self) -> None:
        if not self.x_max > self.x_min:
            raise ValueError(f"x_max={self.x_max} must be above x_min={self.x_min}")


class LognormalDist(_Cfg, frozen=True, kw_only=True, tag="lognormal", tag_field="dist"):
    """Lognormal with the given median and log-sd ``sigma``, truncated to [x_min, x_max]."""

    median: Pos
    sigma: Pos
    x_min: Pos = 1e-12
    x_max: Pos = 1e300

    def check(self) -> None:
        if not self.x_max > self.x_min:
            raise ValueError(f"x_max={self.x_max} must be above x_min={self.x_min}")
        if not self.x_min <= self.median <= self.x_max:
            raise ValueError(f"median={self.median} must lie in [x_min, x_max]")


class UniformDist(_Cfg, frozen=True, kw_only=True, tag="uniform", tag_field="dist"):
    """Uniform on [low, high]."""

    low: float
    high: float

    def check(self) -> None:
        if not self.high >= self.low:
            raise ValueError(f"high={self.high} must be >= low={self.low}")


class FixedDist(_Cfg, frozen=True, kw_only=True, tag="fixed", tag_field="dist"):
    """Always ``value``."""

    value: float


Dist = Union[ParetoDist, LognormalDist, UniformDist, FixedDist]  # noqa: UP007


# --------------------------------------------------------------------------------------------
# venues and books
# --------------------------------------------------------------------------------------------
class VenueConfig(_Cfg, frozen=True, kw_only=True):
    """One perpetual market on one venue.

    ``name`` and ``symbol`` are looked up in :mod:`liqcascade.venues`. ``impact`` is an impact
    config of :mod:`liqcascade.impact_config`: a table (``{model = "linear", depth_1pct_base =
    500}``) or its short form (``linear:DEPTH``, ``sqrt:...``, ``depth:FILE@TIME``,
    ``market``); files are relative to the scenario's folder. ``max_leverage`` lowers (never raises) the venue's own cap; on the
    ``generic`` venue it may be up to 1001.
    """

    name: str
    symbol: str
    initial_price: Pos | None = None
    impact: str | ImpactConfig
    share: Frac = 1.0
    insurance_fund_quote: NonNeg = 0.0
    max_leverage: Annotated[float, msgspec.Meta(ge=1.0, le=1001.0)] | None = None
    liquidation_fee_rate: Frac | None = None


class SegmentConfig(_Cfg, frozen=True, kw_only=True):
    """A trader segment of a synthetic population (retail, institutional or market makers).

    ``share`` is the fraction of positions in the segment; ``leverage`` the distribution of
    initial leverage (capped at the venue's tier limit for the position's notional); ``size``
    the distribution of position notional in quote currency at entry; ``long_fraction`` the
    probability a position is long; ``cross_fraction`` the probability an account is in cross
    margin; ``cross_excess`` the extra wallet of a cross account as a multiple of its initial
    margin (a cross wallet = IM * (1 + cross_excess)).
    """

    share: Frac
    leverage: Dist
    size: Dist
    long_fraction: Frac = 0.5
    cross_fraction: Frac = 0.0
    cross_excess: NonNeg = 0.5


#: The segments of a synthetic population when a scenario gives none (shipped data file).
DEFAULT_SEGMENTS_FILE = "scenarios/default_segments.toml"


@functools.cache
def _shipped_segments() -> dict[str, SegmentConfig]:
    path = package_path(*DEFAULT_SEGMENTS_FILE.split("/"))
    return load(path, dict[str, SegmentConfig], what="default trader segments")


def _default_segments() -> dict[str, SegmentConfig]:
    return dict(_shipped_segments())


SEGMENTS = ("retail", "institutional", "market_maker")


class SyntheticBook(_Cfg, frozen=True, kw_only=True, tag="synthetic", tag_field="source"):
    """A synthetic trader population (see :mod:`liqcascade.scenarios.population`).

    ``price_history`` lists kline CSV/ZIP files (Binance layout); ``sample:`` paths are resolved
    inside the shipped ``liqcascade/sample_data``. Entries are drawn from the candles of
    ``[history_start, history_end)`` weighted by quote volume. ``seed`` defaults to the Monte
    Carlo seed.
    """

    n_positions: Annotated[int, msgspec.Meta(ge=1, le=50_000_000)]
    price_history: list[str] = msgspec.field(
        default_factory=lambda: ["sample:binance/um/klines/BTCUSDT-1m-2025-10-10.csv"]
    )
    history_start: str | None = None
    history_end: str | None = None
    seed: Annotated[int, msgspec.Meta(ge=0)] | None = None
    segments: dict[str, SegmentConfig] = msgspec.field(default_factory=_default_segments)

    def check(self) -> None:
        for name in self.segments:
            if name not in SEGMENTS:
                raise ValueError(f"unknown segment {name!r}; expected one of {'|'.join(SEGMENTS)}")
        total = sum(s.share for s in self.segments.values())
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"segment shares add up to {total:g}, expected 1")
        if not self.price_history:
            raise ValueError("price_history is empty; expected at least one kline file")


class PositionsBook(_Cfg, frozen=True, kw_only=True, tag="positions", tag_field="source"):
    """Positions from a file (CSV or Parquet, columns of :class:`liqcascade.book.PositionBook`).

    A relative ``path`` is resolved against the scenario file's folder.
    """

    path: str


class StoreBook(_Cfg, frozen=True, kw_only=True, tag="store", tag_field="source"):
    """Positions from the DuckDB store (``store.positions(venue, symbol)``; docs/data.md)."""

    db: str | None = None
    venue: str | None = None
    symbol: str | None = None


Book = Union[SyntheticBook, PositionsBook, StoreBook]  # noqa: UP007


# --------------------------------------------------------------------------------------------
# shocks
# --------------------------------------------------------------------------------------------
class FitConfig(_Cfg, frozen=True, kw_only=True):
    """Klines to fit a path model on (Binance kline CSV/ZIP; ``sample:`` = shipped data).

    Returns are close-to-close log returns of the files' candles in ``[start, end)``
    (ISO-8601 UTC; None = unbounded).
    """

    klines: list[str] = msgspec.field(
        default_factory=lambda: [
            "sample:binance/um/klines/BTCUSDT-1m-2025-10-10.csv",
            "sample:binance/um/klines/BTCUSDT-1m-2025-10-11.csv",
        ]
    )
    start: str | None = None
    end: str | None = None


class _PathShock(_Cfg, frozen=True, kw_only=True):
    horizon_s: Annotated[float, msgspec.Meta(gt=0.0, le=30 * 86400.0)] = 3600.0
    step_s: Annotated[float, msgspec.Meta(gt=0.0)] = 60.0

    def _check_grid(self) -> None:
        n = self.horizon_s / self.step_s
        if abs(n - round(n)) > 1e-9:
            raise ValueError(
                f"horizon_s={self.horizon_s} is not a multiple of step_s={self.step_s}"
            )
        if round(n) > 100_000:
            raise ValueError(f"horizon_s/step_s = {round(n)} steps, expected at most 100000")


def _check_range(value: float | None, rng: list[float] | None, name: str) -> None:
    if (value is None) == (rng is None):
        raise ValueError(f"give exactly one of {name} or {name}_range")
    if rng is not None:
        if len(rng) != 2 or not rng[0] <= rng[1]:
            raise ValueError(f"{name}_range must be [low, high] with low <= high, got {rng}")
        if rng[0] <= -1.0:
            raise ValueError(f"{name}_range low={rng[0]} must be above -1 (price stays > 0)")


class JumpShock(_Cfg, frozen=True, kw_only=True, tag="jump", tag_field="kind"):
    """An instant jump of the price by ``size`` (fraction; -0.1 = -10 %), or by a size drawn
    uniformly from ``size_range`` per path. The cascade is then solved at that one instant.
    """

    size: Move | None = None
    size_range: list[float] | None = None

    def check(self) -> None:
        _check_range(self.size, self.size_range, "size")


class NewsShock(_PathShock, frozen=True, kw_only=True, tag="news", tag_field="kind"):
    """News-driven path: an impulse, then partial retracement, drift and noise.

    log S(t) = log(1+J)·min(1, t/impulse_s)·(1 − retrace·(1 − e^{−(t−impulse_s)/decay_s})⁺)
               + drift_annual·t/YEAR + sigma_annual·W(t/YEAR)
    J = ``impulse`` or uniform on ``impulse_range``.
    """

    impulse: Move | None = None
    impulse_range: list[float] | None = None
    impulse_s: NonNeg = 60.0
    decay_s: Pos = 900.0
    retrace: Frac = 0.3
    drift_annual: float = 0.0
    sigma_annual: NonNeg = 0.6

    def check(self) -> None:
        _check_range(self.impulse, self.impulse_range, "impulse")
        self._check_grid()
        if self.impulse_s > self.horizon_s:
            raise ValueError(f"impulse_s={self.impulse_s} exceeds horizon_s={self.horizon_s}")


class BridgeShock(_PathShock, frozen=True, kw_only=True, tag="bridge", tag_field="kind"):
    """Brownian bridge in log price from 0 at t=0 to log(1+target_low) at ``at_s``, then a free
    Brownian motion to the horizon. ``sigma_annual`` given, or fitted from ``fit`` klines.
    """

    target_low: Move
    at_s: Pos
    sigma_annual: NonNeg | None = None
    fit: FitConfig | None = None

    def check(self) -> None:
        self._check_grid()
        if self.at_s > self.horizon_s:
            raise ValueError(f"at_s={self.at_s} exceeds horizon_s={self.horizon_s}")
        if self.sigma_annual is None and self.fit is None:
            raise ValueError("give sigma_annual or a [fit] table to estimate it from klines")


class JumpDiffusionShock(
    _PathShock, frozen=True, kw_only=True, tag="jump_diffusion", tag_field="kind"
):
    """Merton jump-diffusion. Parameters left out are fitted from ``fit`` klines by the
    threshold method (see :func:`liqcascade.scenarios.shocks.fit_merton`).

    Jumps: Poisson with ``jump_intensity_per_day``, log-jump ~ N(jump_mean, jump_std²).
    ``stress_jump`` (optional) adds one extra deterministic log-jump of log(1+stress_jump) at
    ``stress_at_s`` in every path (a tail test on top of the fitted dynamics).
    """

    mu_annual: float | None = None
    sigma_annual: NonNeg | None = None
    jump_intensity_per_day: NonNeg | None = None
    jump_mean: float | None = None
    jump_std: NonNeg | None = None
    threshold_sd: Pos = 4.0
    fit: FitConfig | None = None
    stress_jump: Move | None = None
    stress_at_s: NonNeg = 0.0

    def check(self) -> None:
        self._check_grid()
        params = (
            self.mu_annual,
            self.sigma_annual,
            self.jump_intensity_per_day,
            self.jump_mean,
            self.jump_std,
        )
        if any(p is None for p in params) and self.fit is None:
            raise ValueError("parameters missing: give all five or a [fit] table")


class GarchShock(_PathShock, frozen=True, kw_only=True, tag="garch", tag_field="kind"):
    """GARCH(1,1) with Student-t innovations on ``step_s`` log returns, fitted with ``arch``
    from ``fit`` klines (the klines are resampled to ``step_s``). ``vol_multiplier`` scales the
    starting conditional volatility (stress: start in a high-volatility state).
    """

    fit: FitConfig = msgspec.field(default_factory=FitConfig)
    vol_multiplier: Pos = 1.0
    stress_jump: Move | None = None
    stress_at_s: NonNeg = 0.0

    def check(self) -> None:
        self._check_grid()


class CollateralAsset(_Cfg, frozen=True, kw_only=True):
    """A collateral asset that depegs: price falls from 1 (relative) by ``depeg`` or a draw
    from ``depeg_range``, linearly over ``duration_s`` from ``start_s``, then recovers linearly
    over ``recovery_s`` (0 = no recovery within the horizon).

    Holdings: a fraction ``holder_fraction`` of cross accounts on ``venues`` hold
    ``wallet_share`` of their wallet in the asset (``venues`` None = every venue).
    """

    asset: str
    depeg: Frac | None = None
    depeg_range: list[float] | None = None
    start_s: NonNeg = 0.0
    duration_s: NonNeg = 300.0
    recovery_s: NonNeg = 0.0
    holder_fraction: Frac = 0.1
    wallet_share: Frac = 0.8
    venues: list[str] | None = None

    def check(self) -> None:
        if (self.depeg is None) == (self.depeg_range is None):
            raise ValueError("give exactly one of depeg or depeg_range")
        r = self.depeg_range
        if r is not None and (len(r) != 2 or not 0.0 <= r[0] <= r[1] <= 1.0):
            raise ValueError(f"depeg_range must be [low, high] within [0, 1], got {r}")


class CollateralShock(_PathShock, frozen=True, kw_only=True, tag="collateral", tag_field="kind"):
    """Collateral assets used as cross margin lose value (USDe, wBETH, BNSOL on Binance,
    10 Oct 2025, 21:36-22:16 UTC); the perp moves only by ``perp_move`` (default 0) plus the
    cascade of the accounts pulled under maintenance.
    """

    assets: list[CollateralAsset]
    perp_move: Move = 0.0

    def check(self) -> None:
        self._check_grid()
        if not self.assets:
            raise ValueError("assets is empty; expected at least one [[shock.assets]] table")


Shock = Union[  # noqa: UP007
    JumpShock, NewsShock, BridgeShock, JumpDiffusionShock, GarchShock, CollateralShock
]
SHOCK_KINDS = ("jump", "news", "bridge", "jump_diffusion", "garch", "collateral")


# --------------------------------------------------------------------------------------------
# behaviours
# --------------------------------------------------------------------------------------------
class RetailDeleverage(_Cfg, frozen=True, kw_only=True):
    """Retail cut exposure as volatility rises: while the realised volatility (EWMA of squared
    step log returns, half-life ``halflife_s``, annualised) is above ``vol_threshold_annual``,
    each step retail close ``cut_fraction_per_step`` of their remaining open size (hedging or
    partial closes at market; the closing volume hits the book like forced flow).
    """

    enabled: bool = True
    vol_threshold_annual: Pos = 1.0
    cut_fraction_per_step: Frac = 0.05
    halflife_s: Pos = 300.0


class DipBuying(_Cfg, frozen=True, kw_only=True):
    """Institutions rest extra bids below the market: ``notional_quote[k]`` at
    ``levels[k]`` (fraction below the pre-shock price, e.g. -0.05) on every venue, split across
    venues by venue share. They absorb forced selling when the price reaches the level.
    """

    enabled: bool = True
    levels: list[Annotated[float, msgspec.Meta(gt=-1.0, lt=0.0)]] = msgspec.field(
        default_factory=lambda: [-0.05, -0.10]
    )
    notional_quote: list[NonNeg] = msgspec.field(default_factory=lambda: [2.0e8, 4.0e8])

    def check(self) -> None:
        if len(self.levels) != len(self.notional_quote):
            raise ValueError(
                f"levels has {len(self.levels)} entries but notional_quote has "
                f"{len(self.notional_quote)}; expected the same length"
            )


class MarketMakerWithdrawal(_Cfg, frozen=True, kw_only=True):
    """Market makers pull depth under stress: depth is scaled by
    s = 1 − (1 − depth_floor)·clip((σ − vol_low_annual)/(vol_high_annual − vol_low_annual), 0, 1)
    with σ the same EWMA realised volatility (10 Oct 2025: +1 % ask depth fell 83-85 %).
    """

    enabled: bool = True
    vol_low_annual: NonNeg = 0.8
    vol_high_annual: Pos = 3.0
    depth_floor: Frac = 0.15
    halflife_s: Pos = 300.0

    def check(self) -> None:
        if not self.vol_high_annual > self.vol_low_annual:
            raise ValueError("vol_high_annual must be above vol_low_annual")


class Arbitrage(_Cfg, frozen=True, kw_only=True):
    """Arbitrage links venues: a fraction ``linkage`` of each venue's forced flow is carried
    by arbitrageurs to all venues in proportion to their depth, so a cascade on one venue moves
    the others (linkage 0: independent venues; 1: one pooled book).
    """

    enabled: bool = True
    linkage: Frac = 0.7


class Behaviours(_Cfg, frozen=True, kw_only=True):
    """Switchable behaviour rules; a missing table means the behaviour is off."""

    retail_deleverage: RetailDeleverage | None = None
    dip_buying: DipBuying | None = None
    mm_withdrawal: MarketMakerWithdrawal | None = None
    arbitrage: Arbitrage | None = None

    def active(self) -> list[str]:
        """Names of the enabled behaviours."""
        out = []
        for name in ("retail_deleverage", "dip_buying", "mm_withdrawal", "arbitrage"):
            b = getattr(self, name)
            if b is not None and b.enabled:
                out.append(name)
        return out


class MonteCarloConfig(_Cfg, frozen=True, kw_only=True):
    """Defaults for ``liqcascade stress`` (the CLI options override them)."""

    paths: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 1000
    seed: Annotated[int, msgspec.Meta(ge=0)] = 0
    quantiles: list[Frac] = msgspec.field(default_factory=lambda: [0.5, 0.95, 0.99])
    confidence: Annotated[float, msgspec.Meta(gt=0.0, lt=1.0)] = 0.95
    #: ``index``: the stress kernel on the indexed book (fast; every behaviour);
    #: ``dynamic``: :func:`liqcascade.engine.dynamic.simulate` per path (venue processes,
    #: resilience, partial liquidations, ADL policies; slower).
    engine: str = "index"
    #: dynamic engine only: seconds simulated after the path ends (the cascade settles).
    settle_s: NonNeg = 60.0

    def check(self) -> None:
        if self.engine not in ("index", "dynamic"):
            raise ValueError(f"engine: expected one of index|dynamic, got {self.engine!r}")


class ScenarioMeta(_Cfg, frozen=True, kw_only=True):
    """``[scenario]``: a name and free text."""

    name: str
    description: str = ""


class Scenario(_Cfg, frozen=True, kw_only=True):
    """A whole scenario file. ``source_path`` is set by :func:`load_scenario`."""

    scenario: ScenarioMeta
    venues: list[VenueConfig]
    book: Book
    shock: Shock
    behaviours: Behaviours = msgspec.field(default_factory=Behaviours)
    monte_carlo: MonteCarloConfig = msgspec.field(default_factory=MonteCarloConfig)
    source_path: str | None = None

    def check(self) -> None:
        if not self.venues:
            raise ValueError("venues is empty; expected at least one [[venues]] table")
        seen = set()
        for v in self.venues:
            key = (v.name, v.symbol)
            if key in seen:
                raise ValueError(f"venue {v.name}/{v.symbol} declared twice")
            seen.add(key)
        total = sum(v.share for v in self.venues)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"[[venues]] share values add up to {total:g}, expected 1")

    @property
    def base_dir(self) -> Path:
        """Folder relative paths in the scenario are resolved against."""
        return Path(self.source_path).parent if self.source_path else Path.cwd()


# --------------------------------------------------------------------------------------------
# loading and error messages
# --------------------------------------------------------------------------------------------
def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a TOML scenario file (through :func:`liqcascade.config.load`).

    Raises :class:`ConfigError` naming the file and key on any invalid input (missing file,
    TOML syntax, unknown key, wrong type, out-of-range value, inconsistent values).
    """
    p = Path(path)
    return load(p, Scenario, what="scenario", extra={"source_path": str(p.resolve())})


def parse_scenario(
    raw: dict[str, Any], name: str = "scenario.toml", source_path: str | None = None
) -> Scenario:
    """Validate an already-parsed scenario dict (``name`` prefixes error messages)."""
    if "source_path" in raw:
        raise ConfigError(f"{name}: source_path: unknown key (it is set by the loader)")
    data = dict(raw)
    if source_path is not None:
        data["source_path"] = source_path
    return convert(data, Scenario, name=name)
