"""The one place where times are converted: epoch milliseconds, ISO-8601 text, UTC datetimes.

Every time in liqcascade is UTC. A naive datetime or ISO text without an offset is read as UTC;
a number is epoch MILLISECONDS. Text goes out as ``YYYY-MM-DDTHH:MM:SSZ``.

Examples
--------
>>> ms_to_iso(1760130000000)
'2025-10-10T21:00:00Z'
>>> to_ms("2025-10-10T21:00"), to_ms("2025-10-10 21:00:00Z"), to_ms(1760130000000.0)
(1760130000000, 1760130000000, 1760130000000)
>>> to_utc("1760130000000").isoformat()
'2025-10-10T21:00:00+00:00'
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import numpy as np

from liqcascade.errors import InputError

#: How times are written: second resolution, UTC, ``Z`` suffix.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

TimeLike = datetime | str | int | float | np.integer | np.floating | None

__all__ = [
    "ISO_FORMAT",
    "TimeLike",
    "datetime_to_ms",
    "ms_to_datetime",
    "ms_to_iso",
    "parse_iso",
    "to_ms",
    "to_utc",
]

_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def ms_to_datetime(ms: int | float) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(float(ms) / 1000.0, tz=UTC)


def ms_to_iso(ms: int | float) -> str:
    """Epoch milliseconds -> ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, seconds truncated)."""
    return ms_to_datetime(ms).strftime(ISO_FORMAT)


def datetime_to_ms(dt: datetime) -> int:
    """Datetime -> epoch milliseconds (rounded); a naive datetime is UTC."""
    aware = dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)
    return int(round(aware.timestamp() * 1000.0))


def parse_iso(text: str) -> datetime:
    """ISO-8601 text (``2025-10-10``, ``2025-10-10T21:15``, ``... 21:15:00Z``, ``+02:00``)
    -> aware UTC datetime; no offset means UTC. Raises ``ValueError`` when it is not ISO."""
    dt = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def to_utc(value: TimeLike, name: str = "time") -> datetime | None:
    """A user's time -> aware UTC datetime; ``None`` passes through.

    Accepts a datetime (naive means UTC), ISO-8601 text, or a number (or numeric text) of epoch
    MILLISECONDS. An :class:`~liqcascade.errors.InputError` names ``name`` and what was expected.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, (bool, np.bool_)):
        raise InputError(f"{name}: expected a time, got a boolean")
    if isinstance(value, (int, float, np.integer, np.floating)):
        if not math.isfinite(float(value)):
            raise InputError(f"{name}: expected a finite epoch ms, got {value!r}")
        return ms_to_datetime(float(value))
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.fullmatch(text):
            return to_utc(float(text), name)
        try:
            return parse_iso(text)
        except ValueError:
            raise InputError(
                f"{name}: expected an ISO-8601 time like 2025-10-10T21:00 or epoch ms, got {value!r}"
            ) from None
    raise InputError(
        f"{name}: expected datetime, ISO string or epoch ms, got {type(value).__name__}"
    )


def to_ms(value: TimeLike, name: str = "time") -> int:
    """A user's time (as :func:`to_utc` takes it, but not ``None``) -> epoch milliseconds.

    Integers (and integer text) pass through exactly, without a round trip through a float.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value.strip())
    dt = to_utc(value, name)
    if dt is None:
        raise InputError(f"{name}: a time is required")
    return datetime_to_ms(dt)
