"""The liquidation map: cohorts opened bar by bar, spread over leverage by a prior, closed when
price crosses their liquidation price, scaled to the open interest and binned by price level
(the method is stated step by step in :mod:`liqcascade.estimate` and docs/liquidation-map.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import ConfigError, DataError, InputError
from liqcascade.estimate.bars import ms_to_iso, normalize_bars, to_ms
from liqcascade.estimate.priors import LeveragePrior, _load_rules, capped_leverage, load_prior
from liqcascade.log import logger

_MS_PER_HOUR = 3_600_000
#: the two sides of a cohort: +1 long, -1 short (the side that is liquidated)
_SIDES = (1, -1)


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

    def to_polars(self) -> pl.DataFrame:
        """The price levels: ``price_level``, ``side``, ``venue``, ``symbol``, ``size_base``,
        ``notional_quote``, ``distance_frac`` (see the class docstring)."""
        return self.levels

    def plot(self) -> Any:
        """Notional per price level, longs below zero and shorts above (:func:`maps_figure`)."""
        return maps_figure([self])


def maps_figure(maps: list[LiquidationMap], window_frac: float = 0.3) -> Any:
    """One plotly figure of several maps (e.g. the priors of :func:`compare_priors`): notional
    per price level in $M, longs below zero and shorts above, the reference price of the first
    map as a vertical line and the view within ``window_frac`` of it (levels further out stay in
    the data)."""
    from liqcascade import plotting

    if not maps:
        raise InputError("maps: give at least one liquidation map")
    go = plotting.graph_objects("the liquidation map plot")
    fig = go.Figure()
    for m in maps:
        name = m.meta.get("prior", {}).get("name", "map")
        for side, sign, label in ((1, -1, "longs"), (-1, 1, "shorts")):
            part = m.levels.filter(pl.col("side") == side).sort("price_level")
            y = (sign * part["notional_quote"].to_numpy() / 1e6).tolist()
            fig.add_trace(
                go.Bar(
                    x=part["price_level"].to_list(),
                    y=y,
                    name=f"{name}: {label} liquidated",
                    opacity=0.6,
                )
            )
    m0 = maps[0].meta
    ref = float(m0["reference_price"])
    fig.add_vline(x=ref, line_width=1)
    fig.update_xaxes(range=[ref * (1 - window_frac), ref * (1 + window_frac)])
    return plotting.styled(
        fig,
        f"Liquidation map {m0['venue']} {m0['symbol']} at {m0['at']} "
        f"(OI {m0['open_interest_base']:,.0f} base)",
        barmode="overlay",
        xaxis_title="liquidation price (quote)",
        yaxis_title="notional per level, $M (longs < 0, shorts > 0)",
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


@dataclass(frozen=True)
class _Bars:
    """The bars of the look-back window as arrays, with what each bar opens and at what price."""

    open_time_ms: np.ndarray
    close_time_ms: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    has_volume: np.ndarray
    entry_price: np.ndarray  # quote per base: the bar's VWAP, kept inside the bar
    buy_share: np.ndarray  # fraction of the opened notional that opens longs
    opened_quote: np.ndarray  # notional opened in the bar (quote)
    weight_mode: str


def _checked_prior_and_rules(
    venue: str,
    symbol: str,
    prior: LeveragePrior | str | Path,
    rules: Any,
    open_interest_base: float | None,
    lookback_hours: float,
) -> tuple[LeveragePrior, Any]:
    """Check the scalar inputs; load the prior (of this venue) and the venue rules."""
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
    return prior, rules


def _window_bars(
    bars: pl.DataFrame,
    at_ms: int,
    lookback_hours: float,
    has_open_interest: bool,
    venue: str,
    symbol: str,
    source: str,
) -> pl.DataFrame:
    """The normalised bars opened in [at - lookback, at); DataError when none can open a cohort."""
    df = normalize_bars(bars, source=source)
    start_ms = at_ms - int(lookback_hours * _MS_PER_HOUR)
    df = df.filter((pl.col("open_time_ms") < at_ms) & (pl.col("open_time_ms") >= start_ms))
    if df.height == 0:
        raise DataError(
            f"{source}: no bar of {venue} {symbol} between {ms_to_iso(start_ms)} and {ms_to_iso(at_ms)}"
        )
    if not df["volume_base"].is_not_null().to_numpy().any() and not has_open_interest:
        raise DataError(
            f"{source}: no bar with volume before {ms_to_iso(at_ms)} for {venue} {symbol}; "
            "the map needs traded volume (klines) or an open-interest series"
        )
    return df


def _bar_flows(
    df: pl.DataFrame,
    prior: LeveragePrior,
    open_interest: pl.DataFrame | None,
    fill_price_only: bool,
) -> _Bars:
    """Step 1 of the method: entry price, long share and opened notional of every bar."""
    has_vol = df["volume_base"].is_not_null().to_numpy()
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
    return _Bars(
        open_time_ms=df["open_time_ms"].to_numpy(),
        close_time_ms=t_close,
        high=high,
        low=low,
        close=close,
        has_volume=has_vol,
        entry_price=entry,
        buy_share=buy_share,
        opened_quote=opened_quote,
        weight_mode=weight_mode,
    )


def _cohort_columns(
    b: _Bars,
    at_ms: int,
    prior: LeveragePrior,
    rules: Any,
    lev: np.ndarray,
    w: np.ndarray,
) -> dict[str, np.ndarray]:
    """Steps 2-4: one (bar, leverage, side) cohort per row with its unscaled size (base units),
    liquidation price and whether it is still open at ``at`` (not crossed after its bar)."""
    from liqcascade import margin

    # survival against price moves after the opening bar
    after_min_low = _suffix_extreme(b.low, np.minimum, np.inf)
    after_max_high = _suffix_extreme(b.high, np.maximum, -np.inf)
    age_h = np.clip((at_ms - b.close_time_ms) / _MS_PER_HOUR, 0.0, None)
    keep = 0.5 ** (age_h / prior.half_life_hours)

    n, k = b.entry_price.size, lev.size
    rep = prior.representative_notional_quote
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
    for side in _SIDES:
        e = np.repeat(b.entry_price, k)
        L = np.tile(lev, n)
        size_rep = rep / e
        lp = np.asarray(
            margin.liquidation_price(
                rules, np.full(e.shape, side, dtype=np.int8), size_rep, e, rep / L
            ),
            dtype=float,
        )
        share = b.buy_share if side == 1 else 1.0 - b.buy_share
        raw_quote = np.repeat(b.opened_quote * share * keep, k) * np.tile(w, n)
        if side == 1:
            alive = lp < np.repeat(after_min_low, k)
        else:
            alive = lp > np.repeat(after_max_high, k)
        rows["entry_time_ms"].append(np.repeat(b.open_time_ms, k))
        rows["entry_price"].append(e)
        rows["leverage"].append(L)
        rows["side"].append(np.full(e.shape, side, dtype=np.int8))
        rows["raw_base"].append(raw_quote / e)
        rows["liquidation_price"].append(lp)
        rows["alive"].append(alive & np.isfinite(lp))
    return {c: np.concatenate(v) for c, v in rows.items()}


def _open_interest_scale(
    at_ms: int, open_interest_base: float | None, open_interest: pl.DataFrame | None
) -> tuple[float, str]:
    """The open interest (base units, one side) the book is scaled to, and how it was found."""
    if open_interest_base is not None:
        return float(open_interest_base), "stated_open_interest"
    if open_interest is not None:
        oi_series = _oi_at_bars(open_interest, np.array([at_ms]))
        if not np.isfinite(oi_series[0]):
            raise DataError(f"open_interest: no value at or before {ms_to_iso(at_ms)}")
        return float(oi_series[0]), "open_interest_series"
    return float("nan"), "open_fraction"


def _scaled_sizes(
    cols: dict[str, np.ndarray],
    oi_base: float,
    scale_mode: str,
    prior: LeveragePrior,
    at_ms: int,
    source: str,
) -> tuple[np.ndarray, dict[int, float]]:
    """Step 5: each side's surviving book scaled to the open interest (each side holds the whole
    OI) or, without one, to the prior's open fraction. Returns sizes and the scale per side."""
    raw = cols["raw_base"]
    alive = cols["alive"]
    side_arr = cols["side"]
    scale = np.ones_like(raw)
    side_scale: dict[int, float] = {}
    for side in _SIDES:
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
    return raw * scale, side_scale


def _cohort_frames(
    cols: dict[str, np.ndarray], size: np.ndarray, venue: str, symbol: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every cohort with a size (``alive`` marks the open ones), and the open cohorts with their
    isolated margin (quote), venue and symbol."""
    all_cohorts = pl.DataFrame(
        {
            "entry_time_ms": cols["entry_time_ms"],
            "entry_price": cols["entry_price"],
            "leverage": cols["leverage"],
            "side": cols["side"],
            "size_base": size,
            "liquidation_price": cols["liquidation_price"],
            "alive": cols["alive"],
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
    return all_cohorts, cohorts


def _price_levels(
    cohorts: pl.DataFrame, bw: float, ref_price: float, venue: str, symbol: str
) -> pl.DataFrame:
    """Size and notional of the open cohorts per price level (bins of width ``bw`` quote)."""
    return (
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


def _side_totals(
    all_cohorts: pl.DataFrame, cohorts: pl.DataFrame, ref_price: float
) -> pl.DataFrame:
    """Per venue and side: open size, margin and notional, and the size liquidated before ``at``."""
    liq_before = (
        all_cohorts.filter(~pl.col("alive"))
        .group_by("side")
        .agg(pl.col("size_base").sum().alias("liquidated_before_size_base"))
    )
    return (
        cohorts.group_by("venue", "side")
        .agg(pl.col("size_base").sum(), pl.col("margin_quote").sum())
        .with_columns((pl.col("size_base") * ref_price).alias("notional_quote"))
        .join(liq_before, on="side", how="left")
        .with_columns(
            pl.col("liquidated_before_size_base").fill_null(0.0), pl.col("side").cast(pl.Int8)
        )
        .sort("side", descending=True)
    )


def _rules_meta(rules: Any, venue: str, symbol: str) -> dict[str, Any]:
    """Which venue rules priced the cohorts (recorded in the map's meta)."""
    return {
        "venue": getattr(rules, "venue", venue),
        "symbol": getattr(rules, "symbol", symbol),
        "source_url": getattr(rules, "source_url", ""),
        "effective_date": getattr(rules, "effective_date", ""),
    }


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
    """Estimate where liquidations sit at time ``at`` (:mod:`liqcascade.estimate` states the method).

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
    at_ms = to_ms(at)
    prior, rules = _checked_prior_and_rules(
        venue, symbol, prior, rules, open_interest_base, lookback_hours
    )
    df = _window_bars(bars, at_ms, lookback_hours, open_interest is not None, venue, symbol, source)
    b = _bar_flows(df, prior, open_interest, fill_price_only)
    ref_price = float(b.close[-1])
    lev, w, moved = capped_leverage(prior, rules)
    cols = _cohort_columns(b, at_ms, prior, rules, lev, w)
    oi_base, scale_mode = _open_interest_scale(at_ms, open_interest_base, open_interest)
    size, side_scale = _scaled_sizes(cols, oi_base, scale_mode, prior, at_ms, source)
    all_cohorts, cohorts = _cohort_frames(cols, size, venue, symbol)
    bw = float(bin_width_quote) if bin_width_quote is not None else _nice_step(ref_price * 0.001)
    if not (bw > 0):
        raise InputError(f"bin_width_quote: expected > 0, got {bin_width_quote}")
    levels = _price_levels(cohorts, bw, ref_price, venue, symbol)
    totals = _side_totals(all_cohorts, cohorts, ref_price)
    meta = {
        "venue": venue,
        "symbol": symbol,
        "at_ms": at_ms,
        "at": ms_to_iso(at_ms),
        "reference_price": ref_price,
        "lookback_hours": float(lookback_hours),
        "first_bar_ms": int(df["open_time_ms"][0]),
        "bars": int(df.height),
        "bars_with_volume": int(b.has_volume.sum()),
        "bin_width_quote": bw,
        "weight_mode": b.weight_mode,
        "scale_mode": scale_mode,
        "open_interest_base": oi_base,
        "side_scale": {("long" if s == 1 else "short"): v for s, v in side_scale.items()},
        "prior": prior.as_dict(),
        "leverage_used": lev.tolist(),
        "weight_used": w.tolist(),
        "weight_moved_to_cap": moved,
        "rules": _rules_meta(rules, venue, symbol),
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
