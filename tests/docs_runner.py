"""Run the fenced code blocks of README.md and docs/*.md.

Convention (summarised for contributors in CONTRIBUTING.md; tests/test_docs_blocks.py runs it):

- Every fenced block names its language. ``bash``, ``sh``, ``shell`` and ``console`` blocks are
  shell commands; ``python`` blocks are Python (a block with ``>>>`` prompts runs as a doctest,
  so its printed output is checked too). Any other tag (``text``, ``toml``, ``json``, ...) is
  shown, not run. A ``console`` block runs only its ``$ `` lines (the rest is output).
- A block that must not run carries, on the line just before its opening fence, the marker
  ``<!-- docs-test: skip (reason) -->``. The reason is required.
- Shell blocks run with ``bash -e -o pipefail`` in a fresh working directory that mirrors the
  repository's layout (``examples/``, ``src/``, ``tests/`` link to the checkout, so the shipped
  data in ``src/liqcascade/sample_data`` and ``src/liqcascade/examples`` is found by the paths the
  docs print), with the repository's ``.venv/bin`` first on ``PATH`` and a private
  ``$LIQCASCADE_DB`` and ``$XDG_DATA_HOME`` (nothing touches the user's store). Files a block
  writes stay in that directory.
- Python blocks run the same way, in-process, each in a fresh namespace.
"""

from __future__ import annotations

import doctest
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"

SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
PYTHON_LANGS = frozenset({"python", "py", "pycon"})
#: Tags of blocks that are shown, not run.
SHOWN_LANGS = frozenset({"text", "toml", "json", "csv", "ini", "yaml", "html", "diff"})

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_SKIP = re.compile(r"^<!--\s*docs-test:\s*skip\s*\((?P<reason>[^)]+)\)\s*-->\s*$")
_MARKER = re.compile(r"<!--\s*docs-test")

#: Links made in each working directory (name -> path in the checkout).
LINKS = ("examples", "src", "tests")
#: Seconds one block may run before it is reported as hanging.
TIMEOUT_S = 600


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts (1-based line of the opening fence) and what it holds."""

    path: Path
    line: int
    lang: str
    text: str
    skip_reason: str | None = None

    @property
    def name(self) -> str:
        return f"{self.path.relative_to(ROOT).as_posix()}:{self.line}"

    @property
    def runs(self) -> bool:
        return self.skip_reason is None and self.lang in SHELL_LANGS | PYTHON_LANGS


def doc_files() -> list[Path]:
    """README.md and every page in docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def extract_blocks(path: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of a Markdown file, in order.

    Raises ValueError naming ``file:line`` for an unclosed fence or a malformed skip marker.
    """
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            if _MARKER.search(lines[i]) and not _SKIP.match(lines[i].strip()):
                raise ValueError(
                    f"{path}:{i + 1}: malformed marker {lines[i].strip()!r}; expected "
                    "'<!-- docs-test: skip (reason) -->'"
                )
            i += 1
            continue
        fence = m.group("fence")
        lang = m.group("info").strip().split(" ")[0].lower() if m.group("info").strip() else ""
        start = i
        body: list[str] = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence))
            and lines[i].strip().strip(fence[0]) == ""
        ):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            raise ValueError(f"{path}:{start + 1}: fenced block is never closed")
        skip = None
        j = start - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            sm = _SKIP.match(lines[j].strip())
            if sm:
                skip = sm.group("reason").strip()
        blocks.append(Block(path, start + 1, lang, "\n".join(body) + "\n", skip))
        i += 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for p in doc_files() for b in extract_blocks(p)]


def make_workdir(tmp: Path) -> tuple[Path, dict[str, str]]:
    """A working directory mirroring the checkout, and the environment blocks run with."""
    work = tmp / "work"
    work.mkdir()
    for name in LINKS:
        (work / name).symlink_to(ROOT / name, target_is_directory=True)
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["LIQCASCADE_DB"] = str(tmp / "store" / "liqcascade.duckdb")
    env["XDG_DATA_HOME"] = str(tmp / "xdg-data")
    env["MPLBACKEND"] = "Agg"
    env["COLUMNS"] = "120"
    env.pop("VIRTUAL_ENV", None)
    (tmp / "store").mkdir()
    return work, env


def console_commands(text: str) -> str:
    """The commands of a ``console`` block: its ``$ `` lines and their ``\\`` continuations."""
    out: list[str] = []
    cont = False
    for line in text.splitlines():
        if line.startswith("$ ") or cont:
            out.append(line[2:] if not cont else line)
            cont = line.rstrip().endswith("\\")
    return "\n".join(out) + "\n"


def run_shell(block: Block, work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run a shell block in its own process group; on timeout the whole group is killed (a
    server a block starts must not outlive it) and the result has returncode -9."""
    script = console_commands(block.text) if block.lang == "console" else block.text
    args = ["bash", "-e", "-o", "pipefail", "-c", script]
    with subprocess.Popen(
        args,
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, err = proc.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            err += f"\n(killed after {TIMEOUT_S} s)"
        finally:
            try:  # background children the block left behind
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def run_python(block: Block, work: Path, env: dict[str, str]) -> None:
    """Execute a Python block in ``work`` with ``env`` set (restored afterwards).

    Raises the block's own exception, or AssertionError for a doctest whose output differs.
    """
    saved_env, saved_cwd, saved_path = dict(os.environ), os.getcwd(), list(sys.path)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(work)
    try:
        ns: dict[str, object] = {"__name__": "__docs__"}
        if any(line.lstrip().startswith(">>>") for line in block.text.splitlines()):
            test = doctest.DocTestParser().get_doctest(block.text, ns, block.name, block.name, 0)
            runner = doctest.DocTestRunner(
                optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
            )
            report: list[str] = []
            runner.run(test, out=report.append)
            if runner.failures:
                raise AssertionError("".join(report))
        else:
            exec(compile(block.text, block.name, "exec"), ns)  # noqa: S102 - the docs' own code
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        sys.path[:] = saved_path
