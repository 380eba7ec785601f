"""Liquidation map page and API: where liquidation prices cluster, by price level and venue over
time, with the price line. Each snapshot is ``liqcascade.estimate.estimate_map`` on the 1m trade
klines of the DuckDB store (``liqcascade.data.Store``); the method and the priors are stated in
docs/liquidation-map.md. A run of several snapshots takes seconds, so it is a background job.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from liqcascade.errors import InputError
from liqcascade.timeutil import ms_to_iso, to_ms
from liqcascade.web.common import PageInfo, clean_json

PAGE = PageInfo(
    path="/map",
    slug="map",
    title="Liquidation map",
    blurb="estimated liquidation levels by price and venue over time, with the price line.",
    needs=(
        "liqcascade.data:Store",
        "liqcascade.estimate:estimate_map",
        "liqcascade.estimate:list_priors",
        "liqcascade.estimate:to_ms",
    ),
    capability="liquidation map or data store",
)

_HOUR_MS = 3_600_000
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2})?)?Z?$")


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
        if to_ms(self.end) < to_ms(self.start):
            raise ValueError("end is before start")
        return self


def snapshot_times(req: MapRequest) -> list[int]:
    from liqcascade.estimate import snapshot_times as times

    return times(req.start, req.end, req.snapshots)


def run_map(state: Any, req: MapRequest, progress: Any) -> dict[str, Any]:
    """Job body: per market, load klines once, then the library's snapshots
    (:func:`liqcascade.estimate.map_snapshots`) and their figure."""
    from liqcascade.data import Store
    from liqcascade.estimate import map_snapshots
    from liqcascade.plotting import figure_json
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
    with Store(db, read_only=True) as store:
        for k, m in enumerate(req.markets):
            lo = times[0] - int(req.lookback_hours * _HOUR_MS)
            klines = store.klines(
                m.venue, m.symbol, start=lo, end=times[-1], interval="1m", kind="trade"
            )
            if klines.height == 0:
                raise InputError(
                    f"markets: no stored 1m trade klines of {m.venue} {m.symbol} between {ms_to_iso(lo)} and {ms_to_iso(times[-1])}"
                )

            def step(i: int, n: int, t: int, k: int = k, m: Market = m) -> None:
                progress((k * n + i) / total, f"{m.venue} {m.symbol} at {ms_to_iso(t)}")

            snap = map_snapshots(
                klines,
                venue=m.venue,
                symbol=m.symbol,
                times_ms=times,
                source=f"store {m.venue} {m.symbol} 1m klines",
                progress=step,
                # the request's map settings, under the library's own names
                **req.model_dump(include={"prior", "lookback_hours", "bin_width_quote"}),
            )
            meta = dict(snap.last.meta)
            if isinstance(meta.get("prior"), dict) and meta["prior"].get("path"):
                meta["prior"] = {**meta["prior"], "path": Path(meta["prior"]["path"]).name}
            out.append(
                {
                    "venue": m.venue,
                    "symbol": m.symbol,
                    "times": snap.times,
                    "price_levels": snap.price_levels,
                    "notional_quote": snap.notional_quote,
                    "long_notional_quote": snap.long_notional_quote,
                    "short_notional_quote": snap.short_notional_quote,
                    "reference_price": snap.reference_price,
                    "price_line": {
                        "time": snap.price_line["time"].to_list(),
                        "close": snap.price_line["close"].to_list(),
                    },
                    "densest": snap.last.densest(10)
                    .select("price_level", "side", "size_base", "notional_quote")
                    .to_dicts(),
                    "bin_width_quote": snap.bin_width_quote,
                    "meta": meta,
                    "figure": figure_json(snap.plot()),
                }
            )
    progress(1.0, "done")
    return clean_json({"markets": out, "prior": req.prior, "lookback_hours": req.lookback_hours})


def register(app: FastAPI, state: Any) -> None:

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
