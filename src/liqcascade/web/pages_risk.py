"""Risk calculator page and API: liquidation price, distance, probability of liquidation and
safe size for one isolated position, from ``liqcascade.risk`` on the venue's own rules
(``liqcascade.venues`` / ``liqcascade.margin``)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from liqcascade.web.common import clean_json

PATH = "/risk"
SLUG = "risk"
TITLE = "Risk calculator"
BLURB = "liquidation price, distance, probability of liquidation over a horizon, safe size."

#: Horizons (days) of the probability-by-horizon curve drawn for the closed-form model.
CURVE_HORIZONS_DAYS: tuple[float, ...] = (
    0.25,
    0.5,
    1,
    2,
    3,
    5,
    7,
    10,
    14,
    21,
    30,
    45,
    60,
    90,
    180,
    365,
)


def missing_capability() -> str | None:
    try:
        from liqcascade import margin, risk  # noqa: F401
        from liqcascade.venues import load_venue  # noqa: F401

        for name in ("position_risk", "prob_liquidation", "safe_size"):
            getattr(risk, name)
    except (ImportError, AttributeError) as exc:
        return f"risk tools not installed ({exc})"
    return None


class RiskRequest(BaseModel):
    """One isolated position and the market assumptions for its liquidation probability.

    Give exactly one of ``margin_quote`` (isolated margin, quote) or ``leverage`` (margin is then
    the venue's initial margin of the notional at that leverage). ``vol_annual`` and
    ``drift_annual`` are annualised over 365 days; ``drift_annual`` is the drift of the price.
    """

    model_config = ConfigDict(extra="forbid")
    venue: str = Field(default="binance_usdm", min_length=1, max_length=40)
    symbol: str = Field(default="BTCUSDT", min_length=1, max_length=40)
    side: Literal["long", "short"] = "long"
    entry_price: float = Field(gt=0, allow_inf_nan=False, description="quote per base")
    size_base: float = Field(gt=0, allow_inf_nan=False, description="position size, base units")
    margin_quote: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    leverage: float | None = Field(default=None, gt=0, le=2000, allow_inf_nan=False)
    mark_price: float | None = Field(
        default=None, gt=0, allow_inf_nan=False, description="default: entry"
    )
    vol_annual: float = Field(default=0.6, gt=0, le=20, allow_inf_nan=False)
    horizon_days: float = Field(default=7.0, gt=0, le=3650, allow_inf_nan=False)
    drift_annual: float = Field(default=0.0, ge=-20, le=20, allow_inf_nan=False)
    model: Literal["gbm", "jump"] = "gbm"
    jump_intensity_annual: float = Field(default=0.0, ge=0, le=10_000, allow_inf_nan=False)
    jump_mean_log: float = Field(default=0.0, ge=-5, le=5, allow_inf_nan=False)
    jump_std_log: float = Field(default=0.0, ge=0, le=5, allow_inf_nan=False)
    n_paths: int = Field(default=20_000, ge=100, le=1_000_000)
    seed: int = Field(default=20251010, ge=0, le=2**63 - 1)
    target_prob: float = Field(default=0.05, gt=0, lt=1, allow_inf_nan=False)

    @model_validator(mode="after")
    def _one_of(self) -> RiskRequest:
        if (self.margin_quote is None) == (self.leverage is None):
            raise ValueError("give exactly one of margin_quote or leverage")
        return self


def compute_risk(req: RiskRequest, progress: Any = None) -> dict[str, Any]:
    """Call the library for the position figures, the probability and the safe size."""
    from liqcascade import margin as margin_mod
    from liqcascade import risk
    from liqcascade.venues import load_venue

    def step(frac: float, msg: str) -> None:
        if progress is not None:
            progress(frac, msg)

    rules = load_venue(req.venue, req.symbol)
    margin = req.margin_quote
    if margin is None:
        margin = float(
            margin_mod.initial_margin(rules, req.size_base * req.entry_price, req.leverage)
        )
    step(0.05, "position")
    pos = risk.position_risk(
        rules,
        req.side,
        req.size_base,
        req.entry_price,
        margin,
        mark_price=req.mark_price,
        vol_annual=req.vol_annual,
        horizon_days=req.horizon_days,
        drift_annual=req.drift_annual,
    )
    jump: dict[str, float] = {}
    sim: dict[str, Any] = {}
    if req.model == "jump":
        jump = {
            "jump_intensity_annual": req.jump_intensity_annual,
            "jump_mean_log": req.jump_mean_log,
            "jump_std_log": req.jump_std_log,
        }
        sim = {"n_paths": req.n_paths, "seed": req.seed}
    prob = None
    curve = None
    liq_ok = pos.liquidation_price > 0 and pos.distance_frac > 0
    if liq_ok:
        step(0.15, "probability of liquidation")
        prob = risk.prob_liquidation(
            pos.mark_price,
            pos.liquidation_price,
            req.side,
            req.vol_annual,
            req.horizon_days,
            drift_annual=req.drift_annual,
            model=req.model,
            **jump,
            **sim,
        ).as_dict()
        if req.model == "gbm":
            curve = {"horizon_days": list(CURVE_HORIZONS_DAYS), "probability": []}
            for h in CURVE_HORIZONS_DAYS:
                p = risk.prob_liquidation(
                    pos.mark_price,
                    pos.liquidation_price,
                    req.side,
                    req.vol_annual,
                    h,
                    drift_annual=req.drift_annual,
                )
                curve["probability"].append(p.probability)
    step(0.5, "safe size")
    safe = risk.safe_size(
        rules,
        req.side,
        pos.mark_price,
        margin,
        req.target_prob,
        vol_annual=req.vol_annual,
        horizon_days=req.horizon_days,
        drift_annual=req.drift_annual,
        model=req.model,
        jump=jump or None,
        **sim,
    ).as_dict()
    return clean_json(
        {
            "venue": rules.venue,
            "symbol": rules.symbol,
            "margin_quote": margin,
            "position": pos.as_dict(),
            "probability": prob,
            "safe_size": safe,
            "horizon_curve": curve,
        }
    )


def register(app: FastAPI, state: Any) -> None:
    from liqcascade.web.app import read_template, render_page

    @app.post("/api/risk", tags=["risk"])
    def risk_now(req: RiskRequest) -> dict[str, Any]:
        """Position risk, probability of liquidation and safe size, computed in the request.

        Use ``/api/risk/jobs`` for the simulated jump model with many paths (it can take seconds).
        """
        return compute_risk(req)

    @app.post("/api/risk/jobs", tags=["risk"])
    def risk_job(req: RiskRequest) -> dict[str, Any]:
        """The same as ``/api/risk`` as a background job; poll ``/api/jobs/{id}``."""
        job = state.jobs.submit("risk", req.model_dump(), lambda p: compute_risk(req, p))
        return {"job_id": job.id, "status": job.status}

    @app.get(PATH, response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        try:
            from liqcascade.venues import list_venues

            venues = list_venues()
        except ImportError:  # pragma: no cover
            venues = ["binance_usdm"]
        opts = "".join(f'<option value="{v}">{v}</option>' for v in venues)
        return render_page(
            state,
            title=TITLE,
            body=read_template("risk.html", venue_options=opts),
            script="risk.js",
            active=PATH,
        )
