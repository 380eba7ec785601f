"""Packaging: shipped files are found inside the package, missing extras give one line.

The wheel itself (built, installed outside the checkout, run from another directory) is checked
by .ci/smoke_wheel.sh.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import liqcascade
from liqcascade._optional import missing_extra_message, require
from liqcascade.errors import InputError, LiqcascadeError, MissingExtraError
from liqcascade.resources import example_files, example_path, examples_dir, sample_data_dir

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = Path(liqcascade.__file__).resolve().parent


def test_shipped_files_live_inside_the_package() -> None:
    for p in (examples_dir(), sample_data_dir(), example_path("book_example.csv")):
        assert p.resolve().is_relative_to(PACKAGE), p
    names = {p.name for p in example_files()}
    assert {"book_example.csv", "positions_btc.csv", "policy_leverage_adl.toml"} <= names
    assert (PACKAGE / "py.typed").is_file()


def test_repo_examples_are_the_packaged_files() -> None:
    # examples/ in the repository links to the packaged files, so docs and the wheel agree
    for p in example_files():
        assert (ROOT / "examples" / p.name).read_bytes() == p.read_bytes(), p.name


@pytest.mark.parametrize("name", ["nope.csv", "../sample_data/SOURCES.md", "/etc/passwd"])
def test_example_path_refuses_unknown_names_and_paths(name: str) -> None:
    with pytest.raises(InputError, match="no shipped example") as exc:
        example_path(name)
    assert "book_example.csv" in str(exc.value)  # lists what exists


def test_require_missing_module_is_one_line_naming_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    with pytest.raises(MissingExtraError) as exc:
        require("liqcascade serve", "json", "uvicorn", extra="web")
    msg = str(exc.value)
    assert msg == "liqcascade serve needs the web extra: pip install 'liqcascade[web]'"
    assert msg == missing_extra_message("liqcascade serve", "web")
    assert isinstance(exc.value, LiqcascadeError) and isinstance(exc.value, ImportError)
    assert require("x", "json", extra="web").__name__ == "json"


def test_testing_module_without_hypothesis_fails_with_the_line(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    monkeypatch.delitem(sys.modules, "liqcascade.testing", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'liqcascade\[testing\]'"):
        importlib.import_module("liqcascade.testing")
    monkeypatch.delitem(sys.modules, "liqcascade.testing", raising=False)


def test_serve_without_web_extra_prints_one_line(tmp_path) -> None:
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.argv = ['liqcascade', 'serve', '--port', '0'];"
        "from liqcascade.cli import main; main()"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [
        "error: liqcascade serve needs the web extra: pip install 'liqcascade[web]'"
    ]


def test_margin_table_demo_runs_from_another_directory(tmp_path) -> None:
    code = "import sys; sys.argv = ['liqcascade', 'demo', '--margin-table']; from liqcascade.cli import main; main()"
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert r.returncode == 0, r.stderr
    assert "book_example.csv" in r.stdout and "not found" not in r.stdout + r.stderr


def test_extras_cover_every_optional_import() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert {"web", "plot", "dask", "fetch", "garch", "testing", "all", "dev"} <= set(extras)
    core = " ".join(project["dependencies"])
    for heavy in ("fastapi", "uvicorn", "dask", "ccxt", "arch", "matplotlib", "plotly", "pandas"):
        assert heavy not in core, heavy
    assert project["requires-python"] == ">=3.11"
    assert "liqcascade[web,plot,dask,fetch,garch]" in extras["all"]
