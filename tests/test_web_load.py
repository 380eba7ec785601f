"""A smaller version of benchmarks/bench_web.py: concurrent cascade requests all succeed and each
returns the library's answer for its own shock."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest

from web_support import running_server

pytest.importorskip("liqcascade.engine.static", reason="static cascade engine not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_web import body, make_book  # noqa: E402


@pytest.mark.slow
def test_concurrent_cascade_requests_all_succeed(tmp_path: Path) -> None:
    from liqcascade.book import PositionBook
    from liqcascade.engine.static import StaticCascade
    from liqcascade.impact import LinearImpact
    from liqcascade.web import create_app

    (tmp_path / "books").mkdir()
    book_path = tmp_path / "books" / "bench_100k.csv"  # the name bench_web's request body uses
    make_book(book_path, 10_000)
    shocks = np.round(np.random.default_rng(1).uniform(-0.15, -0.01, 50), 6)
    with running_server(create_app(data_dir=tmp_path)) as srv:

        async def burst() -> list[httpx.Response]:
            limits = httpx.Limits(max_connections=len(shocks))
            async with httpx.AsyncClient(base_url=srv.url, timeout=120, limits=limits) as client:
                return await asyncio.gather(
                    *(client.post("/api/cascade", json=body(float(s))) for s in shocks)
                )

        responses = asyncio.run(burst())  # the first requests also race to index the book once
        assert [r.status_code for r in responses] == [200] * len(shocks)
        cached = srv.config.app.state.lc.cache["cascade"]._cache
        assert len(cached) == 1  # indexed once despite the concurrent first requests
    idx = StaticCascade(PositionBook.from_csv(book_path), LinearImpact(400.0))
    for s, r in zip(shocks, responses, strict=True):
        got = r.json()["result"]
        want = idx.solve(float(s), 121_000.0)
        assert got["shock"] == float(s)
        assert got["final_price"] == want.final_price
        assert got["liquidated_count"] == want.liquidated_count
