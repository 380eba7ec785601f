"""Where Debian's chromium is and how it is launched headless, for the browser tests and the
wheel smoke test (.ci/smoke_web.py). No test-framework imports, so a plain venv can use it."""

from __future__ import annotations

import os
import shutil

#: Chromium flags for a headless run on a machine without a display or network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> str | None:
    """Debian's chromium (``make test`` installs it when missing), or None."""
    for cand in (
        os.environ.get("LIQCASCADE_CHROMIUM"),
        "/usr/bin/chromium",
        shutil.which("chromium"),
    ):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None
