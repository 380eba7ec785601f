"""Every page's default example works on the first click, and numbers read as people read them.

Debian chromium via Playwright against a live server whose store holds the shipped sample data
(the map and replay pages read it). Each page is opened and its Run button clicked with nothing
changed: a result must appear and the status must show no error.
"""

from __future__ import annotations

import httpx
import pytest

from web_support import (
    build_sample_store,
    chromium_fixture,  # noqa: F401 - pytest fixture "chromium"
    dom_value,
    open_ready_page,
    running_server,
    screenshot,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip("liqcascade.data", reason="data store not installed")
    from liqcascade.web import create_app

    base = tmp_path_factory.mktemp("webdefaults")
    db = build_sample_store(base / "market.duckdb")
    with running_server(create_app(data_dir=base / "data", db_path=db)) as srv:
        yield srv


#: How each page shows that a result arrived: an element whose data-value is set, or a table.
RESULT_PROBES = {
    "cascade": "[data-testid=kpi-final_price]",
    "risk": "[data-testid=kpi-probability]",
    "map": "[data-testid=kpi-ref-0]",
    "replay": "[data-testid=kpi-model_low]",
    "policy": "[data-testid=table-policy] tbody tr",
}

#: Pages whose default run takes minutes on two cores (fits and many simulated paths).
SLOW_DEFAULTS = {"replay", "policy"}


def click_run_with_defaults(page, timeout_ms: int) -> tuple[str, str]:
    """Click the page's Run button once; return (final state, status text)."""
    page.evaluate("document.body.dataset.state = ''")
    page.click('[data-testid="run"]')
    page.wait_for_function(
        "['done', 'error'].includes(document.body.dataset.state)", timeout=timeout_ms
    )
    return page.evaluate("document.body.dataset.state"), page.text_content('[data-testid="status"]')


@pytest.mark.parametrize(
    "slug",
    [
        pytest.param(s, marks=pytest.mark.slow) if s in SLOW_DEFAULTS else s
        for s in ("cascade", "risk", "map", "replay", "policy")
    ],
)
def test_default_example_works_on_first_click(server, chromium, slug: str) -> None:
    pages = httpx.get(server.url + "/api/health").json()["pages"]
    if slug not in pages:
        pytest.skip(f"page {slug} not installed")
    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/" + slug, errors)
    state, status = click_run_with_defaults(page, timeout_ms=900_000)
    assert state == "done", status
    assert "error" not in (status or "").lower()
    probe = RESULT_PROBES[slug]
    if probe.endswith("tr"):
        assert page.locator(probe).count() > 0
    else:
        raw = page.get_attribute(probe, "data-value")
        assert raw not in (None, ""), f"{slug}: no result in {probe}"
        text = page.text_content(probe)
        assert text and text.strip() not in ("–", "-", "n/a"), text
    screenshot(page, f"default-{slug}")
    assert not errors, errors


def test_cascade_default_is_one_market_of_the_default_book(server, chromium) -> None:
    from liqcascade.fmt import count, money, price, ratio

    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/cascade", errors)
    books = httpx.get(server.url + "/api/books").json()
    book = page.eval_on_selector('[data-testid="book-select"]', "el => el.value")
    assert book == "example:" + books["default"]
    market = page.eval_on_selector('[data-testid="market"]', "el => el.value")
    info = httpx.get(
        server.url + "/api/books/info", params={"source": "example", "name": books["default"]}
    ).json()
    assert market == "|".join(info["markets"][0])
    state, status = click_run_with_defaults(page, 120_000)
    assert state == "done", status
    # the page shows the library's numbers, formatted as liqcascade.fmt formats them
    venue, symbol = market.split("|")
    form = {
        k: page.input_value(f'[data-testid="{k}"]')
        for k in ("initial_price", "shock", "depth_1pct_base")
    }
    api = httpx.post(
        server.url + "/api/cascade",
        json={
            "book": {"source": "example", "name": books["default"]},
            "venue": venue,
            "symbol": symbol,
            "initial_price": float(form["initial_price"]),
            "shock": float(form["shock"]),
            "impact": {"model": "linear", "depth_1pct_base": float(form["depth_1pct_base"])},
        },
        timeout=60,
    ).json()["result"]
    assert api["liquidated_count"] > 0
    for key, fmt in (
        ("final_price", price),
        ("liquidated_notional", money),
        ("liquidated_count", count),
        ("cascade_multiplier", ratio),
    ):
        assert dom_value(page, f"kpi-{key}") == pytest.approx(api[key], rel=1e-12), key
        assert page.text_content(f'[data-testid="kpi-{key}"]') == fmt(api[key]), key
    # a multi-market book lists each of its markets and still runs on the first click
    page.select_option('[data-testid="book-select"]', "example:book_example.csv")
    page.wait_for_function(
        "document.querySelector('[data-testid=market]').options.length > 1"
        " && document.querySelector('[data-testid=market]').dataset.book"
        " === 'example:book_example.csv'"
    )
    state, status = click_run_with_defaults(page, 120_000)
    assert state == "done", status
    assert not errors, errors


def test_page_number_formats_match_the_python_ones(server, chromium) -> None:
    from liqcascade import fmt

    values = [
        43_635_070.9272,
        43_635.07,
        -1234.4,
        0.0123,
        121_543.2109,
        0.012345,
        1_000_000,
        0.0,
        1.5e-6,
        2.5e9,
        999.999,
        0.5,
        -0.1,
        12345.678,
        0.00012345,
        -0.000031234,
        0.00325,
        -0.005,
    ]
    page = open_ready_page(chromium, server.url + "/cascade", [])
    kinds = {
        "money": fmt.money,
        "price": fmt.price,
        "size": fmt.size,
        "frac": fmt.frac,
        "count": fmt.count,
        "ratio": fmt.ratio,
    }
    got = page.evaluate(
        "([vals, kinds]) => Object.fromEntries(kinds.map(k => [k, vals.map(v => LC.cell(v, k))]))",
        [values, list(kinds)],
    )
    for kind, fn in kinds.items():
        assert got[kind] == [fn(v) for v in values], kind


def test_risk_page_ensemble_beside_gbm_and_merton(server, chromium) -> None:
    """The ensemble option with the page's defaults (shipped klines): the table shows the
    library's probabilities for the same position, seed and horizon."""
    pytest.importorskip("liqcascade.forecast")
    from liqcascade import risk
    from liqcascade.fmt import frac
    from liqcascade.forecast import liquidation_probability
    from liqcascade.resources import sample_data_dir

    errors: list[str] = []
    page = open_ready_page(chromium, server.url + "/risk", errors)
    page.select_option('[data-testid="model"]', "ensemble")
    klines_name = page.eval_on_selector('[data-testid="klines_file"]', "el => el.value")
    assert klines_name.startswith("BTCUSDT-1m-")
    state, status = click_run_with_defaults(page, 600_000)
    assert state == "done", status
    job = [j for j in httpx.get(server.url + "/api/jobs").json() if j["kind"] == "risk"][-1]
    res = httpx.get(server.url + f"/api/jobs/{job['id']}").json()["result"]
    pos = res["position"]
    p = job["params"]
    klines = sample_data_dir() / "binance" / "um" / "klines" / klines_name
    lib = liquidation_probability(
        klines,
        pos["mark_price"],
        pos["liquidation_price"],
        p["side"],
        round(p["horizon_days"] * 1440),
        n_paths=p["ensemble_paths"],
        seed=p["seed"],
    )
    rows = {r["model"]: r for r in res["comparison"]}
    assert rows["ensemble"]["probability"] == lib.probability
    assert rows["ensemble_impact_only"]["probability"] == lib.probability_impact_only
    gbm_fit = risk.fit_from_klines(klines, jumps=False)
    gbm = risk.prob_liquidation(
        pos["mark_price"],
        pos["liquidation_price"],
        p["side"],
        gbm_fit.model.vol_annual,
        p["horizon_days"],
    )
    assert rows["gbm"]["probability"] == pytest.approx(gbm.probability, rel=1e-12)
    assert set(rows) == {"ensemble", "ensemble_impact_only", "gbm", "jump"}
    assert dom_value(page, "kpi-probability") == lib.probability
    assert page.text_content('[data-testid="kpi-probability"]') == frac(lib.probability)
    for i, r in enumerate(res["comparison"]):
        cell = f'[data-testid="table-comparison-{i}-probability"]'
        assert float(page.get_attribute(cell, "data-value")) == r["probability"]
        assert page.text_content(cell) == frac(r["probability"])
    assert klines_name in page.text_content('[data-testid="comparison-note"]')
    screenshot(page, "risk-ensemble")
    assert not errors, errors
