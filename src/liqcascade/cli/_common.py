"""Shared CLI helpers: console, JSON output, error exit."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from rich.console import Console

console = Console()
err_console = Console(stderr=True)


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (NaN/inf become null)."""
    sys.stdout.write(json.dumps(_clean(obj), indent=2, default=str) + "\n")


def _clean(obj: Any) -> Any:
    import math

    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def format_money(v: float | None) -> str:
    """An amount in quote currency (USD) for a table cell: ``-`` for missing/NaN, ``0`` under
    0.5, else ``1,234``, ``12.3k``, ``4.56M``, ``7.89B``."""
    import math

    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    a = abs(v)
    if a < 0.5:
        return "0"
    if a >= 1e9:
        return f"{v / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{v / 1e6:,.2f}M"
    if a >= 1e3:
        return f"{v / 1e3:,.1f}k"
    return f"{v:,.0f}"


def fail(message: str, code: int = 2) -> NoReturn:
    err_console.print(f"[red]error:[/red] {message}")
    raise SystemExit(code)
