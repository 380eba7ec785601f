"""Position books for the pages: shipped examples, files in the data directory, uploads.

A request names a book by a ``BookRef``: either a shipped example by name (looked up in a
fixed list, never joined to a path) or a file relative to the data directory (checked by
``safe_path``). Uploads are stored under ``uploads/`` with a content-hash name, after the
library has parsed them (a bad file is refused with the library's message naming row and
field, and nothing is kept).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, File, UploadFile
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from liqcascade.errors import DataError, InputError
from liqcascade.resources import examples_dir
from liqcascade.web.common import ApiError
from liqcascade.web.safety import safe_path

BOOK_SUFFIXES = (".csv", ".parquet", ".arrow", ".feather")
_BOOK_KINDS = "a .csv, .parquet or Arrow IPC (.arrow, .feather) file"
#: The example a page selects first: one market (binance_usdm BTCUSDT), 25,000 positions.
DEFAULT_EXAMPLE = "positions_btc.csv"
_CHUNK = 1 << 20


class BookRef(BaseModel):
    """Which position book to use: a shipped example (``source="example"``, ``name`` from
    ``GET /api/books``) or a file in the data directory (``source="data"``, ``name`` a relative
    path such as ``uploads/3f2a....csv``)."""

    model_config = ConfigDict(extra="forbid")
    source: Literal["example", "data"] = "example"
    name: str = Field(min_length=1, max_length=400)


def example_dirs() -> list[Path]:
    """Folders holding shipped example books (positions files)."""
    return [p for p in (examples_dir(),) if p.is_dir()]


@functools.lru_cache(maxsize=1)
def example_books() -> dict[str, Path]:
    """Shipped example books by name (file name), from :func:`example_dirs` (read once)."""
    books: dict[str, Path] = {}
    for d in example_dirs():
        for p in sorted(d.rglob("*")):
            if p.suffix in BOOK_SUFFIXES and p.is_file() and _looks_like_book(p):
                books.setdefault(p.name, p)
    return books


def _looks_like_book(path: Path) -> bool:
    if path.suffix != ".csv":  # columnar: no header line to sniff
        return "position" in path.name or "book" in path.name
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            header = fh.readline().lower()
    except OSError:
        return False
    return "side" in header and ("size" in header or "notional" in header)


class BookStore:
    """Resolves ``BookRef`` to files and caches parsed books by (path, mtime, size)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, int, int], Any] = {}

    def path_of(self, ref: BookRef, field: str = "book.name") -> Path:
        if ref.source == "example":
            books = example_books()
            if ref.name not in books:
                raise InputError(
                    f"{field}: no shipped example book {ref.name!r} (expected one of {sorted(books)})"
                )
            return books[ref.name]
        path = safe_path(self.data_dir, ref.name, field=field)
        if path.suffix not in BOOK_SUFFIXES:
            raise InputError(f"{field}: {ref.name!r} is not {_BOOK_KINDS}")
        if not path.is_file():
            raise InputError(f"{field}: no file {ref.name!r} in the data directory")
        return path

    def key_of(self, path: Path) -> tuple[str, int, int]:
        st = path.stat()
        return (str(path), st.st_mtime_ns, st.st_size)

    def load(self, ref: BookRef, field: str = "book.name") -> tuple[Any, tuple[str, int, int]]:
        """The parsed ``PositionBook`` for ``ref`` and its cache key."""
        path = self.path_of(ref, field)
        key = self.key_of(path)
        with self._lock:
            book = self._cache.get(key)
        if book is None:
            book = read_book(path)
            with self._lock:
                if len(self._cache) > 16:
                    self._cache.clear()
                self._cache[key] = book
        return book, key


def read_book(path: Path) -> Any:
    """Parse a positions file with the library (CSV, Parquet or Arrow IPC, by suffix; account
    ids may be text such as ``alice`` or ``0xabc123``)."""
    from liqcascade.book import PositionBook

    return PositionBook.from_file(path)


def book_summary(book: Any) -> dict[str, Any]:
    """Counts of a book for the page: positions, venues, symbols, the (venue, symbol) markets
    it holds (the static mode solves one of them), long/short totals."""
    import numpy as np

    side = np.asarray(book.side)
    size = np.asarray(book.size_base)
    entry = np.asarray(book.entry_price)
    return {
        "positions": int(len(book)),
        "venues": list(book.venues),
        "symbols": list(book.symbols),
        "markets": [list(pair) for pair in book.venue_symbol_pairs()],
        "long_count": int((side > 0).sum()),
        "short_count": int((side < 0).sum()),
        "notional_quote": float((size * entry).sum()),
    }


def register(app: FastAPI, state: Any) -> None:
    """Routes: list books, upload a book, describe a book."""
    store = BookStore(state.data_dir)
    state.cache["books"] = store

    @app.get("/api/books", tags=["books"])
    def list_books() -> dict[str, Any]:
        """Shipped example books, the book files in the data directory (relative paths), and
        the example a page selects first (``default``)."""
        files = []
        for p in sorted(state.data_dir.rglob("*")):
            if p.suffix in BOOK_SUFFIXES and p.is_file():
                files.append(p.relative_to(state.data_dir).as_posix())
        examples = sorted(example_books())
        default: str | None = (
            DEFAULT_EXAMPLE if DEFAULT_EXAMPLE in examples else (examples[0] if examples else None)
        )
        return {"examples": examples, "files": files, "default": default}

    @app.post("/api/books/upload", tags=["books"])
    async def upload_book(
        file: UploadFile = File(
            ..., description="positions CSV, Parquet or Arrow IPC, at most 20 MiB"
        ),
    ) -> dict[str, Any]:
        """Store a positions file in ``uploads/`` after the library has parsed it.

        Returns the ``BookRef`` to use in later requests and the book's counts.
        """
        name = file.filename or ""
        suffix = Path(name).suffix.lower()
        if suffix not in BOOK_SUFFIXES:
            raise InputError(f"file: {name!r} is not {_BOOK_KINDS}")
        uploads = state.data_dir / "uploads"
        uploads.mkdir(exist_ok=True)
        digest = hashlib.sha256()
        fd, tmp_name = tempfile.mkstemp(dir=uploads, suffix=".part")
        tmp = Path(tmp_name)
        limit = state.config.max_upload_bytes
        total = 0
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := await file.read(_CHUNK):
                    total += len(chunk)
                    if total > limit:
                        raise ApiError(
                            413, f"file: larger than the upload limit of {limit} bytes", "file"
                        )
                    digest.update(chunk)
                    out.write(chunk)
            if total == 0:
                raise InputError("file: empty upload")
            final = uploads / f"{digest.hexdigest()[:20]}{suffix}"
            staged = tmp.with_suffix(suffix)
            tmp.rename(staged)
            tmp = staged
            try:
                book = await run_in_threadpool(read_book, staged)
            except (InputError, DataError) as exc:
                # the library names the staged file; the user knows it by its own name
                msg = str(exc).replace(str(staged), name).replace(staged.name, name)
                cls = InputError if isinstance(exc, InputError) else DataError
                err = cls(f"file {name!r}: {msg}")
                err.field = "file"  # type: ignore[union-attr]  # the request field, read by the app
                raise err from exc
            os.replace(staged, final)
        finally:
            if tmp.exists():
                tmp.unlink()
        rel = final.relative_to(state.data_dir).as_posix()
        return {"book": {"source": "data", "name": rel}, "bytes": total, **book_summary(book)}

    @app.get("/api/books/info", tags=["books"])
    def book_info(source: Literal["example", "data"] = "example", name: str = "") -> dict[str, Any]:
        """Counts of one book (``name`` is an example name or a data-directory relative path)."""
        ref = BookRef(source=source, name=name or "?")
        book, _ = store.load(ref, field="name")
        return {"book": ref.model_dump(), **book_summary(book)}

    @app.get("/api/data/{rel_path:path}", tags=["books"])
    def data_file(rel_path: str) -> dict[str, Any]:
        """Size and kind of a file in the data directory (paths outside it are refused)."""
        path = safe_path(state.data_dir, rel_path, field="path")
        if not path.exists():
            raise ApiError(404, f"path: no file {rel_path!r} in the data directory", "path")
        return {
            "path": path.relative_to(state.data_dir).as_posix(),
            "bytes": path.stat().st_size if path.is_file() else None,
            "is_dir": path.is_dir(),
        }
