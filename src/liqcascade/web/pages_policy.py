"""Policy comparison page and API: one scenario, the same seeded paths, under changed rules
(``liqcascade.policy``): the comparison table and bar charts of each column. A policy run takes
seconds to minutes, so it is a background job with progress per (variant, path) run.

Only shipped policy/scenario files are accepted (by name from a fixed list): scenario files name
other files relative to themselves, so uploaded ones could reach outside the data directory.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import msgspec
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from liqcascade.errors import InputError
from liqcascade.resources import examples_dir
from liqcascade.web.common import ApiError, PageInfo, clean_json, frame_records, options_html

PAGE = PageInfo(
    path="/policy",
    slug="policy",
    title="Policy comparison",
    blurb="the same scenario and paths under leverage caps, tiers, fees, funds, ADL policies, breakers.",
    needs=(
        "liqcascade.policy:load_policy",
        "liqcascade.policy:parse_vary",
        "liqcascade.policy:run_policy",
    ),
    capability="policy lab",
)

#: Columns drawn as bar charts (all columns are in the table).
CHART_COLUMNS: tuple[str, ...] = (
    "liquidated_notional_quote",
    "bad_debt_quote",
    "insurance_fund_used_quote",
    "adl_taken_quote",
    "adl_overshoot_quote",
    "cascade_multiplier",
    "accounts_hit",
    "retail_loss_share",
)


def missing_capability() -> str | None:
    """Why the page is left out beyond its imports (no shipped policy file), else None."""
    if not policy_files():
        return "no shipped policy or scenario file found"
    return None


@functools.lru_cache(maxsize=1)
def policy_files() -> dict[str, Path]:
    """Shipped policy and stress-scenario TOML files by file name."""
    dirs = [examples_dir()]
    out: dict[str, Path] = {}
    for d in dirs:
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                text = p.read_text(encoding="utf-8", errors="replace")
                if "[policy]" in text or "[scenario]" in text or "[shock" in text:
                    out.setdefault(p.name, p)
    return out


class PolicyRequest(BaseModel):
    """A shipped policy/scenario file (``GET /api/policy/options``), extra variants as ``KEY=V1,V2``
    strings (the CLI's ``--vary``), and optional overrides of paths, seed and book size."""

    model_config = ConfigDict(extra="forbid")
    file: str = Field(min_length=1, max_length=200)
    vary: list[str] = Field(default_factory=list, max_length=8)
    paths: int | None = Field(default=None, ge=1, le=1000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    n_positions: int | None = Field(default=None, ge=100, le=2_000_000)


def run_policy_job(req: PolicyRequest, progress: Any) -> dict[str, Any]:
    """Job body: ``load_policy`` + ``parse_vary`` + ``run_policy`` with progress per run."""
    from liqcascade.policy import load_policy, parse_vary, run_policy

    files = policy_files()
    if req.file not in files:
        raise InputError(
            f"file: no shipped policy or scenario {req.file!r} (expected one of {sorted(files)})"
        )
    lab = load_policy(files[req.file])
    over: dict[str, Any] = {
        k: v
        for k, v in (("paths", req.paths), ("seed", req.seed), ("n_positions", req.n_positions))
        if v is not None
    }
    if over:
        lab = msgspec.structs.replace(lab, **over)
    variants = []
    for i, spec in enumerate(req.vary):
        try:
            variants.extend(parse_vary(spec))
        except InputError as exc:
            raise InputError(f"vary[{i}]: {exc}") from exc
    if not lab.variants and not variants:
        raise InputError(
            "vary: the scenario has no variants; give at least one KEY=V1,V2 (e.g. max_leverage=125,20)"
        )
    progress(0.01, "preparing the scenario")
    res = run_policy(
        lab, variants, progress=lambda done, total: progress(done / total, f"{done}/{total} runs")
    )
    from liqcascade.plotting import figure_json

    charts = [c for c in CHART_COLUMNS if c in res.table.columns]
    meta = clean_json(res.meta)
    if isinstance(meta.get("scenario"), str):
        meta["scenario"] = Path(meta["scenario"]).name
    return {
        "file": req.file,
        "seed": res.seed,
        "paths": res.paths,
        "table": frame_records(res.table),
        "chart_columns": charts,
        "figures": {c: figure_json(res.plot(c)) for c in charts},
        "reference_chitra_2025": frame_records(res.reference)
        if res.reference is not None
        else None,
        "meta": meta,
    }


def page_body(state: Any) -> str:
    from liqcascade.web.app import read_template

    return read_template("policy.html", file_options=options_html(policy_files()))


def register(app: FastAPI, state: Any) -> None:
    @app.get("/api/policy/options", tags=["policy"])
    def policy_options() -> dict[str, Any]:
        """Shipped policy and scenario files, and the keys ``vary`` accepts."""
        from liqcascade import policy

        keys = sorted(set(getattr(policy, "_VARY_KEYS", {})))
        return {"files": sorted(policy_files()), "vary_keys": keys}

    @app.post("/api/policy", tags=["policy"])
    def policy_job(req: PolicyRequest) -> dict[str, Any]:
        """Start a policy comparison as a background job; poll ``/api/jobs/{id}``."""
        from liqcascade.policy import parse_vary

        if req.file not in policy_files():
            raise InputError(
                f"file: no shipped policy or scenario {req.file!r} (expected one of {sorted(policy_files())})"
            )
        for i, spec in enumerate(req.vary):  # cheap: refuse a bad spec before queueing the job
            try:
                parse_vary(spec)
            except InputError as exc:
                raise ApiError(422, f"vary[{i}]: {exc}", f"vary[{i}]") from exc
        job = state.jobs.submit("policy", req.model_dump(), lambda p: run_policy_job(req, p))
        return {"job_id": job.id, "status": job.status}
