"""Liquidation map page and API: where liquidation prices cluster, by price level and venue over
time, with the price line. Each snapshot is ``liqcascade.estimate.estimate_map`` on the 1m trade
klines of the DuckDB store (``liqcascade.data.Store``); the method and the priors are stated in
docs/liquidation-map.md. A run of several snapshots takes seconds, so it is a background job.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from liqcascade.errors import InputError
from liqcascade.web.common import clean_json

PATH = "/map"
SLUG = "map"
TITLE = "Liquidation map"
BLURB = "estimated liquidation levels by price and venue over time, with the price line."

_HOUR_MS = 3_600_000
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?Z?$")


def missing_capability() -> str | None:
    try:
        from liqcascade.data import Store  # noqa: F401
        from liqcascade.estimate import estimate_map, list_priors, to_ms  # noqa: F401
    except ImportError as exc:
        return f"liquidation map or data store not installed ({exc})"
    return None


class Market(BaseModel):
    model_config = ConfigDict(extra="forbid")
    venue: str = Field(default="binance_usdm", min_length=1, max_length=40)
    symbol: str = Field(default="BTCUSDT", min_length=1, max_length=40)


class MapRequest(BaseModel):
    """Snapshots of the liquidation map between ``start`` and ``end`` (UTC, ISO) for up to four
    venue/symbol pairs. Each snapshot uses the stored 1m klines of the ``lookback_hours`` before
    it and the named leverage prior of its venue (``GET /api/map/options``)."""

    model_config = ConfigDict(extra="forbid")
    markets: list[Market] = Field(default_factory=lambda: [Market()], min_length=1, max_length=4)
    start: str = Field(description="first snapshot time, UTC, e.g. 2025-10-10T12:00")
    end: str = Field(description="last snapshot time, UTC")
    snapshots: int = Field(default=12, ge=1, le=48)
    prior: str = Field(default="default", min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")
    lookback_hours: float = Field(default=24.0, gt=0, le=24 * 60, allow_inf_nan=False)
    bin_width_quote: float | None = Field(default=None, gt=0, allow_inf_nan=False)

    @field_validator("start", "end")
    @classmethod
    def _iso(cls, v: str) -> str:
        if not _ISO.match(v.strip()):
            raise ValueError(f"expected a UTC time like 2025-10-10T21:00, got {v!r}")
        return v.strip()

    @model_validator(mode="after")
    def _order(self) -> MapRequest:
        from liqcascade.estimate import to_ms

        if to_ms(self.end) < to_ms(self.start):
            raise ValueError("end is before start")
        return self


def _iso(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def snapshot_times(req: MapRequest) -> list[int]:
    from liqcascade.estimate import to_ms

    a, b = to_ms(req.start), to_ms(req.end)
    if req.snapshots == 1 or a == b:
        return [b]
    step = (b - a) / (req.snapshots - 1)
    return [int(round(a + i * step)) for i in range(req.snapshots)]


def run_map(state: Any, req: MapRequest, progress: Any) -> dict[str, Any]:
    """Job body: per market, load klines once, estimate the map at each snapshot time."""
    from liqcascade.data import Store
    from liqcascade.estimate import estimate_map, list_priors
    from liqcascade.web.common import market_store

    times = snapshot_times(req)
    progress(0.0, "opening the market-data store")
    db, _ = market_store(state)
    if not Path(db).is_file():
        raise InputError(
            f"db: no market-data store at {Path(db).name} (ingest data with `liqcascade data ingest`)"
        )
    out: list[dict[str, Any]] = []
    total = len(times) * len(req.markets)
    done = 0
    with Store(db, read_only=True) as store:
        for m in req.markets:
            names = [n.split(".", 1)[1] for n in list_priors(m.venue)]
            if req.prior not in names:
                raise InputError(
                    f"prior: no prior {req.prior!r} for venue {m.venue!r} (expected one of {names})"
                )
            lo = times[0] - int(req.lookback_hours * _HOUR_MS)
            klines = store.klines(
                m.venue, m.symbol, start=lo, end=times[-1], interval="1m", kind="trade"
            )
            if klines.height == 0:
                raise InputError(
                    f"markets: no stored 1m trade klines of {m.venue} {m.symbol} between {_iso(lo)} and {_iso(times[-1])}"
                )
            bin_w = req.bin_width_quote
            per_time: list[dict[float, float]] = []
            per_side: list[dict[str, float]] = []
            ref: list[float] = []
            last = None
            for t in times:
                progress(done / total, f"{m.venue} {m.symbol} at {_iso(t)}")
                lmap = estimate_map(
                    klines,
                    venue=m.venue,
                    symbol=m.symbol,
                    at=t,
                    prior=req.prior,
                    lookback_hours=req.lookback_hours,
                    bin_width_quote=bin_w,
                    source=f"store {m.venue} {m.symbol} 1m klines",
                )
                bin_w = bin_w or lmap.meta["bin_width_quote"]  # one price grid for all snapshots
                lv = lmap.levels
                levels: dict[float, float] = {}
                for price, notional in zip(
                    lv["price_level"].to_list(), lv["notional_quote"].to_list(), strict=True
                ):
                    levels[price] = levels.get(price, 0.0) + notional
                per_time.append(levels)
                per_side.append(
                    {
                        "long": float(lv.filter(lv["side"] == 1)["notional_quote"].sum()),
                        "short": float(lv.filter(lv["side"] == -1)["notional_quote"].sum()),
                    }
                )
                ref.append(float(lmap.meta["reference_price"]))
                last = lmap
                done += 1
            grid = sorted({p for d in per_time for p in d})
            z = [[d.get(p, 0.0) for d in per_time] for p in grid]
            price = klines.filter(
                klines["open_time"] >= dt.datetime.fromtimestamp(times[0] / 1000, tz=dt.UTC)
            )
            assert last is not None
            meta = dict(last.meta)
            if isinstance(meta.get("prior"), dict) and meta["prior"].get("path"):
                meta["prior"] = {**meta["prior"], "path": Path(meta["prior"]["path"]).name}
            out.append(
                {
                    "venue": m.venue,
                    "symbol": m.symbol,
                    "times": [_iso(t) for t in times],
                    "price_levels": grid,
                    "notional_quote": z,
                    "long_notional_quote": [s["long"] for s in per_side],
                    "short_notional_quote": [s["short"] for s in per_side],
                    "reference_price": ref,
                    "price_line": {
                        "time": [
                            t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in price["open_time"].to_list()
                        ],
                        "close": price["close"].to_list(),
                    },
                    "densest": last.densest(10)
                    .select("price_level", "side", "size_base", "notional_quote")
                    .to_dicts(),
                    "bin_width_quote": bin_w,
                    "meta": meta,
                }
            )
    progress(1.0, "done")
    return clean_json({"markets": out, "prior": req.prior, "lookback_hours": req.lookback_hours})


def register(app: FastAPI, state: Any) -> None:
    from liqcascade.web.app import read_template, render_page

    @app.get("/api/map/options", tags=["map"])
    def map_options() -> dict[str, Any]:
        """Shipped leverage priors by venue and what the store holds (1m trade klines)."""
        from liqcascade.data import Store
        from liqcascade.estimate import list_priors
        from liqcascade.web.common import market_store

        priors: dict[str, list[str]] = {}
        for name in list_priors():
            venue, _, prior = name.partition(".")
            priors.setdefault(venue, []).append(prior)
        stored: list[dict[str, Any]] = []
        db, sample = market_store(state, build=False)
        if Path(db).is_file():
            with Store(db, read_only=True) as store:
                summ = store.summary()
            for row in summ.to_dicts():
                if (
                    row.get("table") == "klines"
                    and row.get("kind") == "trade"
                    and row.get("interval") == "1m"
                ):
                    stored.append(
                        {
                            "venue": row["venue"],
                            "symbol": row["symbol"],
                            "rows": row["rows"],
                            "first": str(row["first"]),
                            "last": str(row["last"]),
                        }
                    )
        return {"priors": priors, "stored_klines_1m": stored, "sample_store": sample}

    @app.post("/api/map", tags=["map"])
    def map_job(req: MapRequest) -> dict[str, Any]:
        """Start the liquidation-map snapshots as a background job; poll ``/api/jobs/{id}``."""
        job = state.jobs.submit("map", req.model_dump(), lambda p: run_map(state, req, p))
        return {"job_id": job.id, "status": job.status}

    @app.get(PATH, response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return render_page(
            state, title=TITLE, body=read_template("map.html"), script="map.js", active=PATH
        )
