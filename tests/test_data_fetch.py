"""ccxt access: recorded raw venue responses replayed through ccxt's own request and parse code.

ccxt's ``fetch(url, method, headers, body)`` is its single HTTP entry point; replacing it on the
instance with a lookup of recorded responses (tests/data/ccxt_binanceusdm) runs everything else
of ccxt for real: market loading, request signing, response parsing. No test touches the network.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import ccxt
import pytest
from typer.testing import CliRunner

from liqcascade.cli import app
from liqcascade.data import Store
from liqcascade.data.fetch import fetch_to_store, make_exchange, store_unified
from liqcascade.errors import ConfigError, NetworkError

REC = Path(__file__).parent / "data" / "ccxt_binanceusdm"
ROUTES = {
    "/fapi/v1/exchangeInfo": "exchangeInfo.json",
    "/fapi/v1/klines": "klines.json",
    "/fapi/v1/fundingRate": "fundingRate.json",
    "/futures/data/openInterestHist": "openInterestHist.json",
    "/fapi/v1/leverageBracket": "leverageBracket.json",
}


def replay_exchange(keys: bool = False) -> tuple[ccxt.Exchange, list[str]]:
    ex = ccxt.binanceusdm({"apiKey": "k", "secret": "s"} if keys else {})
    calls: list[str] = []

    def fetch(url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202
        u = urllib.parse.urlparse(url)
        calls.append(f"{method} {u.path}?{u.query}")
        if u.path not in ROUTES:
            raise AssertionError(f"unrecorded request {method} {url}")
        return json.loads((REC / ROUTES[u.path]).read_text())

    ex.fetch = fetch
    if keys:  # load markets without keys (Binance asks for currencies when keys are set)
        ex.apiKey = ex.secret = ""
        ex.load_markets()
        ex.apiKey, ex.secret = "k", "s"
    return ex, calls


def test_fetch_ohlcv_through_ccxt_matches_recorded_klines(tmp_path: Path) -> None:
    ex, calls = replay_exchange()
    db = tmp_path / "f.duckdb"
    res = fetch_to_store(
        "binanceusdm",
        "BTC/USDT:USDT",
        "ohlcv",
        since="2025-10-10T21:10",
        until="2025-10-10T21:30",
        db=db,
        ex=ex,
    )
    assert any("/fapi/v1/klines" in c and "startTime=1760130600000" in c for c in calls)
    raw = json.loads((REC / "klines.json").read_text())
    assert res["records"] == len(raw) == res["rows"] and res["symbol"] == "BTCUSDT"
    assert Path(res["file"]).parent == tmp_path / "fetched" / "binanceusdm"
    with Store(db, read_only=True) as s:
        k = s.klines("binance_usdm", "BTCUSDT", interval="1m")
        assert k["low"].to_list() == [float(r[3]) for r in raw]
        assert [int(t.timestamp() * 1000) for t in k["open_time"]] == [r[0] for r in raw]
        assert k["source_file"][0] == Path(res["file"]).name
    # the same fetch again stores a new envelope file but the rows are the same data
    again = fetch_to_store(
        "binanceusdm", "BTCUSDT", "ohlcv", since=1760130600000, until=1760131800000, db=db, ex=ex
    )
    assert again["records"] == len(raw)


def test_fetch_funding_oi_and_tiers(tmp_path: Path) -> None:
    ex, _ = replay_exchange(keys=True)
    db = tmp_path / "f.duckdb"
    f = fetch_to_store(
        "binanceusdm",
        "BTC/USDT:USDT",
        "funding",
        since="2025-10-09",
        until="2025-10-13",
        db=db,
        ex=ex,
    )
    oi = fetch_to_store(
        "binanceusdm", "BTC/USDT:USDT", "oi", since="2025-10-10T21:10", timeframe="5m", db=db, ex=ex
    )
    tiers = fetch_to_store("binanceusdm", "BTC/USDT:USDT", "tiers", db=db, ex=ex)
    raw_f = json.loads((REC / "fundingRate.json").read_text())
    raw_b = json.loads((REC / "leverageBracket.json").read_text())[0]["brackets"]
    assert f["rows"] == len(raw_f) and oi["rows"] == 6 and tiers["rows"] == len(raw_b)
    with Store(db, read_only=True) as s:
        fr = s.funding("binance_usdm", "BTCUSDT")
        assert fr["funding_rate"].to_list() == [float(r["fundingRate"]) for r in raw_f]
        o = s.open_interest("binance_usdm", "BTCUSDT")
        assert o["open_interest_base"][0] == 94312.511
        lb = s.leverage_brackets("binance_usdm", "BTCUSDT")
        assert lb["cum_quote"].to_list() == [b["cum"] for b in raw_b]  # Binance's own cum kept
        assert lb["max_leverage"].to_list() == [b["initialLeverage"] for b in raw_b]
        assert lb["snapshot_time"].null_count() == 0


def test_tiers_without_keys_is_a_config_error(tmp_path: Path) -> None:
    ex, _ = replay_exchange(keys=False)
    with pytest.raises(ConfigError, match="LIQCASCADE_BINANCEUSDM_API_KEY"):
        fetch_to_store("binanceusdm", "BTC/USDT:USDT", "tiers", db=tmp_path / "x.duckdb", ex=ex)


def test_unreachable_host_is_a_network_error(tmp_path: Path) -> None:
    # a proxy on a closed local port: the connection is refused at once, nothing leaves the box
    ex = make_exchange("binanceusdm", timeout_s=2, config={"httpsProxy": "http://127.0.0.1:9"})
    with pytest.raises(NetworkError, match="cannot reach"):
        fetch_to_store("binanceusdm", "BTC/USDT:USDT", "ohlcv", db=tmp_path / "x.duckdb", ex=ex)
    assert not (tmp_path / "x.duckdb").exists()


def test_cli_fetch_without_network_fails_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(self, url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202
        raise ccxt.NetworkError(
            f"{self.id} GET {url} [Errno -3] Temporary failure in name resolution"
        )

    monkeypatch.setattr(ccxt.binanceusdm, "fetch", no_network)
    out = CliRunner().invoke(
        app,
        [
            "data",
            "fetch",
            "--exchange",
            "binanceusdm",
            "--symbol",
            "BTC/USDT:USDT",
            "--kind",
            "funding",
            "--since",
            "2025-10-10",
            "--db",
            str(tmp_path / "x.duckdb"),
        ],
    )
    assert out.exit_code == 2
    assert "cannot reach the exchange" in out.output and "NetworkError" in out.output


RAW = Path(__file__).parent / "data"


def test_hyperliquid_okx_bybit_payloads_through_ccxt_parsers(tmp_path: Path) -> None:
    db = tmp_path / "v.duckdb"
    # Hyperliquid candleSnapshot -> ccxt.hyperliquid.parse_ohlcvs -> store
    hl_raw = json.loads((RAW / "hyperliquid/candleSnapshot_BTC_1m.json").read_text())
    hl = ccxt.hyperliquid().parse_ohlcvs(hl_raw, None, "1m")
    r = store_unified("hyperliquid", "BTC/USDC:USDC", "ohlcv", hl, db=db, timeframe="1m")
    assert r["symbol"] == "BTC" and r["rows"] == len(hl_raw)
    # OKX candles (newest first, as OKX sends them) -> ccxt.okx.parse_ohlcvs (sorted ascending)
    okx_raw = json.loads((RAW / "ccxt_raw/okx_candles_BTC-USDT-SWAP.json").read_text())["data"]
    okx = ccxt.okx().parse_ohlcvs(okx_raw, None, "1m")
    store_unified("okx", "BTC/USDT:USDT", "ohlcv", okx, db=db, timeframe="1m")
    # Bybit v5 risk limits -> ccxt.bybit.parse_market_leverage_tiers
    by_raw = json.loads((RAW / "ccxt_raw/bybit_risk_limit_BTCUSDT.json").read_text())
    tiers = ccxt.bybit().parse_market_leverage_tiers(by_raw["result"]["list"], None)
    store_unified("bybit", "BTC/USDT:USDT", "tiers", {"BTC/USDT:USDT": tiers}, db=db)
    with Store(db, read_only=True) as s:
        k = s.klines("hyperliquid", "BTC", interval="1m")
        assert k["close"].to_list() == [float(c["c"]) for c in hl_raw]
        o = s.klines("okx_swap", "BTC-USDT-SWAP", interval="1m")
        assert [int(t.timestamp() * 1000) for t in o["open_time"]] == sorted(
            int(c[0]) for c in okx_raw
        )
        assert o["low"].to_list() == [112501.2, 109880.0, 107000.0]
        lb = s.leverage_brackets("bybit_linear", "BTCUSDT")
        assert lb["mmr"].to_list() == [0.005, 0.0056, 0.0062]
        assert lb["floor_quote"].to_list() == [0.0, 2_000_000.0, 2_600_000.0]
        # Bybit's mmDeduction is the maintenance amount; it obeys the tier-chain identity
        cum, mmr, floor = (
            lb["cum_quote"].to_list(),
            lb["mmr"].to_list(),
            lb["floor_quote"].to_list(),
        )
        assert cum[0] == 0.0
        for i in range(1, 3):
            assert cum[i] == pytest.approx(cum[i - 1] + floor[i] * (mmr[i] - mmr[i - 1]))
