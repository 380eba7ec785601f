"""Every shell and Python block in README.md and docs/*.md runs (convention: tests/docs_runner.py)."""

from __future__ import annotations

import glob
import re
from pathlib import Path

import pytest

from docs_runner import (
    PYTHON_LANGS,
    ROOT,
    SHELL_LANGS,
    SHOWN_LANGS,
    Block,
    all_blocks,
    console_commands,
    doc_files,
    extract_blocks,
    make_workdir,
    run_python,
    run_shell,
)

BLOCKS = all_blocks()
RUNNABLE = [b for b in BLOCKS if b.runs]


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.name for b in RUNNABLE])
def test_block_runs(block, tmp_path):
    work, env = make_workdir(tmp_path)
    if block.lang in SHELL_LANGS:
        proc = run_shell(block, work, env)
        assert proc.returncode == 0, (
            f"{block.name}: exit {proc.returncode}\n--- block ---\n{block.text}"
            f"--- stdout (tail) ---\n{proc.stdout[-3000:]}\n--- stderr (tail) ---\n"
            f"{proc.stderr[-3000:]}"
        )
    else:
        run_python(block, work, env)


def test_every_block_names_its_language():
    known = SHELL_LANGS | PYTHON_LANGS | SHOWN_LANGS
    bad = [f"{b.name} ({b.lang or 'no tag'})" for b in BLOCKS if b.lang not in known]
    assert not bad, f"fenced blocks need a tag from {sorted(known)}: {bad}"


def test_skips_are_few_and_explained():
    skipped = [b for b in BLOCKS if b.skip_reason is not None]
    assert all(len(b.skip_reason.split()) >= 2 for b in skipped), [b.name for b in skipped]
    # Most runnable-looking blocks run; a skip is an exception with its reason beside it.
    assert len(skipped) <= 6, [f"{b.name}: {b.skip_reason}" for b in skipped]
    assert len(RUNNABLE) >= 12


def test_extractor_reads_tags_markers_and_lines(tmp_path):
    md = (
        "# t\n\n```bash\necho one\n```\n\n<!-- docs-test: skip (needs a cluster) -->\n"
        "```sh\nexit 1\n```\n\n```text\nnot run\n```\n\n````python\n```\nx = 1\n````\n"
    )
    p = tmp_path / "x.md"
    blocks = extract_blocks(p, md)
    assert [(b.line, b.lang, b.skip_reason) for b in blocks] == [
        (3, "bash", None),
        (8, "sh", "needs a cluster"),
        (12, "text", None),
        (16, "python", None),
    ]
    assert blocks[3].text == "```\nx = 1\n"
    with pytest.raises(ValueError, match=r"x.md:2: malformed marker"):
        extract_blocks(p, "a\n<!-- docs-test: skp -->\n")
    with pytest.raises(ValueError, match=r"x.md:1: fenced block is never closed"):
        extract_blocks(p, "```bash\necho\n")


def test_console_runs_only_prompt_lines():
    text = "$ echo a \\\n  b\na b\n$ true\n"
    assert console_commands(text) == "echo a \\\n  b\ntrue\n"


def test_failing_shell_block_is_reported(tmp_path):
    work, env = make_workdir(tmp_path)
    block = Block(Path(__file__), 1, "bash", "liqcascade --version\nfalse\necho never\n")
    proc = run_shell(block, work, env)
    assert proc.returncode != 0
    assert "never" not in proc.stdout
    assert env["LIQCASCADE_DB"].startswith(str(tmp_path))


def test_prompt_blocks_run_as_doctests(tmp_path):
    work, env = make_workdir(tmp_path)
    good = Block(
        Path(__file__), 1, "python", ">>> from liqcascade import __version__\n>>> 1 + 1\n2\n"
    )
    run_python(good, work, env)
    bad = Block(Path(__file__), 9, "python", ">>> 1 + 1\n3\n")
    with pytest.raises(AssertionError, match="Expected:"):
        run_python(bad, work, env)


_REPO_PATH = re.compile(
    r"(?<![\w/.~$-])((?:src|examples|tests|benchmarks|docs|sample_data)/[\w./*-]*[\w*])"
)


def test_every_path_a_doc_names_exists():
    # `sample_data/...` alone means the package's folder (src/liqcascade/sample_data).
    missing = []
    for doc in [ROOT / "CONTRIBUTING.md", *doc_files()]:
        for i, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), 1):
            for m in _REPO_PATH.finditer(line):
                rel = m.group(1)
                base = ROOT / "src" / "liqcascade" if rel.startswith("sample_data/") else ROOT
                found = glob.glob(str(base / rel)) if "*" in rel else (base / rel).exists()
                if not found:
                    missing.append(f"{doc.relative_to(ROOT)}:{i}: {rel}")
            # nothing outside the checkout (a developer machine's folders are not the user's)
            for bad in ("../shared/", "/work/"):
                if bad in line:
                    missing.append(f"{doc.relative_to(ROOT)}:{i}: {bad}")
    assert not missing, missing
