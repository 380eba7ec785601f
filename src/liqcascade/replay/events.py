"""Event files of the replay: one TOML file per date under ``liqcascade/events`` (docs/replay.md
gives the format), and the rule that builds an event for a plain day without a file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from liqcascade.errors import ConfigError, DataError, InputError
from liqcascade.timeutil import to_ms

EVENT_SCHEMA = "liqcascade.event/1"
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
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: event file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML ({exc})") from exc
    allowed = {
        "schema",
        "date",
        "title",
        "venue",
        "default_symbol",
        "news",
        "window",
        "impulse",
        "open_interest",
        "reported",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {sorted(unknown)}; allowed {sorted(allowed)}")
    if raw.get("schema") != EVENT_SCHEMA:
        raise ConfigError(f"{p}: field 'schema' must be {EVENT_SCHEMA!r}")
    try:
        news = raw["news"]
        window = raw["window"]
        impulse = raw["impulse"]
        news_ms = to_ms(news["time"])
        end_ms = to_ms(window["end"])
        if end_ms <= news_ms:
            raise ConfigError(f"{p}: window.end must be after news.time")
        if impulse.get("rule") != "net_taker_sell":
            raise ConfigError(
                f"{p}: impulse.rule must be 'net_taker_sell', got {impulse.get('rule')!r}"
            )
        oi: dict[str, dict[str, Any]] = {}
        for i, row in enumerate(raw.get("open_interest", [])):
            for key in ("symbol", "value_base", "source"):
                if key not in row:
                    raise ConfigError(f"{p}: open_interest[{i}] misses field {key!r}")
            if not float(row["value_base"]) > 0:
                raise ConfigError(f"{p}: open_interest[{i}].value_base must be > 0 (base units)")
            oi[str(row["symbol"])] = dict(row)
        reported = []
        for i, row in enumerate(raw.get("reported", [])):
            for key in ("quantity", "value", "scope", "source", "reliability"):
                if key not in row:
                    raise ConfigError(f"{p}: reported[{i}] misses field {key!r}")
            reported.append(dict(row))
        return Event(
            date=str(raw["date"]),
            title=str(raw.get("title", "")),
            venue=str(raw["venue"]),
            default_symbol=str(raw["default_symbol"]),
            news_ms=news_ms,
            news_sources=tuple(news.get("sources", ())),
            window_end_ms=end_ms,
            pre_minutes=int(window.get("pre_minutes", 10)),
            impulse_minutes=int(impulse.get("minutes", 1)),
            impulse_rule=str(impulse["rule"]),
            open_interest=oi,
            reported=tuple(reported),
            path=str(p),
        )
    except KeyError as exc:
        raise ConfigError(f"{p}: missing field {exc.args[0]!r}") from exc


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
