"""Files shipped inside the package, found with :mod:`importlib.resources`.

Everything a command or a web page reads by default lives in the installed package, so a wheel
works from any directory:

- ``examples/``: example position books (CSV) and stress/policy scenarios (TOML);
  ``book_example.csv`` is the book of ``liqcascade demo --margin-table``.
- ``sample_data/``: real public market data (sources and licences in its ``SOURCES.md``).

>>> from liqcascade.resources import example_path
>>> example_path("book_example.csv").name
'book_example.csv'
>>> "policy_leverage_adl.toml" in {p.name for p in example_files((".toml",))}
True
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from liqcascade.errors import InputError

__all__ = ["example_files", "example_path", "examples_dir", "package_path", "sample_data_dir"]


def package_path(*parts: str) -> Path:
    """Path of ``parts`` inside the installed ``liqcascade`` package (it may not exist)."""
    return Path(str(resources.files("liqcascade").joinpath(*parts)))


def examples_dir() -> Path:
    """The shipped ``examples`` folder (position books and scenario files)."""
    return package_path("examples")


def sample_data_dir() -> Path:
    """The shipped ``sample_data`` folder (real market data, see its SOURCES.md)."""
    return package_path("sample_data")


def example_files(suffixes: Iterable[str] = (".csv", ".parquet", ".toml")) -> list[Path]:
    """Shipped example files with one of ``suffixes``, sorted by name."""
    wanted = tuple(suffixes)
    d = examples_dir()
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and p.suffix in wanted)


def example_path(name: str) -> Path:
    """The shipped example file ``name`` (a file name such as ``"positions_btc.csv"``)."""
    p = examples_dir() / name
    if Path(name).name == name and p.is_file():  # a bare file name, never a path
        return p
    names = [p.name for p in example_files()]
    raise InputError(f"no shipped example {name!r}; expected one of {names}")
