"""Event files of the replay: one TOML file per date under ``liqcascade/events`` (docs/replay.md
gives the format), and the rule that builds an event for a plain day without a file."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import DataError, InputError
from liqcascade.file_schemas import load_event_file
from liqcascade.timeutil import to_ms

_MS_MIN = 60_000
_MS_DAY = 86_400_000


@dataclass(frozen=True)
class Event:
    """A replay definition read from ``liqcascade/events/<date>.toml`` (or built for a plain day).

    Times are epoch ms (UTC). ``open_interest`` maps symbol -> dict(value_base, as_of, source,
    reliability, note); ``reported`` is the list of sourced reported figures.
    """

    date: str
    title: str
    venue: str
    default_symbol: str
    news_ms: int
    news_sources: tuple[str, ...]
    window_end_ms: int
    pre_minutes: int
    impulse_minutes: int
    impulse_rule: str
    open_interest: dict[str, dict[str, Any]] = field(default_factory=dict)
    reported: tuple[dict[str, Any], ...] = ()
    path: str = ""

    @property
    def is_defined(self) -> bool:
        """True when read from an event file (False for an auto-built plain day)."""
        return bool(self.path)


def _events_dir() -> Path:
    return Path(str(resources.files("liqcascade") / "events"))


def list_events() -> list[str]:
    """Dates of the event files shipped with liqcascade."""
    return sorted(p.stem for p in _events_dir().glob("*.toml"))


def load_event(spec: str | Path) -> Event:
    """Read an event file: a path, or a date ``YYYY-MM-DD`` of a shipped file."""
    p = Path(spec)
    if not p.suffix == ".toml":
        p = _events_dir() / f"{spec}.toml"
        if not p.exists():
            raise InputError(
                f"event {spec!r}: no event file; shipped: {', '.join(list_events()) or 'none'}"
            )
    f = load_event_file(p)
    return Event(
        date=f.date,
        title=f.title,
        venue=f.venue,
        default_symbol=f.default_symbol,
        news_ms=to_ms(f.news.time),
        news_sources=tuple(f.news.sources),
        window_end_ms=to_ms(f.window.end),
        pre_minutes=f.window.pre_minutes,
        impulse_minutes=f.impulse.minutes,
        impulse_rule=f.impulse.rule,
        open_interest={r.symbol: r.to_dict() for r in f.open_interest},
        reported=tuple(r.to_dict() for r in f.reported),
        path=str(p),
    )


def plain_day_event(
    date: str, klines: pl.DataFrame, venue: str, symbol: str, template: Event
) -> Event:
    """Event for a day without an event file: the shock minute is found by a stated rule.

    Rule: the news time is the open of the minute with the largest net taker sell volume
    (volume - 2 * taker-buy volume) of the day; the window has the template's length and the
    template's pre-minutes and impulse minutes. No reported figures, no stated open interest.
    """
    day0 = to_ms(f"{date}T00:00:00Z")
    k = klines.filter((pl.col("open_time_ms") >= day0) & (pl.col("open_time_ms") < day0 + _MS_DAY))
    if k.height == 0:
        raise DataError(f"no 1m klines of {venue} {symbol} on {date}; cannot pick a shock minute")
    net = (k["volume_base"] - 2 * k["taker_buy_volume_base"]).to_numpy()
    news = int(k["open_time_ms"][int(np.nanargmax(net))])
    length = template.window_end_ms - template.news_ms
    return Event(
        date=date,
        title=f"{symbol} on {date}: largest net taker sell minute (no event file)",
        venue=venue,
        default_symbol=symbol,
        news_ms=news,
        news_sources=("rule: minute with the largest net taker sell volume of the day",),
        window_end_ms=min(news + length, day0 + _MS_DAY),
        pre_minutes=template.pre_minutes,
        impulse_minutes=template.impulse_minutes,
        impulse_rule="net_taker_sell",
    )
