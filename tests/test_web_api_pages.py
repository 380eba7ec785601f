"""API tests of the page endpoints (FastAPI TestClient): results equal the library's, bad input
gives 4xx naming the field, and the server keeps answering."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from liqcascade.web import create_app
from web_support import write_btc_book

pytest.importorskip("liqcascade.engine.static", reason="static cascade engine not installed")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("webapi")
    (data / "books").mkdir()
    write_btc_book(data / "books" / "b.csv", n=3000, seed=3)
    client = TestClient(
        create_app(data_dir=data, db_path=data / "missing.duckdb", max_upload_bytes=2 * 1024 * 1024)
    )
    return client, data


def cascade_body(**over):
    body = {
        "book": {"source": "data", "name": "books/b.csv"},
        "initial_price": 120000.0,
        "shock": -0.05,
        "impact": {"model": "linear", "depth_1pct_base": 60.0},
    }
    body.update(over)
    return body


def test_cascade_equals_library(env) -> None:
    from liqcascade.book import PositionBook
    from liqcascade.engine.static import StaticCascade
    from liqcascade.impact import LinearImpact

    client, data = env
    resp = client.post("/api/cascade", json=cascade_body(ladder_shocks=[-0.02, -0.05, -0.1]))
    assert resp.status_code == 200, resp.text
    out = resp.json()
    idx = StaticCascade(PositionBook.from_csv(data / "books" / "b.csv"), LinearImpact(60.0))
    lib = idx.solve(-0.05, 120000.0).as_dict()
    assert out["result"]["final_price"] == lib["final_price"]
    assert out["result"]["liquidated_count"] == lib["liquidated_count"] > 0
    assert out["result"]["cascade_multiplier"] == pytest.approx(
        lib["cascade_multiplier"], rel=1e-15
    )
    ladder = idx.ladder([-0.02, -0.05, -0.1], 120000.0)
    assert out["ladder"]["final_price"] == ladder["final_price"].to_list()
    assert out["ladder"]["liquidated_count"] == ladder["liquidated_count"].to_list()
    # the charts are the library's figures (CascadeLadder.plot), not drawn by the page
    from liqcascade.engine.static import CascadeLadder
    from liqcascade.plotting import figure_json

    lib_fig = figure_json(CascadeLadder(ladder, label="x").plot("liquidations"))
    assert out["figures"]["liquidations"]["data"] == lib_fig["data"]
    assert out["figures"]["price"]["data"][0]["y"] == ladder["final_price"].to_list()
    assert out["venue"] == "binance_usdm" and out["positions"] == 3000


def test_cascade_depth_impact_from_shipped_bookdepth(env) -> None:
    client, _ = env
    opts = client.get("/api/cascade/options").json()
    assert opts["bookdepth_files"], "no shipped bookDepth file found"
    body = cascade_body(
        impact={
            "model": "depth",
            "depth_source": "sample",
            "depth_file": opts["bookdepth_files"][0],
            "depth_at": "20:00",
        }
    )
    out = client.post("/api/cascade", json=body).json()
    assert out["impact"].startswith("depth:" + opts["bookdepth_files"][0])
    assert "/" not in out["impact"].split("@")[0][len("depth:") :]  # no server path leaks
    assert out["result"]["final_price"] < out["result"]["shocked_price"]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"shock": "abc"}, "shock"),
        ({"shock": -1.5}, "shock"),
        ({"initial_price": -5}, "initial_price"),
        ({"initial_price": None}, "initial_price"),
        ({"impact": {"model": "linear"}}, "impact.depth_1pct_base"),
        ({"impact": "linear:abc"}, "impact"),
        ({"impact": 3}, "impact"),
        ({"impact": {"model": "cubic", "depth_1pct_base": 1}}, "impact.model"),
        ({"impact": {"model": "linear", "depth_1pct_base": -3}}, "impact.depth_1pct_base"),
        ({"book": {"source": "data", "name": "../../etc/passwd"}}, "book.name"),
        ({"book": {"source": "data", "name": "/etc/passwd"}}, "book.name"),
        ({"book": {"source": "data", "name": "%2e%2e/%2e%2e/etc/passwd"}}, "book.name"),
        ({"book": {"source": "data", "name": "books/../../x.csv"}}, "book.name"),
        ({"book": {"source": "example", "name": "../../etc/passwd"}}, "book.name"),
        ({"book": {"source": "file", "name": "x"}}, "book.source"),
        (
            {
                "impact": {
                    "model": "depth",
                    "depth_source": "file",
                    "depth_file": "../../etc/passwd",
                }
            },
            "impact.depth_file",
        ),
        (
            {"impact": {"model": "depth", "depth_source": "file", "depth_file": "/etc/passwd"}},
            "impact.depth_file",
        ),
        ({"impact": {"model": "depth", "depth_file": "nope.csv"}}, "impact.depth_file"),
        ({"unexpected": 1}, "unexpected"),
        ({"ladder_shocks": [0.1] * 500}, "ladder_shocks"),
        ({"venue": "binance_usdm", "symbol": "ETHUSDT"}, None),
    ],
)
def test_cascade_bad_inputs(env, over, field) -> None:
    client, _ = env
    resp = client.post("/api/cascade", json=cascade_body(**over))
    assert 400 <= resp.status_code < 500, resp.text
    body = resp.json()
    assert body["detail"]
    if field is not None:
        assert body["field"] == field, body
    assert "Traceback" not in resp.text
    assert client.get("/api/health").status_code == 200


def test_cascade_rejects_non_json_and_wrong_content(env) -> None:
    client, _ = env
    # malformed JSON is a malformed body: 400 naming the body (docs/web.md), not a field "0"
    resp = client.post(
        "/api/cascade", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert resp.status_code == 400, resp.text
    assert resp.json()["field"] == "body"
    assert resp.json()["detail"].startswith("body: malformed JSON at character 1")
    # JSON that is not an object is a validation error of the body
    resp = client.post("/api/cascade", json=[1, 2])
    assert resp.status_code == 422 and resp.json()["field"] == "body", resp.text
    resp = client.post(
        "/api/cascade",
        content=b"x" * (2 * 1024 * 1024),
        headers={"content-type": "application/json"},
    )
    assert resp.status_code == 413


def test_upload_valid_and_invalid_books(env, tmp_path: Path) -> None:
    client, data = env
    good = tmp_path / "good.csv"
    write_btc_book(good, n=50, seed=9)
    resp = client.post(
        "/api/books/upload", files={"file": ("good.csv", good.read_bytes(), "text/csv")}
    )
    assert resp.status_code == 200, resp.text
    up = resp.json()
    assert up["positions"] == 50 and up["book"]["name"].startswith("uploads/")
    assert (data / up["book"]["name"]).is_file()
    # the uploaded book is usable at once
    out = client.post("/api/cascade", json=cascade_body(book=up["book"])).json()
    assert out["positions"] == 50
    # a bad row is refused with the library's message (row and field) and nothing is kept
    before = sorted(p.name for p in (data / "uploads").iterdir())
    bad = good.read_text().splitlines()
    cells = bad[3].split(",")
    cells[4] = "-2"  # size_base
    bad[3] = ",".join(cells)
    resp = client.post(
        "/api/books/upload", files={"file": ("bad.csv", "\n".join(bad).encode(), "text/csv")}
    )
    assert resp.status_code == 422
    assert "size_base" in resp.json()["detail"] and "row 3" in resp.json()["detail"]
    assert sorted(p.name for p in (data / "uploads").iterdir()) == before
    # too large: 413 before the body is parsed
    resp = client.post("/api/books/upload", files={"file": ("huge.csv", b"0" * (3 * 1024 * 1024))})
    assert resp.status_code == 413
    assert sorted(p.name for p in (data / "uploads").iterdir()) == before
    listing = client.get("/api/books").json()
    assert up["book"]["name"] in listing["files"] and "books/b.csv" in listing["files"]


def test_dynamic_job_equals_library(env) -> None:
    pytest.importorskip("liqcascade.engine.dynamic")
    from liqcascade.book import PositionBook
    from liqcascade.engine.dynamic import simulate_shock
    from liqcascade.impact import LinearImpact

    client, data = env
    start = client.post("/api/cascade/dynamic", json=cascade_body(steps=300, seed=4))
    assert start.status_code == 200, start.text
    job = client.app.state.lc.jobs.wait(start.json()["job_id"], 120)
    assert job.status == "done", job.error
    polled = client.get(f"/api/jobs/{job.id}").json()
    assert polled["status"] == "done" and polled["progress"] == 1.0
    lib = simulate_shock(
        PositionBook.from_csv(data / "books" / "b.csv"),
        120000.0,
        -0.05,
        LinearImpact(60.0),
        steps=300,
        seed=4,
    )
    assert polled["result"]["summary"]["final_price"] == lib.summary()["final_price"]
    assert polled["result"]["timeline"]["price"] == lib.timeline["price"].to_list()
    assert polled["result"]["seed"] == 4


def test_risk_equals_library(env) -> None:
    pytest.importorskip("liqcascade.risk")
    from liqcascade import margin, risk
    from liqcascade.venues import load_venue

    client, _ = env
    body = {
        "venue": "binance_usdm",
        "symbol": "BTCUSDT",
        "side": "long",
        "entry_price": 100000,
        "size_base": 0.5,
        "leverage": 10,
        "vol_annual": 0.7,
        "horizon_days": 2,
        "target_prob": 0.1,
    }
    out = client.post("/api/risk", json=body).json()
    rules = load_venue("binance_usdm", "BTCUSDT")
    m = float(margin.initial_margin(rules, 50000.0, 10))
    assert out["margin_quote"] == m
    pos = risk.position_risk(rules, "long", 0.5, 100000, m, vol_annual=0.7, horizon_days=2)
    assert out["position"]["liquidation_price"] == pos.liquidation_price
    p = risk.prob_liquidation(100000, pos.liquidation_price, "long", 0.7, 2)
    assert out["probability"]["probability"] == p.probability
    safe = risk.safe_size(rules, "long", 100000, m, 0.1, vol_annual=0.7, horizon_days=2)
    assert out["safe_size"]["size_base"] == safe.size_base


@pytest.mark.parametrize(
    ("over", "field", "status"),
    [
        ({"leverage": 900}, "leverage", 422),
        ({"margin_quote": 500}, None, 422),  # both margin and leverage
        ({"venue": "nope"}, "venue", 422),
        ({"symbol": "NOPE"}, "symbol", 422),
        ({"side": "sideways"}, "side", 422),
        ({"entry_price": "1e400"}, "entry_price", 422),
        ({"vol_annual": 0}, "vol_annual", 422),
        ({"target_prob": 1.5}, "target_prob", 422),
        ({"n_paths": 10**9}, "n_paths", 422),
    ],
)
def test_risk_bad_inputs(env, over, field, status) -> None:
    pytest.importorskip("liqcascade.risk")
    client, _ = env
    body = {"entry_price": 100000, "size_base": 0.5, "leverage": 10}
    body.update(over)
    resp = client.post("/api/risk", json=body)
    assert resp.status_code == status, resp.text
    if field is not None:
        assert resp.json()["field"] == field, resp.json()
    assert client.get("/api/health").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"start": "yesterday", "end": "2025-10-10T23:00"},
        {"start": "2025-10-10T23:00", "end": "2025-10-10T01:00"},
        {"start": "2025-10-10", "end": "2025-10-11", "snapshots": 500},
        {"start": "2025-10-10", "end": "2025-10-11", "prior": "../../etc/passwd"},
        {"start": "2025-10-10", "end": "2025-10-11", "markets": []},
    ],
)
def test_map_bad_inputs(env, body) -> None:
    pytest.importorskip("liqcascade.estimate")
    client, _ = env
    resp = client.post("/api/map", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"]


def test_map_and_replay_jobs_fail_cleanly_without_store(env) -> None:
    pytest.importorskip("liqcascade.replay")
    client, _ = env
    jobs = client.app.state.lc.jobs
    for url, body in (
        ("/api/map", {"start": "2025-10-10T12:00", "end": "2025-10-10T13:00"}),
        ("/api/replay", {"date": "2025-10-10"}),
    ):
        start = client.post(url, json=body)
        assert start.status_code == 200, start.text
        job = jobs.wait(start.json()["job_id"], 60)
        assert job.status == "failed" and job.error_type == "InputError"
        assert job.error.startswith("db: no market-data store")
        assert (
            "/" not in job.error.split("at ", 1)[1].split(" ")[0]
        )  # no server path in the message


@pytest.mark.parametrize(
    "url",
    [
        "/api/replay/reports/..%2F..%2Fetc%2Fpasswd",
        "/api/replay/reports/%2e%2e",
        "/api/replay/reports/x.sh",
    ],
)
def test_replay_report_path_tricks(env, url) -> None:
    pytest.importorskip("liqcascade.replay")
    client, _ = env
    resp = client.get(url)
    assert 400 <= resp.status_code < 500
    assert client.get("/api/health").status_code == 200


def test_replay_bad_inputs(env) -> None:
    pytest.importorskip("liqcascade.replay")
    client, _ = env
    for body, field in (
        ({"date": "10/10/2025"}, "date"),
        ({"symbol": "../x"}, "symbol"),
        ({"max_evals": 10**6}, "max_evals"),
    ):
        resp = client.post("/api/replay", json=body)
        assert resp.status_code == 422 and resp.json()["field"] == field, resp.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"file": "../../etc/passwd"}, "file"),
        ({"file": "/etc/passwd"}, "file"),
        ({"file": "policy_scenario_crash.toml", "vary": ["max_leverage=lots"]}, "vary[0]"),
        ({"file": "policy_scenario_crash.toml", "vary": ["bogus=1"]}, "vary[0]"),
        ({"file": "policy_scenario_crash.toml", "paths": 0}, "paths"),
        ({"file": "policy_scenario_crash.toml", "vary": ["max_leverage=20"] * 9}, "vary"),
    ],
)
def test_policy_bad_inputs(env, body, field) -> None:
    pytest.importorskip("liqcascade.policy")
    client, _ = env
    if client.get("/api/health").json()["pages"].count("policy") == 0:
        pytest.skip("no shipped policy file")
    resp = client.post("/api/policy", json=body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["field"] == field
    assert client.get("/api/jobs").json() == [] or all(
        j["kind"] != "policy" for j in client.get("/api/jobs").json()
    )


def test_openapi_lists_every_page_endpoint(env) -> None:
    client, _ = env
    paths = client.get("/openapi.json").json()["paths"]
    pages = client.get("/api/health").json()["pages"]
    expected = {
        "cascade": "/api/cascade",
        "risk": "/api/risk",
        "map": "/api/map",
        "replay": "/api/replay",
        "policy": "/api/policy",
    }
    for slug in pages:
        assert expected[slug] in paths, slug
        assert client.get(f"/{slug}").status_code == 200
    schema = paths["/api/cascade"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("CascadeRequest")


def server_paths(data: Path) -> list[str]:
    """Absolute folders of this server that must never appear in an error message."""
    import tempfile

    from liqcascade.resources import package_path

    return [
        str(data.resolve()),
        str(data),
        str(package_path()),
        str(Path(tempfile.gettempdir()).resolve()) + "/",
        str(Path.home()) + "/",
    ]


def assert_no_server_path(text: str, data: Path) -> None:
    for root in server_paths(data):
        assert root not in text, (root, text)


def test_validation_errors_name_the_field(env) -> None:
    client, _ = env
    resp = client.post("/api/cascade", json=cascade_body(shock="abc", initial_price=-1))
    assert resp.status_code == 422
    body = resp.json()
    assert body["field"] in ("shock", "initial_price")
    assert body["detail"].startswith(body["field"] + ": ")
    assert {e["field"] for e in body["errors"]} == {"shock", "initial_price"}


def test_library_errors_show_no_server_path(env) -> None:
    """A book with several markets and none chosen: the library names the file by its full
    path; the client sees its name only."""
    client, data = env
    resp = client.post(
        "/api/cascade", json=cascade_body(book={"source": "example", "name": "book_example.csv"})
    )
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    assert detail.startswith("book_example.csv: the static mode solves one symbol")
    assert_no_server_path(detail, data)
    # choosing one of the book's markets (the page's default) runs
    info = client.get("/api/books/info", params={"source": "example", "name": "book_example.csv"})
    venue, symbol = info.json()["markets"][0]
    ok = client.post(
        "/api/cascade",
        json=cascade_body(
            book={"source": "example", "name": "book_example.csv"}, venue=venue, symbol=symbol
        ),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["venue"] == venue and ok.json()["symbol"] == symbol


@pytest.mark.parametrize(
    ("name", "content", "expect"),
    [
        (
            "mine.csv",
            b"account_id,venue,symbol,side,size_base,entry_price,leverage\n"
            b"1,binance_usdm,BTCUSDT,1,-1,100,10\n",
            "size_base",
        ),
        ("cols.csv", b"a,b\n1,2\n", "missing column"),
        ("broken.parquet", b"not a parquet file", "Parquet"),
    ],
)
def test_upload_errors_name_the_users_file_not_a_temporary_one(env, name, content, expect):
    client, data = env
    resp = client.post("/api/books/upload", files={"file": (name, content)})
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["field"] == "file"
    assert expect in body["detail"] and name in body["detail"]
    assert "tmp" not in body["detail"] and ".part" not in body["detail"]
    assert_no_server_path(body["detail"], data)


def test_failed_job_messages_show_no_server_path(tmp_path: Path) -> None:
    from liqcascade.errors import DataError
    from liqcascade.web.jobs import JobManager
    from liqcascade.web.safety import public_message

    jobs = JobManager(max_workers=1, scrub=lambda m: public_message(m, tmp_path))

    def lib_error(_):
        raise DataError(f"{tmp_path}/reports/day.csv: truncated; /opt/x/y/z.toml is odd")

    def crash(_):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{tmp_path}/a/b.bin'")

    try:
        a = jobs.wait(jobs.submit("t", {}, lib_error).id, 10)
        b = jobs.wait(jobs.submit("t", {}, crash).id, 10)
    finally:
        jobs.shutdown()
    assert a.error == "reports/day.csv: truncated; z.toml is odd"
    assert b.error.startswith("internal error: FileNotFoundError") and "'a/b.bin'" in b.error
    assert str(tmp_path) not in a.error + b.error


def test_risk_ensemble_equals_library(env) -> None:
    pytest.importorskip("liqcascade.forecast")
    from liqcascade import risk
    from liqcascade.forecast import liquidation_probability
    from liqcascade.web.pages_risk import default_kline_file, sample_kline_files

    client, _ = env
    body = {
        "entry_price": 90000,
        "size_base": 0.5,
        "leverage": 25,
        "model": "ensemble",
        "horizon_days": 0.25,
        "ensemble_paths": 200,
        "n_paths": 2000,
        "seed": 3,
    }
    out = client.post("/api/risk", json=body)
    assert out.status_code == 200, out.text
    out = out.json()
    pos = out["position"]
    klines = sample_kline_files()[default_kline_file()]
    lib = liquidation_probability(
        klines, 90000, pos["liquidation_price"], "long", 360, n_paths=200, seed=3
    )
    assert out["probability"]["probability"] == lib.probability
    assert out["probability"]["klines_file"] == klines.name
    rows = {r["model"]: r for r in out["comparison"]}
    assert rows["ensemble_impact_only"]["probability"] == lib.probability_impact_only
    fit = risk.fit_from_klines(klines, jumps=True)
    merton = risk.prob_liquidation(
        90000,
        pos["liquidation_price"],
        "long",
        fit.model.vol_annual,
        0.25,
        model="jump",
        jump_intensity_annual=fit.model.jump_intensity_annual,
        jump_mean_log=fit.model.jump_mean_log,
        jump_std_log=fit.model.jump_std_log,
        n_paths=2000,
        seed=3,
    )
    assert rows["jump"]["probability"] == merton.probability
    assert out["safe_size_model"] == "gbm"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"horizon_days": 60}, "horizon_days"),
        ({"klines_file": "../../etc/passwd"}, "klines_file"),
        ({"klines_source": "data", "klines_file": "/etc/passwd"}, "klines_file"),
        ({"klines_source": "data", "klines_file": "nope.csv"}, "klines_file"),
        ({"ensemble_paths": 10}, "ensemble_paths"),
    ],
)
def test_risk_ensemble_bad_inputs(env, over, field) -> None:
    pytest.importorskip("liqcascade.forecast")
    client, data = env
    body = {"entry_price": 90000, "size_base": 0.5, "leverage": 25, "model": "ensemble"}
    body.update(over)
    url = "/api/risk" if "horizon_days" in over else "/api/risk/jobs"
    resp = client.post(url, json={**body, "ensemble_paths": over.get("ensemble_paths", 100)})
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.json()["field"] == field, resp.json()
    assert_no_server_path(resp.json()["detail"], data)


def test_map_default_without_a_store_uses_the_shipped_sample(tmp_path: Path, monkeypatch) -> None:
    """A fresh install has no store: the map page's default example still returns a result,
    from a store built once in the data directory from the shipped sample data."""
    pytest.importorskip("liqcascade.estimate")
    from liqcascade.web.common import SAMPLE_STORE_NAME

    monkeypatch.setenv("LIQCASCADE_DB", str(tmp_path / "no-store-here.duckdb"))
    client = TestClient(create_app(data_dir=tmp_path / "data"))
    opts = client.get("/api/map/options").json()
    assert opts["sample_store"] is True and opts["stored_klines_1m"] == []
    start = client.post("/api/map", json={"start": "2025-10-10T12:00", "end": "2025-10-10T23:00"})
    job = client.app.state.lc.jobs.wait(start.json()["job_id"], 300)
    assert job.status == "done", job.error
    market = job.result["markets"][0]
    assert market["symbol"] == "BTCUSDT" and len(market["times"]) == 12
    assert (tmp_path / "data" / SAMPLE_STORE_NAME).is_file()
    stored = client.get("/api/map/options").json()["stored_klines_1m"]
    assert any(s["symbol"] == "BTCUSDT" for s in stored)
    assert not (tmp_path / "no-store-here.duckdb").exists()  # the user's store is never created
