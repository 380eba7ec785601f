"""Helpers for the web tests: a real uvicorn server in a thread, and Debian chromium via Playwright.

Imported by tests/test_web_*.py and tests/test_browser_*.py (not a conftest, so it stays in the
web owner's files).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from chromium import CHROMIUM_ARGS, chromium_path  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOT_DIR = ROOT / "test-output" / "screenshots"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerThread:
    """uvicorn serving ``app`` on 127.0.0.1:<free port> in a daemon thread."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(self.config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn-test", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 20.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn thread died while starting")
            if time.monotonic() > deadline:
                raise TimeoutError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextlib.contextmanager
def running_server(app: Any) -> Iterator[ServerThread]:
    srv = ServerThread(app).start()
    try:
        yield srv
    finally:
        srv.stop()


@contextlib.contextmanager
def chromium_browser() -> Iterator[Any]:
    """A headless chromium driven by Playwright's sync API; skips if chromium is absent."""
    exe = chromium_path()
    if exe is None:
        pytest.skip("Debian chromium not found at /usr/bin/chromium (run `make chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any, errors: list[str]) -> Any:
    """A page (1400x1000) that records console errors and uncaught exceptions into ``errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console.{msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.set_default_timeout(60_000)
    return page


def open_ready_page(browser: Any, url: str, errors: list[str]) -> Any:
    """A new page (see :func:`new_page`) at ``url``, returned once its script has set
    ``document.body.dataset.ready = '1'``."""
    page = new_page(browser, errors)
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready === '1'")
    return page


def screenshot(page: Any, name: str) -> Path:
    """Write a full-page screenshot to test-output/screenshots/<name>.png."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def submit_and_wait(page: Any, form_testid: str, timeout_ms: int = 120_000) -> None:
    """Click the form's submit button and wait until the page reports done (or error)."""
    page.evaluate("document.body.dataset.state = ''")
    page.click(f'[data-testid="{form_testid}"] button[type=submit]')
    page.wait_for_function(
        "['done', 'error'].includes(document.body.dataset.state)", timeout=timeout_ms
    )
    state = page.evaluate("document.body.dataset.state")
    if state != "done":
        status = page.text_content('[data-testid="status"]')
        raise AssertionError(f"page ended in state {state!r}: {status}")


def figure_data(page: Any, testid: str) -> list[dict[str, Any]]:
    """The plotly traces of the graph div with this data-testid (x/y/z arrays as lists)."""
    return page.evaluate(
        """(tid) => {
            const el = document.querySelector(`[data-testid="${tid}"]`);
            if (!el || !el.data) return null;
            return el.data.map(t => ({name: t.name, type: t.type,
                x: t.x ? Array.from(t.x) : null, y: t.y ? Array.from(t.y) : null,
                z: t.z ? Array.from(t.z, r => Array.from(r)) : null}));
        }""",
        testid,
    )


def dom_value(page: Any, testid: str) -> float | None:
    """The exact number the page shows in the element with this data-testid (data-value)."""
    raw = page.get_attribute(f'[data-testid="{testid}"]', "data-value")
    if raw is None or raw == "":
        return None
    if raw in ("true", "false"):
        return float(raw == "true")
    return float(raw)


def sample_files_for_store() -> list[str]:
    """The shipped files the map and replay pages need (``liqcascade.web.common.sample_store_files``:
    BTCUSDT 1m klines, the bookDepth of 10 Oct, the 5m price klines of the week before)."""
    from liqcascade.web.common import sample_store_files

    return [str(p) for p in sample_store_files()]


def build_sample_store(db_path: Path) -> Path:
    """Ingest :func:`sample_files_for_store` into a DuckDB store at ``db_path``."""
    from liqcascade.data import ingest_paths

    report = ingest_paths(sample_files_for_store(), db=str(db_path))
    assert report.ok, report.failed
    return db_path


def write_btc_book(path: Path, *, n: int, seed: int) -> None:
    """Write a seeded isolated-margin BTCUSDT book CSV of ``n`` positions: entries 105k-125k
    quote, sizes lognormal (median 0.14 BTC), leverage 5/10/20/50x, both sides."""
    rng = np.random.default_rng(seed)
    side = rng.choice(np.array([1, -1]), n)
    pl.DataFrame(
        {
            "account_id": np.arange(n),
            "venue": "binance_usdm",
            "symbol": "BTCUSDT",
            "side": side,
            "size_base": rng.lognormal(-2.0, 1.0, n),
            "entry_price": rng.uniform(105_000, 125_000, n),
            "leverage": rng.choice(np.array([5.0, 10.0, 20.0, 50.0]), n),
        }
    ).write_csv(path)


# ---------------------------------------------------------------------------- shared fixtures
# Import them into a test module (``from web_support import chromium_fixture``) to have the
# fixture ``chromium`` there; each module gets its own instance (scope "module").
@pytest.fixture(scope="module", name="chromium")
def chromium_fixture() -> Iterator[Any]:
    """One headless Debian chromium for the module's tests."""
    with chromium_browser() as b:
        yield b


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """A live server of ``liqcascade.web.create_app`` on an empty data folder."""
    from liqcascade.web import create_app

    with running_server(create_app(data_dir=tmp_path_factory.mktemp("webdata"))) as srv:
        yield srv
