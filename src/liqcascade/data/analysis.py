"""Generic analysis tables: research outputs kept as they are (one JSON record per source row).

Used for the Hyperliquid ADL analysis of 10 Oct 2025 shipped in ``sample_data/hyperliquid/
adl-2025-10-10`` (per-wave deficits and budgets by policy, loser waves, per-shock queue metrics,
headline totals). Their columns differ file by file and are not market data, so they are not forced
into a market table: each CSV row becomes one row of ``analysis`` with ``dataset`` = the file stem,
``row_number`` = the 1-based data row, ``record`` = the row as JSON (numbers parsed) and ``time`` =
the row's ``t_start_ms`` / ``t_start`` / ``time`` column when it has one. A JSON file (an object)
becomes one row. ``Store.analysis(dataset)`` expands the records back into columns.

These files are taken only from a folder whose name contains ``adl`` or ``analysis``, or with
``--format analysis``; any other unknown CSV is refused as an unknown format.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import polars as pl

from liqcascade.data.formats import FormatTable, Plan, frame, load_json, open_text, time_field
from liqcascade.errors import DataError

#: The formats this module reads.
FILE_FORMATS = FormatTable()
_TIME_KEYS = ("t_start_ms", "t_start", "time", "timestamp")


def is_analysis_path(path: Path) -> bool:
    """True when a parent folder marks the file as an analysis output (``adl``/``analysis``)."""
    return any("adl" in p.lower() or "analysis" in p.lower() for p in path.parts[:-1])


def _value(text: str) -> Any:
    if text == "":
        return None
    try:
        v = float(text)
    except ValueError:
        return text
    return int(v) if v.is_integer() and "." not in text and "e" not in text.lower() else v


@FILE_FORMATS.reader(
    "analysis", "analysis", "generic research table (CSV with header, or a JSON object)"
)
def read_analysis(path: Path, plan: Plan) -> dict[str, pl.DataFrame]:
    """CSV (with header) or JSON object -> ``analysis`` rows (see module doc)."""
    dataset = path.name.split(".")[0]
    rows: list[dict[str, Any]] = []
    if path.name.lower().endswith((".json", ".json.gz")):
        data = load_json(path)
        if not isinstance(data, dict):
            raise DataError(
                f"{path}: an analysis JSON must be one object, got {type(data).__name__}"
            )
        rows.append(_row(plan, dataset, 1, None, data))
        return {"analysis": frame(rows, "analysis")}
    with open_text(path) as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file (a header line is expected)") from None
        except csv.Error as exc:
            raise DataError(f"{path}: line 1: not a CSV header: {exc}") from None
        if len(set(header)) != len(header) or any(not h.strip() for h in header):
            raise DataError(f"{path}: line 1: header has empty or repeated column names: {header}")
        tkey = next((k for k in _TIME_KEYS if k in header), None)
        try:
            for n, fields in enumerate(reader, start=1):
                if not fields:
                    continue
                lineno = reader.line_num
                if len(fields) != len(header):
                    raise DataError(
                        f"{path}: line {lineno} (data row {n}): expected {len(header)} columns "
                        f"({', '.join(header[:4])}, ...), found {len(fields)}"
                    )
                rec = {h: _value(v) for h, v in zip(header, fields, strict=True)}
                t = None
                if tkey is not None and rec[tkey] is not None:
                    t = time_field(rec[tkey], path, f"line {lineno}", tkey)
                rows.append(_row(plan, dataset, n, t, rec))
        except csv.Error as exc:
            raise DataError(f"{path}: line {reader.line_num}: malformed CSV: {exc}") from None
    return {"analysis": frame(rows, "analysis")}


def _row(plan: Plan, dataset: str, n: int, t: Any, rec: dict[str, Any]) -> dict[str, Any]:
    return {
        "venue": plan.venue,
        "symbol": plan.symbol,
        "dataset": dataset,
        "row_number": n,
        "time": t,
        "record": json.dumps(rec, allow_nan=True),
    }
