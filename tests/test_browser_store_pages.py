"""Browser tests of the pages that read the market-data store: liquidation map and replay."""

from __future__ import annotations

import httpx
import pytest

from web_support import (
    build_sample_store,
    chromium_fixture,  # noqa: F401 - pytest fixture "chromium"
    dom_value,
    figure_data,
    open_ready_page,
    running_server,
    screenshot,
    submit_and_wait,
)

pytestmark = pytest.mark.browser

pytest.importorskip("liqcascade.estimate", reason="liquidation map not installed")
pytest.importorskip("liqcascade.data", reason="data store not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    from liqcascade.web import create_app

    base = tmp_path_factory.mktemp("webstore")
    db = build_sample_store(base / "market.duckdb")
    with running_server(create_app(data_dir=base / "data", db_path=db)) as srv:
        yield srv


def wait_last_job(url: str, kind: str) -> dict:
    jobs = [j for j in httpx.get(url + "/api/jobs").json() if j["kind"] == kind]
    assert jobs, f"no {kind} job was started"
    job = httpx.get(url + f"/api/jobs/{jobs[-1]['id']}").json()
    assert job["status"] == "done", job
    return job


def test_map_page_heatmap_matches_api(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/map", errors)
    page.fill('[data-testid="start"]', "2025-10-10T14:00")
    page.fill('[data-testid="end"]', "2025-10-10T23:30")
    page.fill('[data-testid="snapshots"]', "5")
    page.fill('[data-testid="lookback_hours"]', "12")
    submit_and_wait(page, "map-form")
    job = wait_last_job(server.url, "map")
    assert job["params"]["snapshots"] == 5
    m = job["result"]["markets"][0]
    assert len(m["times"]) == 5 and m["times"][0] == "2025-10-10T14:00:00Z"
    traces = figure_data(page, "chart-heatmap-0")
    heat, line = traces[0], traces[1]
    assert heat["type"] == "heatmap"
    assert heat["x"] == m["times"]
    assert heat["y"] == pytest.approx(m["price_levels"])
    assert heat["z"] == [pytest.approx(row) for row in m["notional_quote"]]
    assert line["y"] == pytest.approx(m["price_line"]["close"])
    # the heatmap's last column sums to the long + short notional shown on the page
    last_col = sum(row[-1] for row in heat["z"])
    assert last_col == pytest.approx(
        dom_value(page, "kpi-long-0") + dom_value(page, "kpi-short-0"), rel=1e-9
    )
    assert dom_value(page, "kpi-ref-0") == pytest.approx(m["reference_price"][-1])
    # the same request through the API gives the same numbers (deterministic estimator)
    start = httpx.post(server.url + "/api/map", json={**job["params"]}).json()
    for _ in range(600):
        again = httpx.get(server.url + f"/api/jobs/{start['job_id']}").json()
        if again["status"] in ("done", "failed"):
            break
        page.wait_for_timeout(200)
    assert again["status"] == "done", again
    # (equal to the last bits: the estimator's polars aggregations may sum in another order)
    for row_a, row_b in zip(
        again["result"]["markets"][0]["notional_quote"], m["notional_quote"], strict=True
    ):
        assert row_a == pytest.approx(row_b, rel=1e-12)
    screenshot(page, "map")
    assert not errors, errors


def test_map_page_reports_missing_data(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/map", errors)
    page.fill('[data-testid="start"]', "2024-01-01T00:00")
    page.fill('[data-testid="end"]', "2024-01-02T00:00")
    page.click('[data-testid="run"]')
    page.wait_for_function("document.body.dataset.state === 'error'", timeout=120_000)
    assert "no stored 1m trade klines" in page.text_content('[data-testid="status"]')


@pytest.mark.slow
def test_replay_page_model_vs_observed(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/replay", errors)
    page.fill('[data-testid="date"]', "2025-10-10")
    page.fill('[data-testid="max_evals"]', "20")
    submit_and_wait(page, "replay-form", timeout_ms=300_000)
    res = wait_last_job(server.url, "replay")["result"]
    obs, model = res["observed"], res["model"]
    paths = figure_data(page, "chart-paths")
    assert paths[0]["y"] == pytest.approx(obs["path"]["low"])
    assert paths[1]["y"] == pytest.approx(model["low"])
    assert dom_value(page, "kpi-observed_low") == pytest.approx(obs["low_price"])
    assert dom_value(page, "kpi-observed_low") == pytest.approx(min(obs["path"]["low"]))
    assert dom_value(page, "kpi-model_low") == pytest.approx(min(model["low"]))
    liq = figure_data(page, "chart-liq")
    assert sum(liq[0]["y"]) == pytest.approx(dom_value(page, "kpi-model_liq_long"), rel=1e-9)
    rows = page.locator('[data-testid="table-compare"] tbody tr').count()
    assert rows == len(res["table"]["metric"]) and rows > 3
    report = httpx.get(server.url + f"/api/replay/reports/{res['report']}")
    assert report.status_code == 200 and "<html" in report.text.lower()
    screenshot(page, "replay")
    assert not errors, errors
