"""Browser test of the cascade simulator page: Debian chromium via Playwright against a live server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from web_support import (
    chromium_fixture,  # noqa: F401 - pytest fixture "chromium"
    dom_value,
    figure_data,
    new_page,
    open_ready_page,
    running_server,
    screenshot,
    submit_and_wait,
    write_btc_book,
)

pytestmark = pytest.mark.browser

pytest.importorskip("liqcascade.engine.static", reason="static cascade engine not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from liqcascade.web import create_app

    data = tmp_path_factory.mktemp("webdata")
    (data / "books").mkdir()
    write_btc_book(data / "books" / "btc_book.csv", n=2000, seed=7)
    with running_server(create_app(data_dir=data)) as srv:
        yield srv


def test_cascade_page_shows_api_numbers(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/cascade", errors)
    page.select_option('[data-testid="book-select"]', "data:books/btc_book.csv")
    page.fill('[data-testid="initial_price"]', "121000")
    page.fill('[data-testid="shock"]', "-0.06")
    page.select_option('[data-testid="impact_model"]', "linear")
    page.fill('[data-testid="depth_1pct_base"]', "40")
    submit_and_wait(page, "cascade-form")

    api = httpx.post(
        server.url + "/api/cascade",
        json={
            "book": {"source": "data", "name": "books/btc_book.csv"},
            "initial_price": 121000,
            "shock": -0.06,
            "impact": {"model": "linear", "depth_1pct_base": 40},
            "ladder": True,
        },
        timeout=60,
    ).json()
    res = api["result"]
    assert res["liquidated_count"] > 0
    for key in (
        "initial_price",
        "shocked_price",
        "final_price",
        "cascade_multiplier",
        "liquidated_count",
        "liquidated_notional",
    ):
        assert dom_value(page, f"kpi-{key}") == pytest.approx(res[key], rel=1e-12), key

    traces = figure_data(page, "chart-ladder-price")
    assert traces[0]["x"] == pytest.approx(api["ladder"]["shock"])
    assert traces[0]["y"] == pytest.approx(api["ladder"]["final_price"], rel=1e-12)
    liq = figure_data(page, "chart-ladder-liq")
    assert liq[0]["y"] == pytest.approx(api["ladder"]["liquidated_notional"], rel=1e-12)
    # the chosen shock is on the ladder (0 .. 2x shock): its point equals the headline result
    i = api["ladder"]["shock"].index(-0.06)
    assert traces[0]["y"][i] == pytest.approx(res["final_price"], rel=1e-12)
    screenshot(page, "cascade")
    assert not errors, errors


def test_cascade_page_shows_validation_error(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/cascade", errors)
    page.fill('[data-testid="shock"]', "-1.5")
    page.click('[data-testid="run"]')
    page.wait_for_function("document.body.dataset.state === 'error'")
    assert "shock" in page.text_content('[data-testid="status"]')


def test_cascade_page_upload_then_run(server, chromium, tmp_path: Path) -> None:
    errors: list[str] = []
    book = tmp_path / "mine.csv"
    write_btc_book(book, n=500, seed=11)
    page = open_ready_page(chromium, server.url + "/cascade", errors)
    page.set_input_files('[data-testid="book-upload"]', str(book))
    page.wait_for_function(
        "document.querySelector('[data-testid=status]').textContent.startsWith('uploaded')"
    )
    selected = page.eval_on_selector('[data-testid="book-select"]', "el => el.value")
    assert selected.startswith("data:uploads/") and selected.endswith(".csv")
    submit_and_wait(page, "cascade-form")
    assert dom_value(page, "kpi-initial_price") == 121000.0


@pytest.mark.skipif(
    __import__("importlib").util.find_spec("liqcascade.engine.dynamic") is None,
    reason="dynamic engine not installed",
)
def test_cascade_page_dynamic_mode_on_shipped_example(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/cascade", errors)
    options = page.eval_on_selector_all(
        '[data-testid="book-select"] option', "els => els.map(e => e.value)"
    )
    assert "example:positions_btc.csv" in options
    page.select_option('[data-testid="book-select"]', "example:positions_btc.csv")
    page.select_option('[data-testid="mode"]', "dynamic")
    page.fill('[data-testid="shock"]', "-0.07")
    page.fill('[data-testid="depth_1pct_base"]', "300")
    page.fill('[data-testid="seed"]', "5")
    submit_and_wait(page, "cascade-form")
    jobs = [j for j in httpx.get(server.url + "/api/jobs").json() if j["kind"] == "cascade-dynamic"]
    res = httpx.get(server.url + f"/api/jobs/{jobs[-1]['id']}").json()["result"]
    assert res["seed"] == 5 and res["summary"]["seed"] == 5
    summary = res["summary"]
    assert summary["liquidated_count"] > 0
    for key in ("final_price", "cascade_multiplier", "liquidated_count", "liquidated_notional"):
        assert dom_value(page, f"kpi-{key}") == pytest.approx(summary[key], rel=1e-12), key
    # DynamicResult.plot(): the price path, then each side's liquidated notional per step
    path = figure_data(page, "chart-price-path")
    assert path[0]["x"] == pytest.approx(res["timeline"]["time_s"])
    assert path[0]["y"] == pytest.approx(res["timeline"]["price"], rel=1e-12)
    assert min(path[0]["y"]) <= summary["shocked_price"] + 1e-6
    assert path[1]["type"] == "bar"
    assert sum(path[1]["y"]) == pytest.approx(
        sum(res["timeline"]["liquidated_notional_long"]), rel=1e-12
    )
    losses = figure_data(page, "chart-losses")
    by_name = {t["name"]: t["y"] for t in losses}
    for col, values in res["losses"].items():
        if col != "venue":
            assert by_name[col] == pytest.approx(values, rel=1e-12, abs=1e-9), col
    screenshot(page, "cascade-dynamic")
    assert not errors, errors


def test_index_lists_the_pages_that_exist(server, chromium) -> None:
    errors: list[str] = []
    page = new_page(chromium, errors)
    page.goto(server.url + "/")
    pages = httpx.get(server.url + "/api/health").json()["pages"]
    links = page.eval_on_selector_all(
        '[data-testid^="index-"]', "els => els.map(e => e.getAttribute('href'))"
    )
    assert links == ["/" + p for p in pages]
    nav = page.eval_on_selector_all("header nav a", "els => els.map(e => e.getAttribute('href'))")
    assert nav == links
    # plotly is served by the app itself: the page never asks another host
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(server.url + "/cascade")
    page.wait_for_function("document.body.dataset.ready === '1' && typeof Plotly === 'object'")
    assert requested and all(
        u.startswith(server.url) or u.startswith("data:") for u in requested
    ), requested
    page.goto(server.url + "/")
    screenshot(page, "index")
    assert not errors, errors
