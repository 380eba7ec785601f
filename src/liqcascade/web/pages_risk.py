"""Risk calculator page and API: liquidation price, distance, probability of liquidation and
safe size for one isolated position, from ``liqcascade.risk`` on the venue's own rules
(``liqcascade.venues`` / ``liqcascade.margin``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, model_validator

from liqcascade.errors import InputError
from liqcascade.web.common import PageInfo, clean_json, options_html
from liqcascade.web.safety import safe_path

PAGE = PageInfo(
    path="/risk",
    slug="risk",
    title="Risk calculator",
    blurb="liquidation price, distance, probability of liquidation over a horizon, safe size.",
    needs=(
        "liqcascade.margin",
        "liqcascade.venues:load_venue",
        "liqcascade.risk:position_risk",
        "liqcascade.risk:prob_liquidation",
        "liqcascade.risk:safe_size",
    ),
    capability="risk tools",
)


def sample_kline_files() -> dict[str, Path]:
    """Shipped Binance 1m kline files by file name (the ensemble model starts from one)."""
    from liqcascade.resources import sample_data_dir

    root = sample_data_dir() / "binance" / "um" / "klines"
    return {p.name: p for p in sorted(root.glob("*-1m-*.csv"))} if root.is_dir() else {}


def default_kline_file() -> str | None:
    """The newest shipped BTCUSDT 1m kline file (its last bar is the ensemble's "now")."""
    btc = [n for n in sample_kline_files() if n.startswith("BTCUSDT-")]
    return btc[-1] if btc else None


def ensemble_available() -> bool:
    try:
        from liqcascade.forecast import liquidation_probability  # noqa: F401
    except ImportError:
        return False
    return bool(sample_kline_files())


class RiskRequest(BaseModel):
    """One isolated position and the market assumptions for its liquidation probability.

    Give exactly one of ``margin_quote`` (isolated margin, quote) or ``leverage`` (margin is then
    the venue's initial margin of the notional at that leverage). ``vol_annual`` and
    ``drift_annual`` are annualised over 365 days; ``drift_annual`` is the drift of the price.

    ``model="ensemble"`` is the calibrated market model (``liqcascade.forecast``) started from
    the last bar of a 1m kline file: ``klines_file`` is a shipped sample (``klines_source=
    "sample"``, default the newest BTCUSDT file) or a data-directory path (``"data"``); it is
    shown beside GBM and Merton fitted to the same file. The safe size then uses GBM at
    ``vol_annual``.
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
    model: Literal["gbm", "jump", "ensemble"] = "gbm"
    klines_source: Literal["sample", "data"] = "sample"
    klines_file: str | None = Field(default=None, min_length=1, max_length=400)
    ensemble_paths: int = Field(default=1000, ge=100, le=20_000)
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


def klines_path(req: RiskRequest, data_dir: Path) -> Path:
    """The kline file of an ensemble request (shipped by name, or inside the data directory)."""
    name = req.klines_file or default_kline_file()
    if req.klines_source == "sample":
        files = sample_kline_files()
        if name not in files:
            raise InputError(
                f"klines_file: no shipped 1m kline file {name!r} (expected one of {sorted(files)})"
            )
        return files[name]
    if req.klines_file is None:
        raise InputError("klines_file: give a data-directory path such as uploads/klines.csv")
    path = safe_path(data_dir, req.klines_file, field="klines_file")
    if not path.is_file():
        raise InputError(f"klines_file: no file {req.klines_file!r} in the data directory")
    return path


def compare_models(
    req: RiskRequest, pos: Any, klines: Path, step: Any
) -> tuple[dict[str, Any], list[Any], dict[str, Any]]:
    """The calibrated ensemble beside GBM and Merton fitted to the same klines
    (:func:`liqcascade.forecast.compare_models`, as ``liqcascade risk prob --model ensemble``
    prints them): the ensemble's figures, one row per model and the comparison's figure."""
    from liqcascade.forecast import compare_models as compare
    from liqcascade.plotting import figure_json

    step(0.15, f"ensemble of {req.ensemble_paths} paths from {klines.name}, GBM and Merton")
    cmp = compare(
        klines,
        pos.mark_price,
        pos.liquidation_price,
        req.side,
        req.horizon_days,
        ensemble_paths=req.ensemble_paths,
        jump_paths=req.n_paths,
        seed=req.seed,
    )
    ens_d = {**cmp.ensemble.as_dict(), "klines_file": cmp.klines_file}
    return ens_d, cmp.rows(), figure_json(cmp.plot())


def compute_risk(
    req: RiskRequest, progress: Any = None, data_dir: Path | None = None
) -> dict[str, Any]:
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
    jump: dict[str, Any] = {}
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
    curve_figure = None
    comparison = None
    comparison_figure = None
    liq_ok = pos.liquidation_price > 0 and pos.distance_frac > 0
    if req.model == "ensemble":
        klines = klines_path(req, data_dir or Path("."))
        if liq_ok:
            prob, comparison, comparison_figure = compare_models(req, pos, klines, step)
    elif liq_ok:
        step(0.15, "probability of liquidation")
        chosen = risk.prob_liquidation(
            pos.mark_price,
            pos.liquidation_price,
            req.side,
            req.vol_annual,
            req.horizon_days,
            drift_annual=req.drift_annual,
            model=req.model,
            **jump,
            **sim,
        )
        prob = chosen.as_dict()
        if req.model == "gbm":
            from liqcascade.plotting import figure_json

            hc = risk.probability_by_horizon(
                pos.mark_price,
                pos.liquidation_price,
                req.side,
                req.vol_annual,
                drift_annual=req.drift_annual,
            )
            curve = {"horizon_days": list(hc.horizon_days), "probability": list(hc.probability)}
            title = f"Probability of liquidation by horizon ({rules.venue} {rules.symbol})"
            curve_figure = figure_json(hc.plot(chosen=chosen, title=title))
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
        model="gbm" if req.model == "ensemble" else req.model,
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
            "safe_size_model": "gbm" if req.model == "ensemble" else req.model,
            "horizon_curve": curve,
            "horizon_figure": curve_figure,
            "comparison": comparison,
            "comparison_figure": comparison_figure,
        }
    )


def page_body(state: Any) -> str:
    from liqcascade.web.app import read_template

    try:
        from liqcascade.venues import list_venues

        venues = list_venues()
    except ImportError:  # pragma: no cover
        venues = ["binance_usdm"]
    models = [("gbm", "GBM (closed form)"), ("jump", "jump-diffusion (simulated, job)")]
    if ensemble_available():
        models.append(("ensemble", "calibrated ensemble, beside GBM and Merton (job)"))
    return read_template(
        "risk.html",
        venue_options=options_html(venues),
        kline_options=options_html(sample_kline_files(), selected=default_kline_file()),
        model_options=options_html(models),
    )


def register(app: FastAPI, state: Any) -> None:
    @app.post("/api/risk", tags=["risk"])
    def risk_now(req: RiskRequest) -> dict[str, Any]:
        """Position risk, probability of liquidation and safe size, computed in the request.

        Use ``/api/risk/jobs`` for the simulated jump model with many paths (it can take seconds).
        """
        return compute_risk(req, data_dir=state.data_dir)

    @app.post("/api/risk/jobs", tags=["risk"])
    def risk_job(req: RiskRequest) -> dict[str, Any]:
        """The same as ``/api/risk`` as a background job; poll ``/api/jobs/{id}``.

        The page uses it for the jump model and the ensemble (seconds to tens of seconds).
        """
        if req.model == "ensemble":
            klines_path(req, state.data_dir)  # refuse a bad file name before queueing
        job = state.jobs.submit(
            "risk", req.model_dump(), lambda p: compute_risk(req, p, data_dir=state.data_dir)
        )
        return {"job_id": job.id, "status": job.status}
