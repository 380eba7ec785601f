"""The TOML shapes of replay event files and leverage prior files, as configs.

:class:`EventFile` is a ``liqcascade/events/<date>.toml`` file (schema ``liqcascade.event/1``,
docs/replay.md); :class:`PriorFile` a ``liqcascade/priors/<venue>.<name>.toml`` file (schema
``liqcascade.prior/1``, docs/liquidation-map.md). Both are read with the one config loader,
:func:`liqcascade.config.load`, so an unknown key or a bad value is refused with the file and the
field path (``2025-10-10.toml: reported[1].value: expected a number, got 'big'``).

The replay and the liquidation map build their own runtime objects (``Event``,
``LeveragePrior``) from these.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from liqcascade.config import Config, load
from liqcascade.errors import ConfigError

__all__ = [
    "EVENT_SCHEMA",
    "PRIOR_SCHEMA",
    "EventFile",
    "EventImpulse",
    "EventNews",
    "EventWindow",
    "OpenInterestRow",
    "PriorFile",
    "PriorLeverage",
    "ReportedFigure",
    "load_event_file",
    "load_prior_file",
]

EVENT_SCHEMA = "liqcascade.event/1"
PRIOR_SCHEMA = "liqcascade.prior/1"

Pos = Annotated[float, msgspec.Meta(gt=0.0)]


# --------------------------------------------------------------------------------------------
# replay events
# --------------------------------------------------------------------------------------------
class EventNews(Config, frozen=True, kw_only=True):
    """``[news]``: when the news hit (ISO-8601 UTC), what it was, and its sources."""

    time: str
    what: str = ""
    sources: list[str] = msgspec.field(default_factory=list)
    reliability: str | None = None


class EventWindow(Config, frozen=True, kw_only=True):
    """``[window]``: the comparison runs from the news time to ``end`` (ISO-8601 UTC);
    ``pre_minutes`` before the news are averaged for the pre-shock depth."""

    end: str
    pre_minutes: Annotated[int, msgspec.Meta(ge=0)] = 10


class EventImpulse(Config, frozen=True, kw_only=True):
    """``[impulse]``: the exogenous sell impulse, net taker sell volume of the first
    ``minutes`` one-minute klines from the news time (``rule = "net_taker_sell"``)."""

    rule: str
    minutes: Annotated[int, msgspec.Meta(ge=1)] = 1
    note: str = ""

    def check(self) -> None:
        if self.rule != "net_taker_sell":
            raise ConfigError(f"rule: expected 'net_taker_sell', got {self.rule!r}")


class OpenInterestRow(Config, frozen=True, kw_only=True):
    """``[[open_interest]]``: open interest of one symbol (base units) with its source."""

    symbol: str
    value_base: Pos
    source: str
    as_of: str | None = None
    reliability: str | None = None
    note: str = ""


class ReportedFigure(Config, frozen=True, kw_only=True):
    """``[[reported]]``: a reported figure of the day, its scope, source and reliability
    (P primary data, R research firm or exchange, N news repost, W weak)."""

    quantity: str
    value: float
    scope: str
    source: str
    reliability: str
    label: str = ""
    comparable: str | None = None
    note: str = ""


class EventFile(Config, frozen=True, kw_only=True):
    """A replay event file."""

    schema: str
    date: str
    venue: str
    default_symbol: str
    news: EventNews
    window: EventWindow
    impulse: EventImpulse
    title: str = ""
    open_interest: list[OpenInterestRow] = msgspec.field(default_factory=list)
    reported: list[ReportedFigure] = msgspec.field(default_factory=list)

    def check(self) -> None:
        from liqcascade.timeutil import to_ms

        if self.schema != EVENT_SCHEMA:
            raise ConfigError(f"schema: expected {EVENT_SCHEMA!r}, got {self.schema!r}")
        try:
            news_ms, end_ms = to_ms(self.news.time), to_ms(self.window.end)
        except Exception as exc:  # the time parser's own message names the value
            raise ConfigError(
                f"news.time / window.end: expected ISO-8601 UTC times ({exc})"
            ) from None
        if end_ms <= news_ms:
            raise ConfigError("window.end: expected a time after news.time")


def load_event_file(path: str | Path) -> EventFile:
    """Read and validate an event file."""
    return load(path, EventFile, what="event")


# --------------------------------------------------------------------------------------------
# leverage priors
# --------------------------------------------------------------------------------------------
class PriorLeverage(Config, frozen=True, kw_only=True):
    """``[leverage]``: leverage ``levels`` (x, strictly increasing, >= 1) and the share of
    opened notional at each (``weights``, fractions summing to 1)."""

    levels: list[Annotated[float, msgspec.Meta(ge=1.0)]]
    weights: list[Annotated[float, msgspec.Meta(ge=0.0)]]

    def check(self) -> None:
        if not self.levels or len(self.levels) != len(self.weights):
            raise ConfigError(
                "levels and weights: expected non-empty lists of equal length, got "
                f"{len(self.levels)} and {len(self.weights)}"
            )
        if any(b <= a for a, b in zip(self.levels, self.levels[1:], strict=False)):
            raise ConfigError(f"levels: expected strictly increasing values, got {self.levels}")
        total = sum(self.weights)
        if abs(total - 1.0) > 1e-6:
            raise ConfigError(f"weights: expected fractions summing to 1, got {total:.6f}")


class PriorFile(Config, frozen=True, kw_only=True):
    """A leverage prior file (fields as in :class:`liqcascade.estimate.LeveragePrior`)."""

    schema: str
    venue: str
    name: str
    leverage: PriorLeverage
    summary: str = ""
    rationale: str = ""
    representative_notional_quote: Pos = 20_000.0
    half_life_hours: Pos = 72.0
    open_fraction: Annotated[float, msgspec.Meta(gt=0.0, le=1.0)] = 0.05
    side_split: str = "taker"

    def check(self) -> None:
        if self.schema != PRIOR_SCHEMA:
            raise ConfigError(f"schema: expected {PRIOR_SCHEMA!r}, got {self.schema!r}")
        if self.side_split not in ("taker", "even"):
            raise ConfigError(f"side_split: expected 'taker' or 'even', got {self.side_split!r}")


def load_prior_file(path: str | Path) -> PriorFile:
    """Read and validate a leverage prior file."""
    return load(path, PriorFile, what="prior")
