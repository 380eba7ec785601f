"""Shared CLI plumbing: consoles, logging set-up, table output, progress bars, JSON output.

Every command prints its tables through :func:`emit`, so output fits where it goes:

- on a terminal, a rich table with numbers as people read them (:mod:`liqcascade.fmt`);
- when stdout is not a terminal (piped, redirected), the same table at its full width, no cell
  cut short;
- with ``--format csv`` or ``--format json``, the raw values (full precision, machine names).

Importing this module is cheap (rich is imported on first use) so that ``liqcascade --help``
starts fast.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import inspect
import json
import logging
import math
import sys
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import typer

#: Keyword arguments of every Typer app of the CLI: plain (click) help text, which prints in a
#: fraction of the time rich-formatted help takes to import.
TYPER_KW: dict[str, Any] = {"rich_markup_mode": None}


class App(typer.Typer):
    """A Typer app whose commands may take option groups (:func:`option_group`)."""

    def command(self, *args: Any, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
        register = super().command(*args, **kwargs)
        return lambda func: register(takes_option_groups(func))


def sub_app(parent: typer.Typer, name: str, help: str) -> typer.Typer:
    """A command group ``liqcascade NAME ...`` added to ``parent`` (its bare name prints help)."""
    group = App(help=help, no_args_is_help=True, **TYPER_KW)
    parent.add_typer(group, name=name)
    return group


class OutputFormat(StrEnum):
    """What a command prints: a table for people, or CSV/JSON for programs."""

    table = "table"
    csv = "csv"
    json = "json"


FORMAT_HELP = (
    "Output: table (for people), csv (the main table, raw values) or json (the full result)."
)

#: ``--format table|csv|json`` for a command's signature.
FormatOpt = Annotated[
    OutputFormat,
    typer.Option("--format", case_sensitive=False, help=FORMAT_HELP),
]
#: ``--db PATH``, the DuckDB market-data store, for a command's signature.
DbOpt = Annotated[
    Path | None,
    typer.Option("--db", help="DuckDB store (default: $LIQCASCADE_DB or the user data directory)."),
]
#: ``--json``, the short form of ``--format json``, for a command's signature.
JsonOpt = Annotated[bool, typer.Option("--json", help="Same as --format json.")]
#: The same option under another name, for commands where ``--format`` already means an input format.
OutputFormatOpt = Annotated[
    OutputFormat,
    typer.Option("--output-format", case_sensitive=False, help=FORMAT_HELP),
]


def output_format(fmt: OutputFormat | str, as_json: bool = False) -> str:
    """The chosen output format; the older ``--json`` flag means ``--format json``."""
    if as_json:
        return "json"
    return fmt.value if isinstance(fmt, OutputFormat) else str(fmt)


# --------------------------------------------------------------------------- option groups

_T = typing.TypeVar("_T")


def option_group(cls: type[_T]) -> type[_T]:
    """Make the dataclass ``cls`` a group of options that several commands take as one parameter.

    Each field is an ``Annotated[TYPE, typer.Option(...)]`` with its default, the same as an
    option in a command's signature. A command decorated with
    :func:`takes_option_groups` (every command of an :class:`App`) and a parameter annotated
    with ``cls`` gets the group's options
    in its ``--help`` and command line, and one ``cls`` instance when it runs.
    """
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"option_group: {cls.__qualname__} is not a dataclass")
    cls.__option_group__ = True  # type: ignore[attr-defined]
    return cls


def takes_option_groups(func: Callable[..., Any]) -> Callable[..., Any]:
    """The command ``func`` with each parameter annotated with an :func:`option_group` class
    replaced, at its place, by that group's options; the command receives the group instance.

    Typer reads the command's options from ``__signature__``, so ``--help`` lists the group's
    options where the parameter stands, in field order.
    """
    kw_only = inspect.Parameter.KEYWORD_ONLY
    hints = typing.get_type_hints(func, include_extras=True)
    params: list[inspect.Parameter] = []
    groups: dict[str, tuple[type, tuple[str, ...]]] = {}
    for p in inspect.signature(func).parameters.values():
        ann = hints.get(p.name, p.annotation)
        if not getattr(ann, "__option_group__", False):
            params.append(p.replace(annotation=ann, kind=kw_only))
            continue
        fields = dataclasses.fields(ann)
        field_hints = typing.get_type_hints(ann, include_extras=True)
        groups[p.name] = (ann, tuple(f.name for f in fields))
        params += [
            inspect.Parameter(f.name, kw_only, default=f.default, annotation=field_hints[f.name])
            for f in fields
        ]
    if not groups:
        return func
    names = [p.name for p in params]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise TypeError(f"{func.__qualname__}: option groups repeat parameters {clash}")

    @functools.wraps(func)
    def command(**kwargs: Any) -> Any:
        for name, (group, keys) in groups.items():
            kwargs[name] = group(**{k: kwargs.pop(k) for k in keys})
        return func(**kwargs)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


@option_group
@dataclasses.dataclass(frozen=True)
class Output:
    """``--format table|csv|json`` and its short form ``--json``, as one option group."""

    fmt: FormatOpt = OutputFormat.table
    as_json: JsonOpt = False

    @property
    def format(self) -> str:
        """table, csv or json (:func:`output_format`)."""
        return output_format(self.fmt, self.as_json)

    def printed_json(self, doc: Any) -> bool:
        """With json output, print ``doc`` (the command's whole result) and return True."""
        if self.format != "json":
            return False
        print_json(doc)
        return True


# --------------------------------------------------------------------------- global options

_STATE: dict[str, Any] = {"quiet": False, "verbose": 0}


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners swap it)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.exc_info:
            msg += "\n" + self.formatException(record.exc_info)
        if record.levelno <= logging.DEBUG:
            return f"{record.levelname.lower()} {record.name}: {msg}"
        return f"{record.levelname.lower()}: {msg}"


def configure_logging(verbose: int = 0, quiet: bool = False) -> int:
    """Route the library's logger (:data:`liqcascade.log.logger`) to stderr.

    Default: warnings and errors; ``-v`` adds info, ``-vv`` debug; ``-q`` keeps errors only (and
    turns progress bars off). Returns the level set.
    """
    from liqcascade.log import logger

    level = (
        logging.ERROR
        if quiet
        else (logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG)
    )
    for h in list(logger.handlers):
        if isinstance(h, _StderrHandler):
            logger.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    _STATE.update(quiet=quiet, verbose=verbose)
    return level


def quiet() -> bool:
    """True when ``-q/--quiet`` was given."""
    return bool(_STATE["quiet"])


# --------------------------------------------------------------------------- consoles


def stdout_is_terminal() -> bool:
    isatty = getattr(sys.stdout, "isatty", None)
    return bool(isatty and isatty())


def _stream_is_terminal(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _LazyConsole:
    """A rich Console made on first use, for the stream current at that time.

    On a terminal it is rich's default; elsewhere text is not wrapped at 80 columns.
    """

    def __init__(self, stderr: bool) -> None:
        self._stderr = stderr
        self._cache: tuple[int, Any] | None = None

    def get(self) -> Any:
        stream = sys.stderr if self._stderr else sys.stdout
        if self._cache is None or self._cache[0] != id(stream):
            from rich.console import Console

            tty = _stream_is_terminal(stream)
            c = Console(stderr=self._stderr, soft_wrap=not tty)
            self._cache = (id(stream), c)
        return self._cache[1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.get(), name)


console: Any = _LazyConsole(stderr=False)
err_console: Any = _LazyConsole(stderr=True)


def print_table(table: Any) -> None:
    """Print a rich table on stdout: at the terminal's width on a terminal, else at the table's
    full natural width (no cell cut short or folded)."""
    from rich.console import Console
    from rich.measure import Measurement

    if stdout_is_terminal():
        console.print(table)
        return
    probe = Console(width=100_000, file=sys.stdout)
    width = Measurement.get(probe, probe.options, table).maximum
    Console(width=max(width, 20), file=sys.stdout, soft_wrap=True).print(table)


# --------------------------------------------------------------------------- tables


#: How a column is aligned (the values rich accepts).
Justify = Literal["default", "left", "center", "right", "full"]


@dataclass(frozen=True)
class Col:
    """One column of a printed table.

    ``key`` is the row field (and the CSV/JSON name); ``kind`` a :data:`liqcascade.fmt.KINDS`
    name, or ``"auto"`` to take it per row from the row's ``kind`` or else from its ``field``
    name (:func:`kind_for`); ``unit`` is appended to each cell (``"USDT"``); ``style`` maps a value to a rich style.
    """

    key: str
    header: str | None = None
    kind: str = "number"
    unit: str | None = None
    justify: Justify | None = None
    style: Callable[[Any], str | None] | None = None


def raw(v: Any) -> Any:
    """A value for CSV/JSON: NaN/inf become None, dates ISO-8601, paths strings."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, Enum):
        return v.value
    if hasattr(v, "item") and callable(v.item) and not isinstance(v, (list, dict, str)):
        try:  # numpy scalars
            return raw(v.item())
        except (TypeError, ValueError):
            return v
    return v


def _csv_value(v: Any) -> Any:
    v = raw(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, default=str)
    return v


def write_csv(rows: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> None:
    """Rows as CSV on stdout, header = ``keys``, raw values (floats at full precision)."""
    w = csv.writer(sys.stdout, lineterminator="\n")
    w.writerow(keys)
    for r in rows:
        w.writerow([_csv_value(r.get(k)) for k in keys])
    sys.stdout.flush()


def make_table(
    rows: Iterable[Mapping[str, Any]],
    cols: Sequence[Col],
    *,
    title: str | None = None,
    show_header: bool = True,
    caption: str | None = None,
) -> Any:
    """A rich Table of ``rows`` with each cell formatted by its column's kind."""
    from rich.table import Table
    from rich.text import Text

    from liqcascade.fmt import cell

    t = Table(title=title, show_header=show_header, caption=caption)
    for c in cols:
        just: Justify = c.justify or ("left" if c.kind in ("text", "bool") else "right")
        t.add_column(c.header if c.header is not None else c.key, justify=just)
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c.key)
            kind = (
                (r.get("kind") or kind_for(str(r.get("field", c.key))))
                if c.kind == "auto"
                else c.kind
            )
            text = cell(v, kind, c.unit if kind == "money" or c.kind != "auto" else None)
            style = c.style(v) if c.style else None
            cells.append(Text(text, style=style or ""))
        t.add_row(*cells)
    return t


def emit(
    rows: Sequence[Mapping[str, Any]],
    cols: Sequence[Col],
    *,
    fmt: str = "table",
    title: str | None = None,
    show_header: bool = True,
    json_doc: Any = None,
    csv_keys: Sequence[str] | None = None,
) -> None:
    """Print one table in the chosen format.

    ``table``: rich table (see :func:`print_table`). ``csv``: the rows' raw values under
    ``csv_keys`` (default: the columns' keys). ``json``: ``json_doc`` when given (a command's
    full result), else the rows' raw values as a list of objects.
    """
    if fmt == "json":
        if json_doc is None:
            keys = list(csv_keys or [c.key for c in cols])
            json_doc = [{k: r.get(k) for k in keys} for r in rows]
        print_json(json_doc)
        return
    if fmt == "csv":
        write_csv(rows, list(csv_keys or [c.key for c in cols]))
        return
    print_table(make_table(rows, cols, title=title, show_header=show_header))


def kv_rows(d: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A mapping as ``field``/``value`` rows (scalars only), for a two-column table."""
    return [{"field": k, "value": v} for k, v in d.items() if not isinstance(v, (list, dict))]


def kv_cols(unit: str | None = None) -> list[Col]:
    """The two columns of a field/value table; each value is formatted by what its field name
    says it is (``*_quote`` money in ``unit``, ``*_frac`` a percentage, ...; :func:`kind_for`)."""
    return [Col("field", kind="text"), Col("value", kind="auto", unit=unit, justify="right")]


def kind_for(name: str) -> str:
    """A display kind guessed from a field name that says its unit (house naming)."""
    n = name.lower()
    if n.endswith(("_quote", "_usd", "_usdt", "_usdc")) or n in ("pnl", "fee", "fees", "bad_debt"):
        return "money"
    if (
        n.endswith(("_frac", "_share", "_rate", "margin_ratio", "_annual"))
        or "probability" in n
        or n.startswith(("prob_", "mmr"))
        or n in ("imr", "shock", "vol", "target")
    ):
        return "frac"
    if "leverage" in n and not n.endswith("_ratio"):
        return "leverage"
    if n.endswith("_base"):
        return "size"
    if n.endswith("_price") or n in ("price", "mark", "entry"):
        return "price"
    if n.endswith(("_count", "_n", "steps")) or n.startswith("n_"):
        return "count"
    if n.endswith("_s") and not n.endswith("_ms"):
        return "seconds"
    return "number"


def frame_rows(df: Any) -> list[dict[str, Any]]:
    """A polars frame as a list of row dicts."""
    return list(df.to_dicts())


# --------------------------------------------------------------------------- progress


def progress_enabled() -> bool:
    """Progress bars show on a terminal (stderr) unless ``--quiet``."""
    return not quiet() and _stream_is_terminal(sys.stderr)


class _NoBar:
    def __call__(self, *_args: Any, **_kw: Any) -> None:
        pass


@contextlib.contextmanager
def progress(
    label: str, total: float | None = None, *, enabled: bool = True, unit: str = ""
) -> Iterator[Callable[..., None]]:
    """A rich progress bar on stderr; yields ``update(done, total=None, description=None)``.

    Off (a no-op callback) when stderr is not a terminal, with ``--quiet`` or ``enabled=False``.
    """
    if not (enabled and progress_enabled()):
        yield _NoBar()
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = [
        SpinnerColumn(),
        TextColumn("[bold]{task.description}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
    ]
    if unit:
        columns.append(TextColumn(unit))
    columns += [TimeElapsedColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=err_console.get(), transient=True) as bar:
        task = bar.add_task(label, total=total)

        def update(
            done: float | None = None,
            total: float | None = None,
            description: str | None = None,
            advance: float | None = None,
        ) -> None:
            kw: dict[str, Any] = {}
            if done is not None:
                kw["completed"] = done
            if total is not None:
                kw["total"] = total
            if description is not None:
                kw["description"] = f"{label} {description}"
            if advance is not None:
                kw["advance"] = advance
            bar.update(task, **kw)

        yield update


@contextlib.contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner with a message on stderr while a step without a count runs (off when piped)."""
    if not progress_enabled():
        yield
        return
    with err_console.status(message):
        yield


# --------------------------------------------------------------------------- misc


def print_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout (NaN/inf become null)."""
    from liqcascade import jsonutil

    sys.stdout.write(jsonutil.dumps(obj, indent=2, default=str) + "\n")


def format_money(v: float | None, unit: str | None = None) -> str:
    """An amount of money for a table cell (:func:`liqcascade.fmt.money`)."""
    from liqcascade.fmt import money

    return money(v, unit)


def note(message: str) -> None:
    """An informational line after a table (table format only; suppressed by ``--quiet``)."""
    if not quiet():
        console.print(message, markup=False, highlight=False)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: MESSAGE`` on stderr and exit with ``code``."""
    from rich.text import Text

    err_console.print(Text.assemble(("error:", "red"), " ", message), highlight=False)
    raise SystemExit(code)


def load_book(path: Path, venue: str | None = None, symbol: str | None = None) -> Any:
    """The :class:`~liqcascade.book.PositionBook` of a positions file, kept to ``venue`` and/or
    ``symbol`` when given (``--venue``/``--symbol`` of the cascade commands)."""
    from liqcascade.book import PositionBook

    book = PositionBook.from_file(path)
    if venue is not None or symbol is not None:
        book = book.filter(venue=venue, symbol=symbol)
    return book


def quote_unit(venue: str | None, symbol: str | None) -> str | None:
    """The quote currency of a venue's symbol (``USDT``, ``USDC``, ``USD``), or None when the
    table mixes symbols or the venue is unknown."""
    if not venue or not symbol:
        return None
    from liqcascade.errors import LiqcascadeError
    from liqcascade.venues import load_venue

    try:
        return str(load_venue(venue, symbol).quote)
    except (LiqcascadeError, KeyError, ValueError):
        return None
