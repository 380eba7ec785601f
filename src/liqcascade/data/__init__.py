"""Market data: an embedded DuckDB store, one reader per real exchange file format, ccxt access.

See docs/data.md for the tables, the query API and every supported format.
"""

from __future__ import annotations

from liqcascade.data.ingest import (
    FORMATS,
    FileResult,
    IngestReport,
    detect,
    ingest_file,
    ingest_paths,
)
from liqcascade.data.store import TABLES, Store, default_db_path, to_utc

__all__ = [
    "FORMATS",
    "TABLES",
    "FileResult",
    "IngestReport",
    "Store",
    "default_db_path",
    "detect",
    "ingest_file",
    "ingest_paths",
    "to_utc",
]
