"""Browser test of the policy comparison page (Debian chromium via Playwright, live server)."""

from __future__ import annotations

import httpx
import pytest

from web_support import (
    chromium_fixture,  # noqa: F401 - pytest fixture "chromium"
    figure_data,
    open_ready_page,
    screenshot,
    server_fixture,  # noqa: F401 - pytest fixture "server"
    submit_and_wait,
)

pytestmark = pytest.mark.browser

pytest.importorskip("liqcascade.policy", reason="policy lab not installed")


def test_policy_page_rejects_bad_vary(server, chromium) -> None:
    page = open_ready_page(chromium, server.url + "/policy", [])
    page.fill('[data-testid="vary1"]', "max_leverage=lots")
    page.click('[data-testid="run"]')
    page.wait_for_function("document.body.dataset.state === 'error'")
    assert "vary[0]" in page.text_content('[data-testid="status"]')


@pytest.mark.slow
def test_policy_page_table_and_bars_match_job(server, chromium) -> None:
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/policy", errors)
    page.select_option('[data-testid="file"]', "policy_scenario_crash.toml")
    page.fill('[data-testid="vary1"]', "max_leverage=125,20")
    page.fill('[data-testid="paths"]', "1")
    page.fill('[data-testid="seed"]', "11")
    page.fill('[data-testid="n_positions"]', "2000")
    submit_and_wait(page, "policy-form", timeout_ms=300_000)
    jobs = [j for j in httpx.get(server.url + "/api/jobs").json() if j["kind"] == "policy"]
    res = httpx.get(server.url + f"/api/jobs/{jobs[-1]['id']}").json()["result"]
    t = res["table"]
    assert t["variant"] == ["baseline", "max_leverage=125", "max_leverage=20"]
    assert res["seed"] == 11 and res["paths"] == 1
    for i, _ in enumerate(t["variant"]):
        cell = page.get_attribute(
            f'[data-testid="table-policy-{i}-liquidated_notional_quote"]', "data-value"
        )
        assert float(cell) == pytest.approx(t["liquidated_notional_quote"][i], rel=1e-12)
    for col in res["chart_columns"]:
        bars = figure_data(page, f"chart-{col}")
        assert bars[0]["x"] == t["variant"]
        want = [v if v is not None else None for v in t[col]]
        assert [None if y is None else pytest.approx(y, rel=1e-12) for y in bars[0]["y"]] == want
    # a 20x cap cannot liquidate more than no cap on the same paths here
    assert t["liquidated_notional_quote"][2] <= t["liquidated_notional_quote"][0]
    screenshot(page, "policy")
    assert not errors, errors
