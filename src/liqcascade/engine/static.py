"""Static cascade: one symbol, one shock, the largest fixed point of the liquidation feedback loop.

Definition (issue 3, docs/engine-static.md). ``P1 = P0 * (1 + shock)``.

* Downward shock (``shock <= 0``): the forced volume at a price ``P`` is
  ``V(P) = sum of size_base of longs with liquidation_price >= P``; the price after absorbing it
  is ``P1 * (1 - x(V))`` with ``x`` the impact model's ``move_for_volume`` on the bid side. The
  result is the limit of ``P <- P1 * (1 - x(V(P)))`` from ``P = P1``: the largest fixed point at
  or below ``P1``.
* Upward shock (``shock > 0``): shorts with ``liquidation_price <= P``, ``P1 * (1 + x(V))``, ask side.
* If ``x >= 1`` the side cannot absorb the volume: the final price is 0 (``inf`` for an upward
  shock) and ``book_exhausted`` is true; every position of that side with a liquidation price is
  then liquidated.

``liquidated_notional`` = sum of size * liquidation price of the liquidated positions (quote);
``cascade_multiplier`` = ``(P0 - P_final) / (P0 - P1)`` (NaN for a zero shock).

Two implementations: :func:`solve_static_oracle` iterates round by round over the whole book
exactly as defined (the test oracle); :class:`StaticCascade` sorts the liquidation prices once,
keeps cumulative sums, and walks the sorted prices with a numba kernel
(:mod:`liqcascade.engine.kernels`), so each shock costs O(rounds * log n) after indexing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl

from liqcascade.book import PositionBook
from liqcascade.depth import depth_spec
from liqcascade.engine import kernels
from liqcascade.errors import InputError
from liqcascade.impact import ImpactModel

__all__ = [
    "CascadeLadder",
    "CascadeResult",
    "SideIndex",
    "StaticCascade",
    "book_arrays",
    "parse_shocks",
    "solve_static",
    "solve_static_oracle",
]

RESULT_KEYS: tuple[str, ...] = (
    "shock",
    "initial_price",
    "shocked_price",
    "final_price",
    "liquidated_count",
    "liquidated_base",
    "liquidated_notional",
    "cascade_multiplier",
    "book_exhausted",
)


@dataclass(frozen=True)
class CascadeResult:
    """Outcome of one static shock.

    Prices in quote per base; ``liquidated_base`` in base units; ``liquidated_notional`` in quote
    (sum of size * liquidation price); ``rounds`` = fixed-point iterations that evaluated a new forced volume;
    ``direction`` -1 for a downward shock (longs liquidated), +1 for upward (shorts).
    """

    shock: float
    initial_price: float
    shocked_price: float
    final_price: float
    liquidated_count: int
    liquidated_base: float
    liquidated_notional: float
    cascade_multiplier: float
    book_exhausted: bool
    rounds: int
    direction: int

    def as_dict(self) -> dict[str, Any]:
        """All fields as a plain dict (the CLI's ``--json`` object)."""
        return asdict(self)

    @property
    def final_move(self) -> float:
        """Total relative move ``P_final / P0 - 1`` (fraction)."""
        return self.final_price / self.initial_price - 1.0

    def to_polars(self) -> pl.DataFrame:
        """One row with the columns ``RESULT_KEYS``: shock, initial/shocked/final price,
        liquidated count, base and notional, cascade multiplier, book_exhausted."""
        d = self.as_dict()
        return pl.DataFrame({k: [d[k]] for k in RESULT_KEYS})

    def plot(self) -> Any:
        """The price before, after the shock and after the cascade (quote per base), with the
        liquidated notional and the cascade multiplier in the title."""
        from liqcascade import plotting

        go = plotting.graph_objects("CascadeResult.plot")
        names = ["initial", f"after the shock ({self.shock:+.2%})", "after the cascade"]
        prices = [self.initial_price, self.shocked_price, self.final_price]
        fig = go.Figure(go.Scatter(x=names, y=prices, mode="lines+markers", name="price"))
        return plotting.styled(
            fig,
            f"Static cascade: {self.liquidated_count} liquidated, "
            f"{self.liquidated_notional:,.0f} quote, multiplier {self.cascade_multiplier:.3g}",
            yaxis={"title": {"text": "price (quote)"}},
        )


@dataclass(frozen=True)
class CascadeLadder:
    """A shock ladder solved on one book: one row per shock, the columns of :class:`CascadeResult`
    (:meth:`StaticCascade.ladder` gives the frame). ``label`` names the market and impact model
    in the figures' titles."""

    frame: pl.DataFrame
    label: str = ""

    def to_polars(self) -> pl.DataFrame:
        """The ladder: one row per shock (``shock``, ``final_price``, ``liquidated_notional``, ...)."""
        return self.frame

    def plot(self, kind: str = "price") -> Any:
        """``kind="price"``: final price by shock beside the shocked price without a cascade;
        ``kind="liquidations"``: liquidated notional (bars, quote) and the cascade multiplier
        (line, right axis) by shock."""
        from liqcascade import plotting

        go = plotting.graph_objects("CascadeLadder.plot")
        f = self.frame
        x = f["shock"].to_list()
        shock_axis = {"title": {"text": "shock"}, "tickformat": ".0%"}
        label = f" ({self.label})" if self.label else ""
        if kind == "price":
            lines = (
                ("final_price", "final price", {"mode": "lines+markers"}),
                (
                    "shocked_price",
                    "shocked price P1 (no cascade)",
                    {"mode": "lines", "line": {"dash": "dot"}},
                ),
            )
            fig = go.Figure(
                [go.Scatter(x=x, y=f[c].to_list(), name=name, **kw) for c, name, kw in lines]
            )
            return plotting.styled(
                fig,
                f"Final price by shock{label}",
                xaxis=shock_axis,
                yaxis={"title": {"text": "price (quote)"}, "tickformat": ",.0f"},
            )
        if kind == "liquidations":
            fig = go.Figure()
            fig.add_trace(
                go.Bar(x=x, y=f["liquidated_notional"].to_list(), name="liquidated notional")
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=f["cascade_multiplier"].to_list(),
                    name="cascade multiplier",
                    yaxis="y2",
                    mode="lines+markers",
                )
            )
            return plotting.styled(
                fig,
                "Liquidations and cascade multiplier by shock",
                xaxis=shock_axis,
                yaxis={"title": {"text": "liquidated notional (quote)"}, "tickformat": ",.3s"},
                yaxis2={"title": {"text": "multiplier"}, "overlaying": "y", "side": "right"},
            )
        raise InputError(f"kind {kind!r}: expected 'price' or 'liquidations'")


def _multiplier(p0: float, p1: float, pf: float) -> float:
    if p1 == p0:
        return math.nan
    return (p0 - pf) / (p0 - p1)


def _check_price(initial_price: float) -> float:
    p0 = float(initial_price)
    if not (math.isfinite(p0) and p0 > 0):
        raise InputError(f"initial_price must be a finite number > 0, got {initial_price!r}")
    return p0


def _check_shocks(shocks: Any) -> np.ndarray:
    s = np.atleast_1d(np.asarray(shocks, dtype=np.float64))
    bad = ~np.isfinite(s) | (s <= -1.0)
    if bad.any():
        raise InputError(
            f"shock must be a finite fraction > -1 (e.g. -0.1 for a 10% drop), got {s[np.argmax(bad)]!r}"
        )
    return s


def book_arrays(book: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(side int8, size_base, liquidation_price)`` from a PositionBook, a polars/pandas frame with
    those columns, a mapping, or a 3-tuple of arrays. NaN liquidation prices mean "never"."""
    if isinstance(book, PositionBook):
        return book.side, book.size_base, book.liquidation_price
    if isinstance(book, tuple) and len(book) == 3:
        side, size, liq = book
    else:
        if (
            not isinstance(book, pl.DataFrame)
            and hasattr(book, "columns")
            and not isinstance(book, dict)
        ):
            book = pl.from_pandas(book)
        try:
            side, size, liq = (
                np.asarray(book[c]) for c in ("side", "size_base", "liquidation_price")
            )
        except (KeyError, pl.exceptions.ColumnNotFoundError, TypeError) as exc:
            raise InputError(
                "book: expected a PositionBook, a frame/mapping with side, size_base, liquidation_price, "
                "or a (side, size_base, liquidation_price) tuple"
            ) from exc
    side = np.asarray(side)
    if side.dtype.kind in "OUS":
        from liqcascade.margin import as_side

        side = as_side(side)
    side = side.astype(np.int8)
    size = np.asarray(size, dtype=np.float64)
    liq = np.asarray(liq, dtype=np.float64)
    if not (len(side) == len(size) == len(liq)):
        raise InputError(
            f"book: side/size_base/liquidation_price lengths differ ({len(side)}, {len(size)}, {len(liq)})"
        )
    bad_side = (side != 1) & (side != -1)
    if bad_side.any():
        raise InputError(f"book: side must be +1 or -1, got {side[bad_side][0]}")
    bad = ~(size > 0) | ~np.isfinite(size)
    if bad.any():
        raise InputError(
            f"book: size_base must be > 0 and finite, got {size[np.argmax(bad)]} at index {np.argmax(bad)}"
        )
    if np.isinf(liq).any():
        raise InputError("book: liquidation_price must be finite or NaN (none)")
    return side, size, liq


@dataclass(frozen=True, eq=False)
class SideIndex:
    """Sorted liquidation prices of one side (see :mod:`liqcascade.engine.kernels`).

    ``keys = direction * liquidation_price`` ascending, ``order`` maps sorted position -> book
    row, ``cum_size_base[k]`` / ``cum_notional_quote[k]`` sum size / size * liquidation price of
    the first ``k`` keys.
    """

    direction: int
    keys: np.ndarray
    order: np.ndarray
    cum_size_base: np.ndarray
    cum_notional_quote: np.ndarray

    @classmethod
    def build(
        cls, side: np.ndarray, size: np.ndarray, liq: np.ndarray, direction: int
    ) -> SideIndex:
        rows = np.flatnonzero((side == -direction) & ~np.isnan(liq))
        keys = direction * liq[rows]
        # ties need no order: a count always takes a whole group of equal keys
        o = np.argsort(keys)
        order = rows[o]
        keys = np.ascontiguousarray(keys[o])
        sz = size[order]
        cum_size = np.empty(len(order) + 1)
        cum_size[0] = 0.0
        np.cumsum(sz, out=cum_size[1:])
        cum_not = np.empty(len(order) + 1)
        cum_not[0] = 0.0
        np.cumsum(sz * liq[order], out=cum_not[1:])
        return cls(direction, keys, order, cum_size, cum_not)


class StaticCascade:
    """A book indexed once for many static shocks (sorted liquidation prices, cumulative sums).

    Parameters
    ----------
    book:
        A :class:`~liqcascade.book.PositionBook` of one venue and symbol (use ``venue``/``symbol``
        to filter a larger book), or anything :func:`book_arrays` accepts.
    impact:
        An impact model (:mod:`liqcascade.impact`); its bid side serves downward shocks and its
        ask side upward shocks.
    initial_price:
        Default ``P0`` (quote per base) for :meth:`solve` / :meth:`ladder`.

    Examples
    --------
    >>> import numpy as np
    >>> from liqcascade.impact import LinearImpact
    >>> side = np.array([1, 1, 1, -1])
    >>> size = np.array([10.0, 10.0, 10.0, 5.0])
    >>> liq = np.array([95.0, 90.0, 70.0, 130.0])
    >>> idx = StaticCascade((side, size, liq), LinearImpact(depth_1pct_base=5.0), initial_price=100.0)
    >>> r = idx.solve(-0.05)           # P1 = 95: 10 forced -> 2% -> 93.1: fixed point
    >>> r.final_price, r.liquidated_count
    (93.1, 1)
    >>> r = idx.solve(-0.09)           # 91: 10 forced -> 89.18 (< 90): 20 forced -> 87.36
    >>> round(r.final_price, 9), r.liquidated_count, r.rounds
    (87.36, 2, 2)
    >>> idx.ladder([-0.05, -0.09]).select("shock", "liquidated_count").rows()
    [(-0.05, 1), (-0.09, 2)]
    >>> idx.liquidated_frame(r)["liquidation_price"].to_list()
    [95.0, 90.0]
    """

    def __init__(
        self,
        book: Any,
        impact: ImpactModel,
        initial_price: float | None = None,
        *,
        venue: str | None = None,
        symbol: str | None = None,
    ) -> None:
        if isinstance(book, PositionBook):
            if venue is not None or symbol is not None:
                book = book.filter(venue=venue, symbol=symbol)
            pairs = book.venue_symbol_pairs()
            if len(pairs) > 1:
                raise InputError(
                    f"{book.source}: the static mode solves one symbol on one venue; the book holds "
                    f"{pairs}. Pick one with venue=/symbol= (CLI: --venue/--symbol)"
                )
            self.venue_symbol = pairs[0] if pairs else None
        else:
            self.venue_symbol = None
        self.book = book
        side, size, liq = book_arrays(book)
        self.n_positions = len(size)
        self.initial_price = None if initial_price is None else _check_price(initial_price)
        self.impact = impact
        self.impact_bid = impact.for_side("bid") if hasattr(impact, "for_side") else impact
        self.impact_ask = impact.for_side("ask") if hasattr(impact, "for_side") else impact
        self._side, self._size, self._liq = side, size, liq
        self._down: SideIndex | None = None
        self._up: SideIndex | None = None

    @property
    def down(self) -> SideIndex:
        """Index of the longs (downward shocks), built on first use."""
        if self._down is None:
            self._down = SideIndex.build(self._side, self._size, self._liq, -1)
        return self._down

    @property
    def up(self) -> SideIndex:
        """Index of the shorts (upward shocks), built on first use."""
        if self._up is None:
            self._up = SideIndex.build(self._side, self._size, self._liq, +1)
        return self._up

    def build_index(self) -> StaticCascade:
        """Build both side indexes now (otherwise each is built on its first shock)."""
        _ = self.down, self.up
        return self

    def _p0(self, initial_price: float | None) -> float:
        if initial_price is not None:
            return _check_price(initial_price)
        if self.initial_price is None:
            raise InputError(
                "initial_price is required (pass it to StaticCascade or to solve/ladder)"
            )
        return self.initial_price

    def solve_arrays(
        self, shocks: Any, initial_price: float | None = None, *, use_numba: bool = True
    ) -> dict[str, np.ndarray]:
        """Solve many shocks; a dict of equal-length arrays keyed like :class:`CascadeResult`."""
        p0 = self._p0(initial_price)
        s = _check_shocks(shocks)
        p1 = p0 * (1.0 + s)
        n = len(s)
        final = np.empty(n)
        count = np.zeros(n, dtype=np.int64)
        rounds = np.zeros(n, dtype=np.int64)
        exhausted = np.zeros(n, dtype=bool)
        base = np.zeros(n)
        notional = np.zeros(n)
        direction = np.where(s > 0, 1, -1).astype(np.int64)
        solver = kernels.solve_many_nb if use_numba else kernels.solve_many_py
        for d, model in ((-1, self.impact_bid), (1, self.impact_ask)):
            sel = np.flatnonzero(direction == d)
            if not len(sel):
                continue
            index = self.down if d < 0 else self.up
            f, c, r, e = solver(
                index.keys,
                index.cum_size_base,
                depth_spec(model),
                np.ascontiguousarray(p1[sel]),
                d,
            )
            final[sel], count[sel], rounds[sel], exhausted[sel] = f, c, r, e
            base[sel] = index.cum_size_base[c]
            notional[sel] = index.cum_notional_quote[c]
        with np.errstate(divide="ignore", invalid="ignore"):
            mult = np.where(p1 != p0, (p0 - final) / (p0 - p1), np.nan)
        return {
            "shock": s,
            "initial_price": np.full(n, p0),
            "shocked_price": p1,
            "final_price": final,
            "liquidated_count": count,
            "liquidated_base": base,
            "liquidated_notional": notional,
            "cascade_multiplier": mult,
            "book_exhausted": exhausted,
            "rounds": rounds,
            "direction": direction,
        }

    def solve(self, shock: float, initial_price: float | None = None) -> CascadeResult:
        """Solve one shock (fraction, -0.1 = a 10% drop) from ``initial_price`` (quote per base)."""
        a = self.solve_arrays([shock], initial_price)
        return CascadeResult(
            shock=float(a["shock"][0]),
            initial_price=float(a["initial_price"][0]),
            shocked_price=float(a["shocked_price"][0]),
            final_price=float(a["final_price"][0]),
            liquidated_count=int(a["liquidated_count"][0]),
            liquidated_base=float(a["liquidated_base"][0]),
            liquidated_notional=float(a["liquidated_notional"][0]),
            cascade_multiplier=float(a["cascade_multiplier"][0]),
            book_exhausted=bool(a["book_exhausted"][0]),
            rounds=int(a["rounds"][0]),
            direction=int(a["direction"][0]),
        )

    def ladder(self, shocks: Iterable[float], initial_price: float | None = None) -> pl.DataFrame:
        """Solve every shock on the same index; one row per shock (columns as :class:`CascadeResult`)."""
        return pl.DataFrame(self.solve_arrays(list(shocks), initial_price))

    def liquidated_mask(self, result: CascadeResult) -> np.ndarray:
        """Boolean mask over the book rows liquidated in ``result``."""
        index = self.down if result.direction < 0 else self.up
        mask = np.zeros(self.n_positions, dtype=bool)
        mask[index.order[: result.liquidated_count]] = True
        return mask

    def liquidated_frame(self, result: CascadeResult) -> pl.DataFrame:
        """The liquidated positions of ``result`` as a polars DataFrame (book columns)."""
        mask = self.liquidated_mask(result)
        if isinstance(self.book, PositionBook):
            return self.book.select(mask).to_polars()
        return pl.DataFrame(
            {
                "row": np.flatnonzero(mask),
                "side": self._side[mask],
                "size_base": self._size[mask],
                "liquidation_price": self._liq[mask],
            }
        )


def solve_static(
    book_or_liq_prices: Any,
    initial_price: float,
    shock: float,
    impact: ImpactModel,
    *,
    venue: str | None = None,
    symbol: str | None = None,
) -> CascadeResult:
    """Solve one static shock (indexes the book, then runs the fast path).

    ``book_or_liq_prices``: a PositionBook, a frame/mapping with ``side``, ``size_base``,
    ``liquidation_price``, or a ``(side, size_base, liquidation_price)`` tuple. ``initial_price``
    is ``P0`` in quote per base; ``shock`` a fraction (> -1).

    Examples
    --------
    >>> import numpy as np
    >>> from liqcascade.impact import LinearImpact
    >>> book = (np.array([1, 1]), np.array([4.0, 4.0]), np.array([99.0, 97.5]))
    >>> r = solve_static(book, 100.0, -0.01, LinearImpact(depth_1pct_base=2.0))
    >>> round(r.final_price, 9), r.liquidated_count, r.book_exhausted
    (95.04, 2, False)
    >>> r.liquidated_notional    # 4 * 99 + 4 * 97.5
    786.0
    """
    return StaticCascade(
        book_or_liq_prices, impact, initial_price, venue=venue, symbol=symbol
    ).solve(shock)


def solve_static_oracle(
    book_or_liq_prices: Any, initial_price: float, shock: float, impact: ImpactModel
) -> CascadeResult:
    """Plain round-by-round static cascade, exactly the definition (the test oracle).

    Each round scans the whole book: ``V = fsum(size of liquidatable positions at P)``, then
    ``P <- P1 * (1 -/+ x(V))``, until the price stops changing. O(n) per round.
    """
    side, size, liq = book_arrays(book_or_liq_prices)
    p0 = _check_price(initial_price)
    s = float(_check_shocks(shock)[0])
    p1 = p0 * (1.0 + s)
    down = s <= 0
    model = impact.for_side("bid" if down else "ask") if hasattr(impact, "for_side") else impact
    mine = side == (1 if down else -1)

    def liquidatable(p: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return mine & ((liq >= p) if down else (liq <= p))

    p = p1
    rounds = 0
    exhausted = False
    while True:
        rounds += 1
        v = math.fsum(size[liquidatable(p)])
        x = float(model.move_for_volume(v))
        if x >= 1.0:
            p = 0.0 if down else math.inf
            exhausted = True
            break
        pn = p1 * (1.0 - x) if down else p1 * (1.0 + x)
        if pn == p:
            # the confirming round (same forced volume) is not counted, as in the kernels
            rounds = max(1, rounds - 1)
            break
        p = pn
    mask = liquidatable(p)
    return CascadeResult(
        shock=s,
        initial_price=p0,
        shocked_price=p1,
        final_price=p,
        liquidated_count=int(mask.sum()),
        liquidated_base=math.fsum(size[mask]),
        liquidated_notional=math.fsum(size[mask] * liq[mask]),
        cascade_multiplier=_multiplier(p0, p1, p),
        book_exhausted=exhausted,
        rounds=rounds,
        direction=-1 if down else 1,
    )


def parse_shocks(text: str | float | Sequence[float]) -> list[float]:
    """Shocks from a number, a comma list (``-0.05,-0.1``) or a range ``START:STOP:STEP``.

    The range includes STOP when it falls on the grid (to within 1e-9 of a step); values are
    rounded to 12 decimals so ``-0.3:-0.05:0.05`` gives exactly -0.3, -0.25, ..., -0.05.

    Examples
    --------
    >>> parse_shocks("-0.1,-0.2")
    [-0.1, -0.2]
    >>> parse_shocks("-0.3:-0.1:0.1")
    [-0.3, -0.2, -0.1]
    """
    if isinstance(text, (int, float)):
        return [float(text)]
    if not isinstance(text, str):
        return [float(x) for x in text]
    t = text.strip()
    try:
        if ":" in t:
            parts = t.split(":")
            if len(parts) != 3:
                raise InputError(f"shock range {text!r}: expected START:STOP:STEP")
            start, stop, step = (float(p) for p in parts)
            if step == 0 or not all(map(math.isfinite, (start, stop, step))):
                raise InputError(f"shock range {text!r}: STEP must be a non-zero finite number")
            if (stop - start) * step < 0:
                raise InputError(f"shock range {text!r}: STEP {step} points away from STOP {stop}")
            count = int(math.floor((stop - start) / step + 1e-9)) + 1
            if count > 10_000_000:
                raise InputError(f"shock range {text!r}: {count} shocks, at most 10,000,000")
            return [round(start + i * step, 12) for i in range(count)]
        out = [float(p) for p in t.split(",") if p.strip()]
    except InputError:
        raise
    except ValueError:
        raise InputError(
            f"shock {text!r}: expected a number, a comma list or START:STOP:STEP (fractions, -0.1 = -10%)"
        ) from None
    if not out:
        raise InputError(f"shock {text!r}: no values")
    return out
