"""Where liquidations sit: a liquidation map estimated from stored market data with a stated prior.

Method (docs/liquidation-map.md states every formula and default):

1. Positions are opened bar by bar over a look-back window before ``at``. The notional opened in
   bar i is ``max(dOI_i, 0)`` when an open-interest series is given, else the bar's traded quote
   volume. It is split between longs and shorts by the taker flow of the bar (taker-buy quote
   volume opens longs, taker-sell opens shorts). Entry price = the bar's VWAP
   (quote_volume / volume; the close when the bar has no volume).
2. Each bar's opened notional is spread over leverage levels by an explicit prior
   (:class:`LeveragePrior`, one TOML file per venue under ``liqcascade/priors``). Weight above the
   symbol's leverage cap (from the venue rules, at the prior's representative position size) is
   moved to the cap.
3. The liquidation price of each (bar, leverage, side) cohort is the venue's isolated-margin
   liquidation price (``liqcascade.margin.liquidation_price``) for a position of the prior's
   representative notional with margin = notional / leverage.
4. A cohort is closed when price crosses its liquidation price after its opening bar (longs: any
   later bar low <= liquidation price; shorts: any later bar high >= it). Cohorts that survive are
   also closed voluntarily with the prior's half-life.
5. The surviving book is scaled so that each side's total size equals the open interest at
   ``at`` (stated, or the last value of the series): every contract has one long and one short.
   Without any open interest the prior's ``open_fraction`` of traded volume is used.

The result is a :class:`LiquidationMap` whose ``levels`` frame (price_level, side, venue, symbol,
size_base, notional_quote) is what the risk module's cluster warning and the web heatmap read.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from numba import njit

from liqcascade.errors import ConfigError, DataError, InputError
from liqcascade.log import logger

__all__ = [
    "LeveragePrior",
    "LiquidationMap",
    "compare_priors",
    "estimate_map",
    "list_priors",
    "load_prior",
    "normalize_bars",
    "to_ms",
]

PRIOR_SCHEMA = "liqcascade.prior/1"
_PRIOR_KEYS = {
    "schema",
    "venue",
    "name",
    "summary",
    "rationale",
    "representative_notional_quote",
    "half_life_hours",
    "open_fraction",
    "side_split",
    "leverage",
}
_MS_PER_HOUR = 3_600_000


# --------------------------------------------------------------------------------------------
# time helpers


def to_ms(at: str | int | float | datetime) -> int:
    """Convert ``at`` to Unix epoch milliseconds (UTC).

    Accepts epoch ms (int), an aware or naive (taken as UTC) ``datetime``, or an ISO-8601 string
    such as ``"2025-10-10T20:50"`` / ``"2025-10-10 20:50:00Z"``.
    """
    if isinstance(at, bool):
        raise InputError(f"time: expected ISO-8601 text or epoch ms, got {at!r}")
    if isinstance(at, (int, np.integer)):
        return int(at)
    if isinstance(at, float):
        if not math.isfinite(at):
            raise InputError(f"time: expected a finite epoch ms, got {at!r}")
        return int(at)
    if isinstance(at, datetime):
        dt = at if at.tzinfo else at.replace(tzinfo=UTC)
        return int(round(dt.timestamp() * 1000))
    if isinstance(at, str):
        text = at.strip().replace("Z", "+00:00")
        if text.isdigit():
            return int(text)
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise InputError(
                f"time: expected ISO-8601 like '2025-10-10T20:50' (UTC) or epoch ms, got {at!r}"
            ) from exc
        return to_ms(dt)
    raise InputError(f"time: expected ISO-8601 text or epoch ms, got {type(at).__name__}")


def ms_to_iso(ms: int) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------------------------
# priors


@dataclass(frozen=True, kw_only=True)
class LeveragePrior:
    """An explicit leverage prior for one venue (read from a TOML file, see docs/liquidation-map.md).

    Attributes:
        venue: venue key as in ``liqcascade.venues`` (e.g. ``"binance_usdm"``).
        name: short name of the prior (``"default"``, ``"high"``, ...).
        leverage: leverage levels (x, > 0).
        weight: share of opened notional at each level (fractions summing to 1).
        representative_notional_quote: position size (quote) used to pick the venue's
            maintenance-margin tier when computing liquidation prices.
        half_life_hours: voluntary-closing half-life of positions that are not liquidated.
        open_fraction: share of traded quote volume that opens positions; used only when no open
            interest is given.
        side_split: ``"taker"`` (taker-buy volume opens longs) or ``"even"`` (half each).
        summary, rationale: what the prior assumes and why, in words.
        path: file it was read from ("" when built in code).
    """

    venue: str
    name: str
    leverage: tuple[float, ...]
    weight: tuple[float, ...]
    representative_notional_quote: float = 20_000.0
    half_life_hours: float = 72.0
    open_fraction: float = 0.05
    side_split: str = "taker"
    summary: str = ""
    rationale: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        where = self.path or f"prior {self.venue}.{self.name}"
        lev = np.asarray(self.leverage, dtype=float)
        w = np.asarray(self.weight, dtype=float)
        if lev.ndim != 1 or lev.size == 0 or lev.size != w.size:
            raise ConfigError(
                f"{where}: leverage.levels and leverage.weights must be non-empty lists of equal "
                f"length (got {lev.size} and {w.size})"
            )
        if not np.all(np.isfinite(lev)) or np.any(lev < 1.0):
            raise ConfigError(f"{where}: leverage.levels must be finite and >= 1, got {list(lev)}")
        if np.any(np.diff(lev) <= 0):
            raise ConfigError(f"{where}: leverage.levels must be strictly increasing")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ConfigError(f"{where}: leverage.weights must be finite and >= 0")
        if abs(w.sum() - 1.0) > 1e-6:
            raise ConfigError(
                f"{where}: leverage.weights must sum to 1 (fractions), got {w.sum():.6f}"
            )
        if not (self.representative_notional_quote > 0):
            raise ConfigError(f"{where}: representative_notional_quote must be > 0")
        if not (self.half_life_hours > 0):
            raise ConfigError(f"{where}: half_life_hours must be > 0 (hours)")
        if not (0 < self.open_fraction <= 1):
            raise ConfigError(f"{where}: open_fraction must be in (0, 1]")
        if self.side_split not in ("taker", "even"):
            raise ConfigError(
                f"{where}: side_split must be 'taker' or 'even', got {self.side_split!r}"
            )

    @classmethod
    def from_toml(cls, path: str | Path) -> LeveragePrior:
        """Read a prior file (schema ``liqcascade.prior/1``); unknown keys are rejected."""
        p = Path(path)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{p}: prior file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
        return cls.from_dict(raw, path=str(p))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], path: str = "") -> LeveragePrior:
        """Build a prior from the parsed TOML mapping (same keys as the file)."""
        where = path or "prior"
        unknown = set(raw) - _PRIOR_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)}; allowed {sorted(_PRIOR_KEYS)}"
            )
        if raw.get("schema") != PRIOR_SCHEMA:
            raise ConfigError(
                f"{where}: field 'schema' must be {PRIOR_SCHEMA!r}, got {raw.get('schema')!r}"
            )
        for key in ("venue", "name", "leverage"):
            if key not in raw:
                raise ConfigError(f"{where}: missing field {key!r}")
        lev = raw["leverage"]
        if not isinstance(lev, dict) or set(lev) != {"levels", "weights"}:
            raise ConfigError(f"{where}: [leverage] must hold exactly 'levels' and 'weights'")
        try:
            return cls(
                venue=str(raw["venue"]),
                name=str(raw["name"]),
                leverage=tuple(float(x) for x in lev["levels"]),
                weight=tuple(float(x) for x in lev["weights"]),
                representative_notional_quote=float(
                    raw.get("representative_notional_quote", 20_000.0)
                ),
                half_life_hours=float(raw.get("half_life_hours", 72.0)),
                open_fraction=float(raw.get("open_fraction", 0.05)),
                side_split=str(raw.get("side_split", "taker")),
                summary=str(raw.get("summary", "")).strip(),
                rationale=str(raw.get("rationale", "")).strip(),
                path=path,
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ConfigError):
                raise
            raise ConfigError(f"{where}: bad value ({exc})") from exc

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (recorded in every map and replay result)."""
        return {
            "venue": self.venue,
            "name": self.name,
            "leverage": list(self.leverage),
            "weight": list(self.weight),
            "representative_notional_quote": self.representative_notional_quote,
            "half_life_hours": self.half_life_hours,
            "open_fraction": self.open_fraction,
            "side_split": self.side_split,
            "path": self.path,
        }


def _prior_dir() -> Path:
    return Path(str(resources.files("liqcascade") / "priors"))


def list_priors(venue: str | None = None) -> list[str]:
    """Names ``venue.name`` of the priors shipped with liqcascade (optionally for one venue)."""
    names = sorted(p.name[: -len(".toml")] for p in _prior_dir().glob("*.toml"))
    if venue is not None:
        names = [n for n in names if n.split(".", 1)[0] == venue]
    return names


def load_prior(spec: str | Path = "default", venue: str | None = None) -> LeveragePrior:
    """Load a leverage prior.

    ``spec`` is a path to a TOML file, a shipped name ``"venue.name"``, or just ``"name"`` together
    with ``venue`` (``load_prior("high", venue="binance_usdm")``).
    """
    p = Path(spec)
    if p.suffix == ".toml" or p.exists():
        prior = LeveragePrior.from_toml(p)
    else:
        key = str(spec) if "." in str(spec) else f"{venue}.{spec}"
        if venue is None and "." not in str(spec):
            raise InputError(f"prior {spec!r}: give a file path, 'venue.name', or a venue")
        f = _prior_dir() / f"{key}.toml"
        if not f.exists():
            raise InputError(
                f"prior {key!r}: not shipped; available: {', '.join(list_priors()) or 'none'} "
                "(or pass a TOML file path)"
            )
        prior = LeveragePrior.from_toml(f)
    if venue is not None and prior.venue != venue:
        raise ConfigError(
            f"{prior.path or spec}: prior is for venue {prior.venue!r}, map asked for {venue!r}"
        )
    return prior


def _load_rules(venue: str, symbol: str) -> Any:
    from liqcascade.venues import load_venue

    return load_venue(venue, symbol)


def capped_leverage(prior: LeveragePrior, rules: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """The prior's levels and weights with weight above the venue cap moved to the cap.

    The cap is the maximum leverage of the venue tier that holds the prior's representative
    notional (``rules.tiers``). Returns (levels, weights, moved_weight).
    """
    lev = np.asarray(prior.leverage, dtype=float)
    w = np.asarray(prior.weight, dtype=float)
    k = int(np.asarray(rules.tiers.index(np.array([prior.representative_notional_quote])))[0])
    cap = float(np.asarray(rules.tiers.max_leverage)[k])
    above = lev > cap
    moved = float(w[above].sum())
    if not above.any():
        return lev, w, 0.0
    lev2 = np.append(lev[~above], cap) if cap not in lev[~above] else lev[~above]
    w2 = w[~above].copy()
    if cap in lev[~above]:
        w2[np.searchsorted(lev[~above], cap)] += moved
    else:
        w2 = np.append(w2, moved)
    return lev2, w2, moved


# --------------------------------------------------------------------------------------------
# bars

_ALIASES = {
    "open_time": "open_time_ms",
    "close_time": "close_time_ms",
    "volume": "volume_base",
    "taker_buy_volume": "taker_buy_volume_base",
}
_NUMERIC = ("open", "high", "low", "close")


def normalize_bars(bars: pl.DataFrame, source: str = "bars") -> pl.DataFrame:
    """Validate and normalise a klines frame for :func:`estimate_map`.

    Accepts Binance kline column names (open_time, volume, quote_volume, taker_buy_quote_volume)
    or liqcascade names (open_time_ms, volume_base, ...). Volume columns may be missing or null
    for price-only bars (mark/index klines). Returns columns open_time_ms, close_time_ms, open,
    high, low, close, volume_base, quote_volume, taker_buy_quote_volume sorted by time.
    """
    df = bars.rename(
        {k: v for k, v in _ALIASES.items() if k in bars.columns and v not in bars.columns}
    )
    if "open_time_ms" not in df.columns and "time_ms" in df.columns:
        df = df.rename({"time_ms": "open_time_ms"})
    missing = [c for c in ("open_time_ms", *_NUMERIC) if c not in df.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; expected kline columns")
    if df.height == 0:
        raise DataError(f"{source}: no bars")
    for c in ("volume_base", "quote_volume", "taker_buy_quote_volume"):
        if c not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    if df.schema["open_time_ms"] == pl.Datetime or isinstance(
        df.schema["open_time_ms"], pl.Datetime
    ):
        df = df.with_columns(pl.col("open_time_ms").dt.epoch("ms"))
    df = df.with_columns(
        pl.col("open_time_ms").cast(pl.Int64),
        *[
            pl.col(c).cast(pl.Float64)
            for c in (*_NUMERIC, "volume_base", "quote_volume", "taker_buy_quote_volume")
        ],
    ).sort("open_time_ms")
    if "close_time_ms" not in df.columns:
        step = int(np.median(np.diff(df["open_time_ms"].to_numpy()))) if df.height > 1 else 60_000
        df = df.with_columns((pl.col("open_time_ms") + step - 1).alias("close_time_ms"))
    else:
        df = df.with_columns(pl.col("close_time_ms").cast(pl.Int64))
    bad = df.filter(
        ~(pl.col("low") <= pl.col("high"))
        | ~(pl.col("low") > 0)
        | pl.col("open_time_ms").is_duplicated()
    )
    if bad.height:
        row = bad.row(0, named=True)
        raise DataError(
            f"{source}: bar at open_time_ms={row['open_time_ms']} is invalid "
            "(expected 0 < low <= high and one bar per open time)"
        )
    # a null quote volume but a stated base volume: price-only bars carry 0 volume; treat 0 as absent
    df = df.with_columns(
        pl.when(pl.col("volume_base") > 0)
        .then(pl.col("volume_base"))
        .otherwise(None)
        .alias("volume_base"),
    ).with_columns(
        pl.when(pl.col("volume_base").is_not_null())
        .then(pl.col("quote_volume"))
        .otherwise(None)
        .alias("quote_volume"),
        pl.when(pl.col("volume_base").is_not_null())
        .then(pl.col("taker_buy_quote_volume"))
        .otherwise(None)
        .alias("taker_buy_quote_volume"),
    )
    return df.select(
        "open_time_ms",
        "close_time_ms",
        *_NUMERIC,
        "volume_base",
        "quote_volume",
        "taker_buy_quote_volume",
    )


def _nice_step(x: float) -> float:
    """Round ``x`` to 1, 2 or 5 times a power of ten (bin widths that read well)."""
    if not (x > 0):
        return 1.0
    e = math.floor(math.log10(x))
    m = x / 10**e
    for nice in (1.0, 2.0, 5.0, 10.0):
        if m <= nice * 1.0000001:
            return nice * 10**e
    return 10.0 ** (e + 1)


# --------------------------------------------------------------------------------------------
# the map


@dataclass(frozen=True)
class LiquidationMap:
    """A liquidation map at time ``meta['at_ms']`` for one venue and symbol.

    Attributes:
        levels: price_level (quote, lower edge of a bin of width ``meta['bin_width_quote']``),
            side (int8, +1 long / -1 short: the side that is liquidated there), venue, symbol,
            size_base (contracts liquidated at that level, base units), notional_quote
            (size_base * price_level: what is force-traded there, quote), distance_frac
            ((price_level - reference_price) / reference_price).
        cohorts: one row per surviving (opening bar, leverage, side) cohort: entry_time_ms,
            entry_price, leverage, side, size_base, margin_quote (isolated margin =
            size*entry/leverage), liquidation_price, venue, symbol. Sizes are scaled to the open
            interest; this is the book the replay hands to the cascade engine.
        totals: per venue and side: size_base, notional_quote (at the reference price),
            liquidated_before_size_base (cohorts closed by price before ``at``, same scale).
        meta: inputs and derived scalars (prior, at, reference price, scale mode, ...).
    """

    levels: pl.DataFrame
    cohorts: pl.DataFrame
    totals: pl.DataFrame
    meta: dict[str, Any] = field(default_factory=dict)

    def densest(self, n: int = 10, side: int | None = None) -> pl.DataFrame:
        """The ``n`` price levels holding the most notional (optionally one side only)."""
        df = self.levels if side is None else self.levels.filter(pl.col("side") == side)
        return df.sort("notional_quote", descending=True).head(n)

    def between(self, low_price: float, high_price: float) -> pl.DataFrame:
        """Notional and size per side with liquidation prices in [low_price, high_price]."""
        return (
            self.levels.filter(pl.col("price_level").is_between(low_price, high_price))
            .group_by("venue", "side")
            .agg(pl.col("size_base").sum(), pl.col("notional_quote").sum())
            .sort("venue", "side")
        )


def _oi_at_bars(open_interest: pl.DataFrame, bar_close_ms: np.ndarray) -> np.ndarray:
    """Open interest (base units) as of each bar close (last known value, NaN before the first)."""
    need = {"time_ms", "open_interest_base"}
    if not need <= set(open_interest.columns):
        raise DataError(
            f"open_interest: expected columns {sorted(need)}, got {open_interest.columns}"
        )
    from liqcascade.observed import oi_at_bars

    oi = open_interest.select(
        pl.col("time_ms").cast(pl.Int64), pl.col("open_interest_base").cast(pl.Float64)
    )
    return oi_at_bars(oi["time_ms"].to_numpy(), oi["open_interest_base"].to_numpy(), bar_close_ms)


def _suffix_extreme(x: np.ndarray, fn: Any, fill: float) -> np.ndarray:
    """s[i] = fn(x[i+1:]) (fill for the last bar): the extreme price seen after bar i."""
    if x.size == 0:
        return x.copy()
    rev = fn.accumulate(x[::-1])[::-1]
    return np.append(rev[1:], fill)


def estimate_map(
    bars: pl.DataFrame,
    *,
    venue: str,
    symbol: str,
    at: str | int | datetime,
    prior: LeveragePrior | str | Path = "default",
    open_interest_base: float | None = None,
    open_interest: pl.DataFrame | None = None,
    lookback_hours: float = 168.0,
    bin_width_quote: float | None = None,
    rules: Any = None,
    fill_price_only: bool = True,
    source: str = "bars",
) -> LiquidationMap:
    """Estimate where liquidations sit at time ``at`` (see the module docstring for the method).

    Args:
        bars: klines (1m or coarser) before ``at``; see :func:`normalize_bars`. Bars without
            volume (price-only) still close cohorts but open none.
        venue, symbol: venue key and symbol as in ``liqcascade.venues.load_venue``.
        at: time of the map (epoch ms, datetime, or ISO text, UTC). Only bars opened before it
            are used.
        prior: a :class:`LeveragePrior`, a prior file, or a shipped prior name.
        open_interest_base: stated open interest at ``at`` (base units, one side). Takes
            precedence over the series.
        open_interest: optional series (columns time_ms, open_interest_base); its changes set the
            opened notional per bar and its last value the scale.
        lookback_hours: window before ``at`` in which positions are opened (hours).
        bin_width_quote: width of a price level (quote); default a 1-2-5 step near 0.1% of the
            reference price.
        rules: venue rules (default ``liqcascade.venues.load_venue(venue, symbol)``).
        fill_price_only: give price-only bars (no volume) the median traded quote volume per
            unit time of the bars that have volume, so positions opened before the first stored
            volume bar are represented (False: price-only bars open nothing).

    Returns:
        A :class:`LiquidationMap`. Raises DataError when no usable bar precedes ``at``.
    """
    from liqcascade import margin

    at_ms = to_ms(at)
    if not (lookback_hours > 0):
        raise InputError(f"lookback_hours: expected > 0, got {lookback_hours}")
    if open_interest_base is not None and not (open_interest_base > 0):
        raise InputError(f"open_interest_base: expected > 0 (base units), got {open_interest_base}")
    if not isinstance(prior, LeveragePrior):
        prior = load_prior(prior, venue=venue)
    elif prior.venue != venue:
        raise ConfigError(
            f"{prior.path or prior.name}: prior is for {prior.venue!r}, not {venue!r}"
        )
    if rules is None:
        rules = _load_rules(venue, symbol)

    df = normalize_bars(bars, source=source)
    start_ms = at_ms - int(lookback_hours * _MS_PER_HOUR)
    df = df.filter((pl.col("open_time_ms") < at_ms) & (pl.col("open_time_ms") >= start_ms))
    if df.height == 0:
        raise DataError(
            f"{source}: no bar of {venue} {symbol} between {ms_to_iso(start_ms)} and {ms_to_iso(at_ms)}"
        )
    has_vol = df["volume_base"].is_not_null().to_numpy()
    if not has_vol.any() and open_interest is None:
        raise DataError(
            f"{source}: no bar with volume before {ms_to_iso(at_ms)} for {venue} {symbol}; "
            "the map needs traded volume (klines) or an open-interest series"
        )
    t_close = df["close_time_ms"].to_numpy()
    high = df["high"].to_numpy()
    low = df["low"].to_numpy()
    close = df["close"].to_numpy()
    vol = df["volume_base"].fill_null(0.0).to_numpy()
    qv = df["quote_volume"].fill_null(0.0).to_numpy()
    tbq = df["taker_buy_quote_volume"].to_numpy()
    tbq = np.where(np.isnan(tbq), 0.5 * qv, tbq)
    entry = np.where(vol > 0, qv / np.where(vol > 0, vol, 1.0), close)
    # the VWAP can sit a rounding step outside the bar; keep it inside
    entry = np.clip(entry, low, high)
    buy_share = np.where(qv > 0, np.clip(tbq / np.where(qv > 0, qv, 1.0), 0.0, 1.0), 0.5)
    if prior.side_split == "even":
        buy_share = np.full_like(buy_share, 0.5)

    if open_interest is not None:
        oi_bar = _oi_at_bars(open_interest, t_close)
        prev = np.concatenate([[np.nan], oi_bar[:-1]])
        opened_base = np.nan_to_num(np.clip(oi_bar - prev, 0.0, None), nan=0.0)
        opened_quote = opened_base * entry
        weight_mode = "open_interest_increase"
    else:
        opened_quote = qv.copy()
        weight_mode = "quote_volume"
        if fill_price_only and has_vol.any() and not has_vol.all():
            # price-only bars (mark/index klines): the median traded quote volume per ms of the
            # bars that have volume, times the bar's length; sides split evenly
            dur = (t_close - df["open_time_ms"].to_numpy() + 1).astype(float)
            rate = float(np.median(qv[has_vol] / dur[has_vol]))
            opened_quote = np.where(has_vol, qv, rate * dur)
            weight_mode = "quote_volume+filled"
    ref_price = float(close[-1])

    # survival against price moves after the opening bar
    after_min_low = _suffix_extreme(low, np.minimum, np.inf)
    after_max_high = _suffix_extreme(high, np.maximum, -np.inf)
    age_h = np.clip((at_ms - t_close) / _MS_PER_HOUR, 0.0, None)
    keep = 0.5 ** (age_h / prior.half_life_hours)

    lev, w, moved = capped_leverage(prior, rules)
    n, k = df.height, lev.size
    rep = prior.representative_notional_quote
    sides = (1, -1)
    rows: dict[str, list[np.ndarray]] = {
        c: []
        for c in (
            "entry_time_ms",
            "entry_price",
            "leverage",
            "side",
            "raw_base",
            "liquidation_price",
            "alive",
        )
    }
    for side in sides:
        e = np.repeat(entry, k)
        L = np.tile(lev, n)
        size_rep = rep / e
        lp = np.asarray(
            margin.liquidation_price(
                rules, np.full(e.shape, side, dtype=np.int8), size_rep, e, rep / L
            ),
            dtype=float,
        )
        share = buy_share if side == 1 else 1.0 - buy_share
        raw_quote = np.repeat(opened_quote * share * keep, k) * np.tile(w, n)
        if side == 1:
            alive = lp < np.repeat(after_min_low, k)
        else:
            alive = lp > np.repeat(after_max_high, k)
        rows["entry_time_ms"].append(np.repeat(df["open_time_ms"].to_numpy(), k))
        rows["entry_price"].append(e)
        rows["leverage"].append(L)
        rows["side"].append(np.full(e.shape, side, dtype=np.int8))
        rows["raw_base"].append(raw_quote / e)
        rows["liquidation_price"].append(lp)
        rows["alive"].append(alive & np.isfinite(lp))
    cols = {c: np.concatenate(v) for c, v in rows.items()}
    raw = cols["raw_base"]
    alive = cols["alive"]
    side_arr = cols["side"]

    # scale to open interest (each side holds the whole OI) or to the prior's open fraction
    if open_interest_base is not None:
        oi_base = float(open_interest_base)
        scale_mode = "stated_open_interest"
    elif open_interest is not None:
        oi_series = _oi_at_bars(open_interest, np.array([at_ms]))
        if not np.isfinite(oi_series[0]):
            raise DataError(f"open_interest: no value at or before {ms_to_iso(at_ms)}")
        oi_base = float(oi_series[0])
        scale_mode = "open_interest_series"
    else:
        oi_base = float("nan")
        scale_mode = "open_fraction"
    scale = np.ones_like(raw)
    side_scale: dict[int, float] = {}
    for side in sides:
        m = side_arr == side
        alive_base = float(raw[m & alive].sum())
        if scale_mode == "open_fraction":
            s = prior.open_fraction
        elif alive_base > 0:
            s = oi_base / alive_base
        else:
            raise DataError(
                f"{source}: no {('long' if side == 1 else 'short')} position survives to "
                f"{ms_to_iso(at_ms)}; cannot spread open interest over the look-back window"
            )
        scale[m] = s
        side_scale[side] = s
    size = raw * scale

    all_cohorts = pl.DataFrame(
        {
            "entry_time_ms": cols["entry_time_ms"],
            "entry_price": cols["entry_price"],
            "leverage": cols["leverage"],
            "side": side_arr,
            "size_base": size,
            "liquidation_price": cols["liquidation_price"],
            "alive": alive,
        }
    ).filter(pl.col("size_base") > 0)
    cohorts = (
        all_cohorts.filter(pl.col("alive"))
        .drop("alive")
        .with_columns(
            (pl.col("size_base") * pl.col("entry_price") / pl.col("leverage")).alias(
                "margin_quote"
            ),
            pl.lit(venue).alias("venue"),
            pl.lit(symbol).alias("symbol"),
        )
    )
    bw = float(bin_width_quote) if bin_width_quote is not None else _nice_step(ref_price * 0.001)
    if not (bw > 0):
        raise InputError(f"bin_width_quote: expected > 0, got {bin_width_quote}")
    levels = (
        cohorts.with_columns(((pl.col("liquidation_price") / bw).floor() * bw).alias("price_level"))
        .group_by("price_level", "side")
        .agg(pl.col("size_base").sum())
        .with_columns(
            (pl.col("size_base") * pl.col("price_level")).alias("notional_quote"),
            ((pl.col("price_level") - ref_price) / ref_price).alias("distance_frac"),
            pl.lit(venue).alias("venue"),
            pl.lit(symbol).alias("symbol"),
            pl.col("side").cast(pl.Int8),
        )
        .select(
            "price_level", "side", "venue", "symbol", "size_base", "notional_quote", "distance_frac"
        )
        .sort("side", "price_level")
    )
    liq_before = (
        all_cohorts.filter(~pl.col("alive"))
        .group_by("side")
        .agg(pl.col("size_base").sum().alias("liquidated_before_size_base"))
    )
    totals = (
        cohorts.group_by("venue", "side")
        .agg(pl.col("size_base").sum(), pl.col("margin_quote").sum())
        .with_columns((pl.col("size_base") * ref_price).alias("notional_quote"))
        .join(liq_before, on="side", how="left")
        .with_columns(
            pl.col("liquidated_before_size_base").fill_null(0.0), pl.col("side").cast(pl.Int8)
        )
        .sort("side", descending=True)
    )
    meta = {
        "venue": venue,
        "symbol": symbol,
        "at_ms": at_ms,
        "at": ms_to_iso(at_ms),
        "reference_price": ref_price,
        "lookback_hours": float(lookback_hours),
        "first_bar_ms": int(df["open_time_ms"][0]),
        "bars": int(df.height),
        "bars_with_volume": int(has_vol.sum()),
        "bin_width_quote": bw,
        "weight_mode": weight_mode,
        "scale_mode": scale_mode,
        "open_interest_base": oi_base,
        "side_scale": {("long" if s == 1 else "short"): v for s, v in side_scale.items()},
        "prior": prior.as_dict(),
        "leverage_used": lev.tolist(),
        "weight_used": w.tolist(),
        "weight_moved_to_cap": moved,
        "rules": {
            "venue": getattr(rules, "venue", venue),
            "symbol": getattr(rules, "symbol", symbol),
            "source_url": getattr(rules, "source_url", ""),
            "effective_date": getattr(rules, "effective_date", ""),
        },
    }
    logger.debug(
        "liquidation map %s %s at %s: %d cohorts", venue, symbol, meta["at"], cohorts.height
    )
    return LiquidationMap(levels=levels, cohorts=cohorts, totals=totals, meta=meta)


def compare_priors(
    bars: pl.DataFrame,
    priors: list[LeveragePrior | str | Path],
    *,
    venue: str,
    symbol: str,
    at: str | int | datetime,
    bin_width_quote: float | None = None,
    progress: Any = None,
    **kwargs: Any,
) -> tuple[pl.DataFrame, list[LiquidationMap]]:
    """The same map under several priors, side by side.

    Returns a wide frame (price_level, side, venue, then ``notional_quote__<prior name>`` per prior,
    0 where a prior puts nothing) on one common bin grid, and the individual maps.
    ``progress(done, total)``, when given, is called after each prior's map.
    """
    if len(priors) < 1:
        raise InputError("priors: give at least one prior")
    maps: list[LiquidationMap] = []
    for p in priors:
        m = estimate_map(
            bars,
            venue=venue,
            symbol=symbol,
            at=at,
            prior=p,
            bin_width_quote=bin_width_quote,
            **kwargs,
        )
        if bin_width_quote is None:
            bin_width_quote = m.meta["bin_width_quote"]
        maps.append(m)
        if progress is not None:
            progress(len(maps), len(priors))
    names = [m.meta["prior"]["name"] for m in maps]
    if len(set(names)) != len(names):
        names = [f"{n}_{i}" for i, n in enumerate(names)]
    wide: pl.DataFrame | None = None
    for name, m in zip(names, maps, strict=True):
        part = m.levels.select(
            "price_level",
            "side",
            "venue",
            pl.col("notional_quote").alias(f"notional_quote__{name}"),
        )
        wide = (
            part
            if wide is None
            else wide.join(part, on=["price_level", "side", "venue"], how="full", coalesce=True)
        )
    assert wide is not None
    value_cols = [c for c in wide.columns if c.startswith("notional_quote__")]
    return wide.with_columns(pl.col(value_cols).fill_null(0.0)).sort("side", "price_level"), maps


def sensitivity_table(
    maps: list[LiquidationMap], bands_frac: tuple[float, ...] = (0.02, 0.05, 0.10)
) -> pl.DataFrame:
    """Per prior: notional (quote) liquidated if price moves by each band, down (longs) and up (shorts).

    Column ``long_within_5pct_quote`` is the notional of long liquidation levels within 5% below the
    reference price, etc.; this is the figure that moves most with the prior.
    """
    out = []
    for m in maps:
        ref = m.meta["reference_price"]
        row: dict[str, Any] = {
            "prior": m.meta["prior"]["name"],
            "prior_path": m.meta["prior"]["path"],
        }
        for b in bands_frac:
            tag = f"{round(b * 100)}pct"
            row[f"long_within_{tag}_quote"] = float(
                m.levels.filter((pl.col("side") == 1) & (pl.col("price_level") >= ref * (1 - b)))[
                    "notional_quote"
                ].sum()
            )
            row[f"short_within_{tag}_quote"] = float(
                m.levels.filter((pl.col("side") == -1) & (pl.col("price_level") <= ref * (1 + b)))[
                    "notional_quote"
                ].sum()
            )
        out.append(row)
    return pl.DataFrame(out)


# --------------------------------------------------------------------------------------------
# the position book on the market model's grid, bar by bar (rolling forecasts and ensembles)


def liquidation_ratios(
    prior: LeveragePrior, rules: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Liquidation price / entry price per leverage level of a prior, for longs and shorts.

    The venue's isolated-margin liquidation price (``liqcascade.margin.liquidation_price``) of a
    position of the prior's representative notional with margin = notional / leverage (the same
    cohort rule as :func:`estimate_map`); the ratio does not depend on the entry price because
    the representative notional fixes the tier. Returns (long_ratio, short_ratio, weights) after
    :func:`capped_leverage`.
    """
    from liqcascade import margin

    lev, w, _ = capped_leverage(prior, rules)
    rep = prior.representative_notional_quote
    entry = np.full(lev.shape, 100_000.0)
    out = []
    for side in (1, -1):
        lp = margin.liquidation_price(
            rules, np.full(lev.shape, side, dtype=np.int8), rep / entry, entry, rep / lev
        )
        out.append(np.asarray(lp, dtype=float) / entry)
    return out[0], out[1], w


@dataclass(frozen=True)
class GridPrior:
    """Two leverage priors on one level set, ready for :func:`book_grids`."""

    ratio_long: np.ndarray  # (2, L) liquidation / entry for longs, per prior
    ratio_short: np.ndarray
    weight: np.ndarray  # (2, L)
    open_fraction: float
    half_life_min: float
    names: tuple[str, str]


def grid_prior(venue: str, symbol: str, names: tuple[str, str] = ("default", "high")) -> GridPrior:
    """Load two shipped leverage priors and their liquidation ratios for a venue and symbol."""
    rules = _load_rules(venue, symbol)
    priors = [load_prior(n, venue=venue) for n in names]
    rl, rs, ws = zip(*(liquidation_ratios(p, rules) for p in priors), strict=True)
    size = max(len(r) for r in rl)

    def pad(a: tuple[np.ndarray, ...], fill: float) -> np.ndarray:
        return np.array([np.pad(x, (0, size - len(x)), constant_values=fill) for x in a])

    return GridPrior(
        ratio_long=pad(rl, 0.0),
        ratio_short=pad(rs, np.inf),
        weight=pad(ws, 0.0),
        open_fraction=priors[0].open_fraction,
        half_life_min=priors[0].half_life_hours * 60.0,
        names=(priors[0].name, priors[1].name),
    )


_OLD_Z = np.array([-2.0 + 4.0 * (i + 0.5) / 41 for i in range(41)])
_OLD_W = np.exp(-0.5 * _OLD_Z**2) / np.exp(-0.5 * _OLD_Z**2).sum()


def book_grids(
    typical: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    volume_base: np.ndarray,
    taker_buy_base: np.ndarray,
    close: np.ndarray,
    t: int,
    gp: GridPrior,
    oi_base: float,
    lookback: int,
    old_entry_log_sd: float,
    bin_log: float,
    n_bins: int,
) -> np.ndarray:
    """Cumulative liquidation size (base units) on a log-price grid at the close of bar ``t``.

    The same cohort method as :func:`estimate_map`, restricted to what the tape holds: bar j
    (``t - lookback <= j <= t``) opens ``open_fraction`` of its volume (taker buys open longs,
    taker sells shorts) at its typical price, spread over the prior's leverage levels, decayed
    with the prior's half-life, alive while no later low (high) crossed its liquidation price.
    The rest of the open interest ``oi_base`` per side was opened before the tape: entries
    lognormal around the first bar's price with ``old_entry_log_sd``, alive if their
    liquidation price lies beyond every low (high) the tape holds. Only bars ``<= t`` are read.

    Returns an array (4, n_bins + 1): cumulative long size below ``close[t]`` under prior 0 and
    prior 1, then short size above, by bin of width ``bin_log`` in log distance.
    """
    j0 = max(0, t - lookback)
    return _grids_kernel(
        typical, low, high, volume_base, taker_buy_base, float(close[t]), j0, t,
        gp.ratio_long, gp.ratio_short, gp.weight, gp.open_fraction, gp.half_life_min,
        float(oi_base), old_entry_log_sd, bin_log, n_bins, _OLD_Z, _OLD_W,
    )  # fmt: skip


@njit(cache=True, nogil=True)
def _grids_kernel(  # pragma: no cover - numba
    typ, low, high, vol, tb, c, j0, t, rl, rs, w, of, hl, oi, sd_old, g, nb, oz, ow
):
    out = np.zeros((4, nb + 1))
    dens = np.zeros((4, nb))
    recent = np.zeros((2, 2))  # [prior, side] alive recent size
    run_lo = np.inf
    run_hi = 0.0
    nl = rl.shape[1]
    for j in range(t, j0 - 1, -1):
        # survival uses bars after j (j+1..t)
        decay = 0.5 ** ((t - j) / hl)
        sl = of * tb[j] * decay
        ss = of * (vol[j] - tb[j]) * decay
        for pr in range(2):
            for li in range(nl):
                wt = w[pr, li]
                if wt <= 0.0:
                    continue
                liq = typ[j] * rl[pr, li]
                if liq > 0.0 and liq < run_lo and liq < c:
                    d = -math.log(liq / c)
                    k = int(d / g)
                    if k < nb:
                        dens[pr, k] += sl * wt
                    recent[pr, 0] += sl * wt
                liq = typ[j] * rs[pr, li]
                if liq > run_hi and liq > c and liq < np.inf:
                    d = math.log(liq / c)
                    k = int(d / g)
                    if k < nb:
                        dens[2 + pr, k] += ss * wt
                    recent[pr, 1] += ss * wt
        run_lo = min(run_lo, low[j])
        run_hi = max(run_hi, high[j])
    # positions opened before the tape
    p_old = typ[j0]
    for pr in range(2):
        od = np.zeros((2, nb))
        tot = np.zeros(2)
        for zi in range(oz.size):
            e = p_old * math.exp(sd_old * oz[zi])
            for li in range(nl):
                wt = w[pr, li] * ow[zi]
                if wt <= 0.0:
                    continue
                liq = e * rl[pr, li]
                if liq > 0.0 and liq < run_lo and liq < c:
                    k = int(-math.log(liq / c) / g)
                    if k < nb:
                        od[0, k] += wt
                    tot[0] += wt
                liq = e * rs[pr, li]
                if liq > run_hi and liq > c and liq < np.inf:
                    k = int(math.log(liq / c) / g)
                    if k < nb:
                        od[1, k] += wt
                    tot[1] += wt
        for sd in range(2):
            mass = max(oi - recent[pr, sd], 0.0)
            if tot[sd] > 0.0:
                for k in range(nb):
                    dens[2 * sd + pr, k] += mass * od[sd, k] / tot[sd]
    for r in range(4):
        acc = 0.0
        for k in range(nb):
            out[r, k] = acc
            acc += dens[r, k]
        out[r, nb] = acc
    return out
