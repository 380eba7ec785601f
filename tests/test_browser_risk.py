"""Browser test of the risk calculator page (Debian chromium via Playwright, live server)."""

from __future__ import annotations

import httpx
import pytest

from web_support import (
    chromium_fixture,  # noqa: F401 - pytest fixture "chromium"
    dom_value,
    figure_data,
    open_ready_page,
    screenshot,
    server_fixture,  # noqa: F401 - pytest fixture "server"
    submit_and_wait,
)

pytestmark = pytest.mark.browser

pytest.importorskip("liqcascade.risk", reason="risk tools not installed")


def fill(page, values: dict[str, str]) -> None:
    for k, v in values.items():
        page.fill(f'[data-testid="{k}"]', v)


def test_risk_page_gbm_matches_api(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/risk", errors)
    page.select_option('[data-testid="venue"]', "binance_usdm")
    page.select_option('[data-testid="side"]', "short")
    fill(
        page,
        {
            "entry_price": "118000",
            "size_base": "2",
            "leverage": "25",
            "vol_annual": "0.55",
            "horizon_days": "3",
            "target_prob": "0.02",
        },
    )
    submit_and_wait(page, "risk-form")
    api = httpx.post(
        server.url + "/api/risk",
        json={
            "venue": "binance_usdm",
            "symbol": "BTCUSDT",
            "side": "short",
            "entry_price": 118000,
            "size_base": 2,
            "leverage": 25,
            "vol_annual": 0.55,
            "horizon_days": 3,
            "drift_annual": 0,
            "target_prob": 0.02,
        },
        timeout=60,
    ).json()
    pos, prob, safe = api["position"], api["probability"], api["safe_size"]
    assert pos["liquidation_price"] > 118000  # a short is liquidated above entry
    assert dom_value(page, "kpi-liquidation_price") == pytest.approx(
        pos["liquidation_price"], rel=1e-12
    )
    assert dom_value(page, "kpi-distance_frac") == pytest.approx(pos["distance_frac"], rel=1e-12)
    assert dom_value(page, "kpi-probability") == pytest.approx(prob["probability"], rel=1e-12)
    assert dom_value(page, "kpi-safe_size_base") == pytest.approx(safe["size_base"], rel=1e-12)
    assert safe["probability"] <= 0.02 + 1e-9
    horizon = figure_data(page, "chart-horizon")
    assert horizon[0]["x"] == pytest.approx(api["horizon_curve"]["horizon_days"])
    assert horizon[0]["y"] == pytest.approx(api["horizon_curve"]["probability"], rel=1e-12)
    assert horizon[1]["y"][0] == pytest.approx(prob["probability"], rel=1e-12)
    levels = figure_data(page, "chart-levels")
    assert levels[0]["y"][2] == pytest.approx(pos["liquidation_price"], rel=1e-12)
    assert levels[0]["y"][3] == pytest.approx(safe["liquidation_price"], rel=1e-12)
    screenshot(page, "risk")
    assert not errors, errors


def test_risk_page_jump_model_runs_as_job(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/risk", errors)
    page.select_option('[data-testid="model"]', "jump")
    fill(page, {"n_paths": "5000", "seed": "7"})
    submit_and_wait(page, "risk-form")
    jobs = httpx.get(server.url + "/api/jobs").json()
    assert jobs and jobs[-1]["kind"] == "risk" and jobs[-1]["status"] == "done"
    result = httpx.get(server.url + f"/api/jobs/{jobs[-1]['id']}").json()["result"]
    assert result["probability"]["seed"] == 7 and result["probability"]["n_paths"] == 5000
    assert dom_value(page, "kpi-probability") == pytest.approx(result["probability"]["probability"])
    assert dom_value(page, "kpi-ci_low") == pytest.approx(result["probability"]["ci_low"])
    chart = figure_data(page, "chart-horizon")
    assert chart[0]["y"][0] == pytest.approx(result["probability"]["probability"])
    screenshot(page, "risk-jump")
    assert not errors, errors


def test_risk_page_shows_venue_limit_error(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/risk", errors)
    fill(page, {"leverage": "900"})
    page.click('[data-testid="run"]')
    page.wait_for_function("document.body.dataset.state === 'error'")
    assert "leverage" in page.text_content('[data-testid="status"]')
