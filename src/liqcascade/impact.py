"""How forced orders move the price: interchangeable price-impact models.

Every model answers two questions about one side of the order book:

* ``move_for_volume(volume_base)``: the relative price move ``x`` (a fraction, >= 0) caused by a
  market order of ``volume_base`` base units. ``x >= 1`` means the side cannot absorb the order
  (for sells the price would reach 0): the book is exhausted.
* ``volume_for_move(x)``: the base units the side absorbs before the price has moved by ``x``
  (the inverse of the first).

Models (formulas and units in docs/engine-static.md):

* :class:`LinearImpact` -- ``x = 0.01 * V / depth_1pct_base``: ``depth_1pct_base`` base units move
  the price by 1%.
* :class:`DepthCurveImpact` -- a cumulative depth curve read from a Binance ``bookDepth`` file
  (cumulative base depth within 1..5% of mid; 0 at 0%; linear between points; the last segment's
  slope is extended beyond 5%). Bid side for sells, ask side for buys.
* :class:`SqrtImpact` -- the square-root law ``x = Y * sigma * sqrt(V / ADV)`` with ``Y`` a
  dimensionless constant of order 1, ``sigma`` the daily volatility (fraction) and ``ADV`` the
  average daily traded volume (base units). See Bouchaud, Bonart, Donier, Gould, "Trades, Quotes
  and Prices" (2018), ch. 12, and Toth et al., "Anomalous price impact and the critical nature of
  liquidity in financial markets", PRX 1, 021006 (2011).

Every model is a ``kernel_spec()``: a (kind, knots_volume, knots_move, coef, scale) tuple. Its
``move_for_volume`` / ``volume_for_move`` evaluate that spec with the plain twins of
:mod:`liqcascade.depth`, and the engines' numba kernels evaluate it with the kernels of the same
module, the same arithmetic (so the fast path and the oracle agree bit for bit).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from liqcascade.errors import DataError, InputError

Side = Literal["bid", "ask"]

#: Relative-move knots of a Binance bookDepth curve: 0%, 1%, ..., 5%.
BOOKDEPTH_LEVELS = np.array([0.0, 0.01, 0.02, 0.03, 0.04, 0.05])


@runtime_checkable
class ImpactModel(Protocol):
    """What every price-impact model provides (see module docstring)."""

    def move_for_volume(self, volume_base: float | np.ndarray) -> float | np.ndarray: ...

    def volume_for_move(self, move: float | np.ndarray) -> float | np.ndarray: ...

    def for_side(self, side: Side) -> ImpactModel: ...

    def scaled(self, depth_factor: float) -> ImpactModel: ...

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray, float, float]: ...

    def describe(self) -> str: ...


def _as_out(values: np.ndarray, like: float | np.ndarray) -> float | np.ndarray:
    if np.ndim(like) == 0:
        return float(values.reshape(-1)[0])
    return values


def _check_nonneg(name: str, arr: np.ndarray) -> None:
    if np.any(~(arr >= 0.0)):
        bad = arr[~(arr >= 0.0)].reshape(-1)[0]
        raise InputError(f"{name} must be >= 0 (not NaN), got {bad}")


class _EvaluatedFromSpec:
    """``move_for_volume`` / ``volume_for_move`` of a model, evaluated from its kernel spec with
    the plain twins of :mod:`liqcascade.depth` (the arithmetic the engines' kernels run)."""

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray, float, float]:
        raise NotImplementedError

    def move_for_volume(self, volume_base: float | np.ndarray) -> float | np.ndarray:
        """Relative move (fraction) caused by ``volume_base`` base units (on the side in use)."""
        # imported here: liqcascade.depth loads numba (~1 s), which building a model does not need
        from liqcascade.depth import move_for_volume_plain

        v = np.asarray(volume_base, dtype=np.float64)
        _check_nonneg("volume_base", v)
        return _as_out(move_for_volume_plain(self.kernel_spec(), v), volume_base)

    def volume_for_move(self, move: float | np.ndarray) -> float | np.ndarray:
        """Base units absorbed by a relative move ``move`` (fraction) (on the side in use)."""
        from liqcascade.depth import volume_for_move_plain

        x = np.asarray(move, dtype=np.float64)
        _check_nonneg("move", x)
        return _as_out(volume_for_move_plain(self.kernel_spec(), x), move)


@dataclass(frozen=True)
class LinearImpact(_EvaluatedFromSpec):
    """Linear impact: ``depth_1pct_base`` base units move the price by 1%.

    ``x = 0.01 * V / depth_1pct_base``, so ``V = 100 * x * depth_1pct_base``.

    Examples
    --------
    >>> m = LinearImpact(depth_1pct_base=500.0)
    >>> m.move_for_volume(250.0)
    0.005
    >>> m.volume_for_move(0.02)
    1000.0
    """

    depth_1pct_base: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.depth_1pct_base) and self.depth_1pct_base > 0):
            raise InputError(
                f"linear impact: depth_1pct_base must be a finite number > 0, got {self.depth_1pct_base}"
            )

    def for_side(self, side: Side) -> LinearImpact:
        """The same model (linear impact is symmetric)."""
        return self

    def scaled(self, depth_factor: float) -> LinearImpact:
        """The model with depth multiplied by ``depth_factor`` (> 0)."""
        return LinearImpact(self.depth_1pct_base * depth_factor)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray, float, float]:
        """Parameters for the numba kernels (:mod:`liqcascade.depth`)."""
        from liqcascade.depth import KIND_LINEAR

        empty = np.zeros(0)
        return KIND_LINEAR, empty, empty, float(self.depth_1pct_base), 0.0

    def describe(self) -> str:
        return f"linear:{self.depth_1pct_base:g}"


@dataclass(frozen=True)
class SqrtImpact(_EvaluatedFromSpec):
    """Square-root law ``x = y * sigma_daily * sqrt(V / adv_base)``.

    Parameters
    ----------
    y:
        Dimensionless prefactor ``Y`` (empirically 0.5-1 across markets).
    sigma_daily:
        Daily volatility of returns as a fraction (0.03 = 3%).
    adv_base:
        Average daily traded volume in base units (e.g. BTC).

    Examples
    --------
    >>> m = SqrtImpact(y=1.0, sigma_daily=0.04, adv_base=100_000.0)
    >>> round(m.move_for_volume(1_000.0), 6)
    0.004
    >>> round(m.volume_for_move(0.004), 6)
    1000.0
    """

    y: float
    sigma_daily: float
    adv_base: float

    def __post_init__(self) -> None:
        for name in ("y", "sigma_daily", "adv_base"):
            val = getattr(self, name)
            if not (math.isfinite(val) and val > 0):
                raise InputError(f"sqrt impact: {name} must be a finite number > 0, got {val}")

    @property
    def _coef(self) -> float:
        return self.y * self.sigma_daily

    def for_side(self, side: Side) -> SqrtImpact:
        """The same model (the square-root law is symmetric)."""
        return self

    def scaled(self, depth_factor: float) -> SqrtImpact:
        """Liquidity scaled by ``depth_factor``: the same move absorbs ``depth_factor`` times the volume."""
        return SqrtImpact(self.y, self.sigma_daily, self.adv_base * depth_factor)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray, float, float]:
        """Parameters for the numba kernels (:mod:`liqcascade.depth`)."""
        from liqcascade.depth import KIND_SQRT

        empty = np.zeros(0)
        return KIND_SQRT, empty, empty, float(self._coef), float(self.adv_base)

    def describe(self) -> str:
        return f"sqrt:{self.y:g},{self.sigma_daily:g},{self.adv_base:g}"


@dataclass(frozen=True)
class DepthCurveImpact(_EvaluatedFromSpec):
    """Impact from a cumulative depth curve (Binance ``bookDepth`` snapshot), one side in use.

    ``bid_depth_base[k]`` / ``ask_depth_base[k]`` are the cumulative base depth within
    ``levels[k]`` of mid on each side (``levels = 0, 0.01, ..., 0.05``; depth 0 at 0%). The depth
    is linear between knots and the last segment's slope continues beyond 5%. ``side`` selects
    the side the model answers for: ``"bid"`` (sells: long liquidations, downward moves) or
    ``"ask"`` (buys: short liquidations, upward moves).

    Examples
    --------
    >>> m = DepthCurveImpact(
    ...     levels=BOOKDEPTH_LEVELS,
    ...     bid_depth_base=np.array([0.0, 100.0, 300.0, 600.0, 1000.0, 1500.0]),
    ...     ask_depth_base=np.array([0.0, 50.0, 100.0, 150.0, 200.0, 250.0]),
    ... )
    >>> m.move_for_volume(200.0)      # bid side: halfway between 1% (100) and 2% (300)
    0.015
    >>> round(m.for_side("ask").move_for_volume(300.0), 12)   # beyond 5%: slope 50 per 1%
    0.06
    >>> float(m.volume_for_move(0.015))
    200.0
    """

    levels: np.ndarray
    bid_depth_base: np.ndarray
    ask_depth_base: np.ndarray
    side: Side = "bid"
    source: str = ""
    timestamp: str = ""
    depth_factor: float = 1.0

    def __post_init__(self) -> None:
        where = f"{self.source} @ {self.timestamp}" if self.source else "depth curve"
        if self.side not in ("bid", "ask"):
            raise InputError(f"{where}: side must be 'bid' or 'ask', got {self.side!r}")
        if not (math.isfinite(self.depth_factor) and self.depth_factor > 0):
            raise InputError(f"{where}: depth_factor must be > 0, got {self.depth_factor}")
        lv = np.asarray(self.levels, dtype=np.float64)
        if lv.ndim != 1 or len(lv) < 2 or lv[0] != 0.0 or np.any(np.diff(lv) <= 0):
            raise InputError(f"{where}: levels must start at 0 and increase, got {lv.tolist()}")
        for name in ("bid_depth_base", "ask_depth_base"):
            d = np.asarray(getattr(self, name), dtype=np.float64)
            if d.shape != lv.shape:
                raise InputError(f"{where}: {name} has {d.shape} points, expected {lv.shape}")
            if d[0] != 0.0 or not np.all(np.isfinite(d)) or np.any(np.diff(d) < 0):
                raise DataError(
                    f"{where}: {name} must be a cumulative depth (0 at 0%, non-decreasing, finite), "
                    f"got {d.tolist()}"
                )
            if d[-1] <= 0:
                raise DataError(f"{where}: {name} has no depth at all ({d.tolist()})")
        object.__setattr__(self, "levels", lv)
        object.__setattr__(
            self, "bid_depth_base", np.asarray(self.bid_depth_base, dtype=np.float64)
        )
        object.__setattr__(
            self, "ask_depth_base", np.asarray(self.ask_depth_base, dtype=np.float64)
        )

    @property
    def depth_base(self) -> np.ndarray:
        """Cumulative depth (base units) of the side in use, after ``depth_factor``."""
        raw = self.bid_depth_base if self.side == "bid" else self.ask_depth_base
        return raw * self.depth_factor

    def for_side(self, side: Side) -> DepthCurveImpact:
        """The same snapshot answering for ``side`` ("bid" for sells, "ask" for buys)."""
        return self if side == self.side else replace(self, side=side)

    def scaled(self, depth_factor: float) -> DepthCurveImpact:
        """The snapshot with depth multiplied by ``depth_factor`` (market makers withdrawing < 1)."""
        return replace(self, depth_factor=self.depth_factor * depth_factor)

    def kernel_spec(self) -> tuple[int, np.ndarray, np.ndarray, float, float]:
        """Parameters for the numba kernels (:mod:`liqcascade.depth`)."""
        from liqcascade.depth import KIND_CURVE

        return KIND_CURVE, self.depth_base.copy(), self.levels.copy(), 0.0, 0.0

    def describe(self) -> str:
        return f"depth:{self.source}@{self.timestamp} ({self.side})"

    @classmethod
    def from_bookdepth(
        cls,
        path: str | Path,
        at: str | dt.datetime | None = None,
        side: Side = "bid",
    ) -> DepthCurveImpact:
        """Read one snapshot of a Binance ``bookDepth`` CSV (optionally zipped).

        Columns: ``timestamp`` (UTC text), ``percentage`` (-5..-1 bids, 1..5 asks), ``depth``
        (cumulative base units within that percentage of mid), ``notional``,
        ``weighted_avg_price``. Source format: https://data.binance.vision (futures/um/daily/bookDepth).

        ``at`` picks the snapshot: the last one at or before ``at`` (an ISO datetime, or a time
        of day ``HH:MM[:SS]`` on the file's date). ``None`` picks the first snapshot of the file.
        """
        snap = _read_bookdepth_snapshot(Path(path), at)
        ts, bids, asks = snap
        return cls(
            levels=BOOKDEPTH_LEVELS.copy(),
            bid_depth_base=bids,
            ask_depth_base=asks,
            side=side,
            source=str(path),
            timestamp=ts,
        )


def _read_bookdepth_snapshot(
    path: Path, at: str | dt.datetime | None
) -> tuple[str, np.ndarray, np.ndarray]:
    import polars as pl

    if not path.exists():
        raise InputError(f"{path}: bookDepth file not found")
    try:
        if path.suffix == ".zip":
            import io
            import zipfile

            with zipfile.ZipFile(path) as zf:
                names = [n for n in zf.namelist() if n.endswith(".csv")]
                if not names:
                    raise DataError(f"{path}: zip holds no .csv file")
                df = pl.read_csv(io.BytesIO(zf.read(names[0])))
        else:
            df = pl.read_csv(path)
    except (pl.exceptions.ComputeError, OSError) as exc:
        raise DataError(f"{path}: cannot read as a bookDepth CSV ({exc})") from exc
    need = {"timestamp", "percentage", "depth"}
    missing = need - set(df.columns)
    if missing:
        raise DataError(
            f"{path}: not a Binance bookDepth file: missing column(s) {sorted(missing)}; "
            f"expected timestamp,percentage,depth,notional,weighted_avg_price"
        )
    df = df.with_row_index("row").with_columns(
        pl.col("timestamp").cast(pl.Utf8).str.to_datetime(strict=False).alias("_ts"),
        pl.col("percentage").cast(pl.Float64, strict=False).alias("_pct"),
        pl.col("depth").cast(pl.Float64, strict=False).alias("_depth"),
    )
    bad = df.filter(pl.col("_ts").is_null() | pl.col("_pct").is_null() | pl.col("_depth").is_null())
    if bad.height:
        r = bad.row(0, named=True)
        raise DataError(
            f"{path} row {r['row'] + 1}: unparseable timestamp/percentage/depth "
            f"({r['timestamp']!r}, {r['percentage']!r}, {r['depth']!r})"
        )
    times = df.get_column("_ts").unique().sort()
    if at is None:
        chosen = times[0]
    else:
        if isinstance(at, str):
            target = _parse_at(at, times[0], path)
        else:
            target = at.replace(tzinfo=None)
        before = times.filter(times <= target)
        if before.len() == 0:
            raise InputError(
                f"{path}: no snapshot at or before {target} (file starts at {times[0]})"
            )
        chosen = before[-1]
    snap = df.filter(pl.col("_ts") == chosen)
    bids = np.zeros(6)
    asks = np.zeros(6)
    seen_b: set[int] = set()
    seen_a: set[int] = set()
    for pct, depth, row in zip(
        snap.get_column("_pct").to_list(),
        snap.get_column("_depth").to_list(),
        snap.get_column("row").to_list(),
        strict=True,
    ):
        k = int(round(abs(pct)))
        if abs(pct) != k or not 1 <= k <= 5:
            continue  # other bands (e.g. +-0.2%) are not part of the 1..5% curve
        if depth < 0:
            raise DataError(f"{path} row {row + 1}: depth must be >= 0, got {depth}")
        if pct < 0:
            bids[k] = depth
            seen_b.add(k)
        else:
            asks[k] = depth
            seen_a.add(k)
    want = {1, 2, 3, 4, 5}
    if seen_b != want or seen_a != want:
        raise DataError(
            f"{path}: snapshot {chosen} lacks bands: bids have {sorted(seen_b)}, asks have "
            f"{sorted(seen_a)}; expected 1..5 on both sides"
        )
    for name, d in (("bid", bids), ("ask", asks)):
        if np.any(np.diff(d) < 0):
            raise DataError(
                f"{path}: snapshot {chosen} {name} depth is not cumulative (decreases): {d[1:].tolist()}"
            )
    return str(chosen), bids, asks


def _parse_at(at: str, first: dt.datetime, path: Path) -> dt.datetime:
    text = at.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            pass
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            t = dt.datetime.strptime(text, fmt).time()
            return dt.datetime.combine(first.date(), t)
        except ValueError:
            pass
    raise InputError(
        f"{path}: snapshot time {at!r} not understood; expected 'YYYY-MM-DD HH:MM[:SS]' or 'HH:MM[:SS]'"
    )


def parse_impact(spec: str) -> ImpactModel:
    """Build an impact model from a CLI spec (the short form of :mod:`liqcascade.impact_config`).

    * ``linear:DEPTH_1PCT`` -- base units that move the price 1%;
    * ``depth:FILE[@TIME]`` -- a Binance bookDepth CSV, snapshot at or before TIME
      (``HH:MM[:SS]`` or ``YYYY-MM-DD HH:MM[:SS]``; default the first snapshot);
      ``depth:sample:NAME[@TIME]`` a bookDepth file shipped with liqcascade;
    * ``sqrt:Y,SIGMA,ADV`` -- square-root law (Y dimensionless, SIGMA daily volatility as a
      fraction, ADV average daily volume in base units);
    * ``market[:PARAMS_FILE]`` -- the calibrated market model's impact per base unit
      (:func:`market_linear_impact`; the shipped parameters when no file is given).

    Each form is a config of :mod:`liqcascade.impact_config` with named fields (``linear:500``
    is ``{model = "linear", depth_1pct_base = 500}``), which TOML files and web requests use.

    Examples
    --------
    >>> parse_impact("linear:500")
    LinearImpact(depth_1pct_base=500.0)
    >>> parse_impact("sqrt:0.8,0.035,150000")
    SqrtImpact(y=0.8, sigma_daily=0.035, adv_base=150000.0)
    """
    from liqcascade.impact_config import build_impact

    if not isinstance(spec, str):
        raise InputError(f"impact {spec!r}: expected a text spec such as linear:DEPTH_1PCT")
    return build_impact(spec)


def market_linear_impact(params: str | Path | None = None) -> LinearImpact:
    """The calibrated market model's impact as a linear depth.

    The market model (:mod:`liqcascade.market`) moves the log price by ``lam`` per base unit of
    net flow at the moment of the trade, ``lam = impact_lambda_ref_per_base * sr**beta``; at the
    reference volatility (``sr = 1``) a move of 1 % takes ``0.01 / lam`` base units, which is the
    ``depth_1pct_base`` of the returned :class:`LinearImpact`. The parameters file is the shipped
    calibration unless ``params`` names another.

    Examples
    --------
    >>> m = market_linear_impact()
    >>> 1_000 < m.depth_1pct_base < 10_000
    True
    """
    from liqcascade.market import load_params

    lam = load_params(params).market.impact_lambda_ref_per_base
    if not (math.isfinite(lam) and lam > 0):
        raise InputError(
            f"impact market: impact_lambda_ref_per_base must be > 0 in {params or 'the shipped file'}"
            f", got {lam}"
        )
    return LinearImpact(0.01 / lam)
