"""Warning of dense liquidation bands near the price, from a liquidation map."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import InputError
from liqcascade.risk._checks import _check_barrier, _positive, parse_side
from liqcascade.risk.models import gbm_touch


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
    bands: list[ClusterBand] = []
    for sd in (1, -1):
        found = _densest_band(df, sd, price, band_frac * price, search_frac)
        if found is None:
            continue
        low, high, notional, total = found
        edge = high if sd == 1 else low  # the band's edge nearest the price
        dist = float(abs(price - edge) / price)
        dsig = prob = None
        if vol is not None:
            ds, pr = gbm_touch(math.log(edge / price), vol, horizon_days, drift_annual)
            dsig, prob = float(ds), float(pr)
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
        pos_msg = _position_message(bands, price, position_side, position_liq_price)
    return ClusterWarning(
        price=price,
        band_frac=band_frac,
        search_frac=search_frac,
        horizon_days=horizon_days,
        vol_annual=vol,
        bands=bands,
        position_message=pos_msg,
    )


def _densest_band(
    df: pl.DataFrame, side: int, price: float, width: float, search_frac: float
) -> tuple[float, float, float, float] | None:
    """``(low, high, notional, side total)`` of the band of ``width`` (quote) holding the most
    notional of ``side``'s liquidations within ``search_frac`` of the price, or ``None``."""
    level = pl.col("price_level")
    sub = df.filter(pl.col("side") == side)
    if side == 1:
        sub = sub.filter((level < price) & (level >= price * (1 - search_frac)))
    else:
        sub = sub.filter((level > price) & (level <= price * (1 + search_frac)))
    total = float(sub["notional_quote"].sum()) if sub.height else 0.0
    if sub.height == 0 or total <= 0:
        return None
    sub = sub.sort("price_level")
    p = sub["price_level"].to_numpy()
    cq = np.concatenate([[0.0], np.cumsum(sub["notional_quote"].to_numpy())])
    if side == 1:  # band [p_i - w, p_i], nearest edge p_i
        lo_idx = np.searchsorted(p, p - width, side="left")
        sums = cq[np.arange(p.size) + 1] - cq[lo_idx]
        i = int(np.argmax(sums))
        return float(p[i] - width), float(p[i]), float(sums[i]), total
    # band [p_i, p_i + w], nearest edge p_i
    hi_idx = np.searchsorted(p, p + width, side="right")
    sums = cq[hi_idx] - cq[np.arange(p.size)]
    i = int(np.argmax(sums))
    return float(p[i]), float(p[i] + width), float(sums[i]), total


def _position_message(
    bands: list[ClusterBand], price: float, position_side: int | str, position_liq_price: float
) -> str | None:
    """Whether the densest band of the position's side lies before its liquidation price."""
    ps = parse_side(position_side)
    pl_ = _positive("position_liq_price", position_liq_price)
    _check_barrier(price, pl_, ps, "position_liq_price")
    pos_msg = None
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
    return pos_msg
