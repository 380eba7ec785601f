"""``liqcascade risk ...``: trader tools (liquidation distance, probability, sizing, stops).

The commands parse arguments, call :mod:`liqcascade.risk` and print; no logic lives here.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import (
    TYPER_KW,
    App,
    Col,
    Output,
    console,
    emit,
    kind_for,
    kv_cols,
    kv_rows,
    note,
    option_group,
    print_json,
)

risk_app = App(
    **TYPER_KW,
    name="risk",
    help="Risk tools for traders: liquidation price and distance, P(liquidation), safe size, stops.",
    no_args_is_help=True,
)


def _show_kv(title: str, d: dict[str, Any], fmt: str, unit: str | None = None) -> None:
    """A field/value table (csv: ``field,value`` rows with raw values); money in ``unit``."""
    emit(kv_rows(d), kv_cols(unit), fmt=fmt, title=title, show_header=False)


def _show_frame(title: str, df: Any, cols: list[str], fmt: str, primary: bool = True) -> None:
    """The columns ``cols`` of the polars frame ``df``; with csv only the primary table prints."""
    if fmt == "csv" and not primary:
        return
    emit(df.select(cols).to_dicts(), [Col(c, kind=_kind(c)) for c in cols], fmt=fmt, title=title)


def _kind(name: str) -> str:
    if name in ("account_id", "pool", "symbol", "side", "margin_mode", "name", "venue"):
        return "text"
    if name == "liquidated":
        return "bool"
    return kind_for(name)


def _vol_and_jumps(
    vol: float | None,
    klines: list[Path] | None,
    model: str,
    jumps: _Jumps | None = None,
    store: dict[str, Any] | None = None,
) -> tuple[float, dict[str, Any], dict[str, Any] | None]:
    """Volatility and jump parameters: given on the command line (``jumps``), or fitted to kline
    files or to klines from the market-data store."""
    from liqcascade import risk
    from liqcascade.errors import InputError

    fitted = None
    jump: dict[str, Any] = {}
    if klines and store:
        raise InputError("give --klines or --store, not both")
    if klines or store:
        if store:
            f = risk.fit_from_store(jumps=(model == "jump"), **store)
        else:
            assert klines  # one of the two is given
            f = risk.fit_from_klines(klines, jumps=(model == "jump"))
        fitted = f.as_dict()
        if vol is None:
            vol = f.model.vol_annual
        if model == "jump":
            jump = {
                "jump_intensity_annual": f.model.jump_intensity_annual,
                "jump_mean_log": f.model.jump_mean_log,
                "jump_std_log": f.model.jump_std_log,
            }
    if vol is None:
        raise InputError(
            "--vol is required (annualised, e.g. 0.6) unless --klines or --store is given"
        )
    for key, val in (
        ("jump_intensity_annual", jumps.jump_intensity if jumps else None),
        ("jump_mean_log", jumps.jump_mean if jumps else None),
        ("jump_std_log", jumps.jump_std if jumps else None),
    ):
        if val is not None:
            if model != "jump":
                raise InputError("jump parameters need --model jump")
            jump[key] = val
    return vol, jump, fitted


def _store_spec(
    store: str | None, start: str | None, end: str | None, db: Path | None
) -> dict[str, Any] | None:
    from liqcascade.errors import InputError

    if store is None:
        if start or end or db:
            raise InputError("--start/--end/--db need --store VENUE:SYMBOL")
        return None
    venue, sep, symbol = store.partition(":")
    if not sep or not venue or not symbol:
        raise InputError(f"--store {store!r}: expected VENUE:SYMBOL, e.g. binance_usdm:BTCUSDT")
    return {"venue": venue, "symbol": symbol, "start": start, "end": end, "db": db}


_STORE = typer.Option(None, "--store", help="fit to stored klines: VENUE:SYMBOL (docs/data.md)")
_START = typer.Option(None, "--start", help="store klines from (ISO time, UTC)")
_END = typer.Option(None, "--end", help="store klines until (ISO time, UTC, exclusive)")
_DB = typer.Option(None, "--db", help="store file (default: the standard location)")
_SIDE = typer.Option(..., "--side", help="long or short")
_HORIZON_HELP = "horizon in days"
_MODEL = typer.Option(
    "gbm",
    "--model",
    help="gbm (closed form), jump (Merton, simulated) or ensemble (calibrated market model with "
    "book and liquidity state from --klines, printed beside GBM and Merton)",
)
_Vol = Annotated[
    float | None, typer.Option("--vol", help="annualised volatility (365-day year), e.g. 0.6")
]
_Horizon = Annotated[float, typer.Option("--horizon-days", help=_HORIZON_HELP)]
_Klines = Annotated[
    list[Path] | None,
    typer.Option("--klines", help="kline file(s) (.csv/.zip) to fit vol and jumps"),
]


@option_group
@dataclasses.dataclass(frozen=True)
class _Rules:
    """``--venue``/``--symbol``: whose margin rules apply."""

    venue: Annotated[str, typer.Option("--venue", help="venue rules (see `liqcascade venues`)")] = (
        "binance_usdm"
    )
    symbol: Annotated[str, typer.Option("--symbol", help="venue symbol")] = "BTCUSDT"

    def load(self) -> Any:
        """The venue's rules for the symbol (:func:`liqcascade.venues.load_venue`)."""
        from liqcascade.venues import load_venue

        return load_venue(self.venue, self.symbol)


@option_group
@dataclasses.dataclass(frozen=True)
class _Diffusion:
    """The diffusion of the price over the horizon: volatility given or fitted to klines."""

    vol: _Vol = None
    klines: _Klines = None
    horizon_days: _Horizon = 1.0
    drift: Annotated[
        float, typer.Option("--drift", help="annualised drift of the price itself (mu)")
    ] = 0.0


@option_group
@dataclasses.dataclass(frozen=True)
class _Jumps:
    """Merton jumps (given, or fitted with --klines) and the simulation that prices them."""

    jump_intensity: Annotated[
        float | None, typer.Option("--jump-intensity", help="jumps per year (lambda)")
    ] = None
    jump_mean: Annotated[
        float | None, typer.Option("--jump-mean", help="mean jump in log-price, e.g. -0.05")
    ] = None
    jump_std: Annotated[
        float | None, typer.Option("--jump-std", help="std of a jump in log-price")
    ] = None
    paths: Annotated[int, typer.Option("--paths", help="simulated paths (jump model)")] = 100_000
    seed: Annotated[int, typer.Option("--seed", help="Monte Carlo seed (stored in the output)")] = (
        20251010
    )


@option_group
@dataclasses.dataclass(frozen=True)
class _Output(Output):
    """``--format`` and its short form ``--json``."""

    as_json: Annotated[bool, typer.Option("--json", help="same as --format json")] = False


def _price_model(diffusion: _Diffusion, model: str, jumps: _Jumps) -> dict[str, Any]:
    """The price-model keywords of the risk functions (``vol_annual``, ``horizon_days``,
    ``drift_annual``, ``jump``, ``n_paths``, ``seed``) from the command's options."""
    vol, jump, _ = _vol_and_jumps(diffusion.vol, diffusion.klines, model, jumps)
    return {
        "vol_annual": vol,
        "horizon_days": diffusion.horizon_days,
        "drift_annual": diffusion.drift,
        "jump": jump,
        "n_paths": jumps.paths,
        "seed": jumps.seed,
    }


@risk_app.command("prob")
def prob_cmd(
    price: float = typer.Option(..., "--price", help="current (mark) price, quote per base"),
    liq: float = typer.Option(..., "--liq", help="liquidation price, quote per base"),
    side: str = _SIDE,
    vol: _Vol = None,
    horizon_days: float = typer.Option(..., "--horizon-days", help=_HORIZON_HELP),
    drift: float = typer.Option(0.0, "--drift", help="annualised drift of the price itself (mu)"),
    model: str = _MODEL,
    klines: _Klines = None,
    store: str | None = _STORE,
    start: str | None = _START,
    end: str | None = _END,
    db: Path | None = _DB,
    jumps: _Jumps = _Jumps(),
    output: _Output = _Output(),
) -> None:
    """Probability that the price touches the liquidation price within the horizon."""
    from liqcascade import risk

    if model == "ensemble":
        _prob_ensemble(price, liq, side, horizon_days, klines, db, jumps, output.format)
        return

    vol_, jump, fitted = _vol_and_jumps(
        vol, klines, model, jumps, _store_spec(store, start, end, db)
    )
    res = risk.prob_liquidation(
        price,
        liq,
        side,
        vol_,
        horizon_days,
        drift_annual=drift,
        model=model,
        n_paths=jumps.paths,
        seed=jumps.seed,
        **jump,
    )
    out = res.as_dict()
    if fitted is not None:
        out["fitted_from_klines"] = fitted
    if output.printed_json(out):
        return
    _show_kv("Probability of liquidation", out, output.format)


def _prob_ensemble(
    price: float,
    liq: float,
    side: str,
    horizon_days: float,
    klines: list[Path] | None,
    db: Path | None,
    jumps: _Jumps,
    fmt: str,
) -> None:
    """The calibrated ensemble beside GBM and Merton fitted to the same kline file."""
    from liqcascade.errors import InputError
    from liqcascade.forecast import compare_models

    if not klines or len(klines) != 1:
        raise InputError(
            "--model ensemble needs one --klines file (1m klines; its last bar is now)"
        )
    cmp = compare_models(
        klines[0],
        price,
        liq,
        side,
        horizon_days,
        db=db,
        ensemble_paths=min(jumps.paths, 5000),
        jump_paths=jumps.paths,
        seed=jumps.seed,
    )
    rows: dict[str, Any] = {r["label"]: r["probability"] for r in cmp.rows()}
    ens = cmp.ensemble
    if fmt == "json":
        print_json({"ensemble": ens.as_dict(), "probabilities": rows, "models": cmp.rows()})
        return
    out: dict[str, Any] = {k: v for k, v in rows.items()}
    if fmt == "table":
        from liqcascade.fmt import frac

        out = {k: frac(v) for k, v in rows.items()}
    out["ensemble paths / seed / state at"] = f"{ens.n_paths} / {ens.seed} / {ens.state_time}"
    _show_kv("Probability of liquidation within the horizon", out, fmt)


@risk_app.command("position")
def position_cmd(
    side: str = _SIDE,
    size: float = typer.Option(..., "--size", help="position size, base units"),
    entry: float = typer.Option(..., "--entry", help="entry price, quote per base"),
    margin: float | None = typer.Option(None, "--margin", help="isolated margin, quote"),
    leverage: float | None = typer.Option(
        None, "--leverage", help="initial leverage (margin = N/lev)"
    ),
    mark: float | None = typer.Option(None, "--mark", help="mark price (default: entry)"),
    venue_rules: _Rules = _Rules(),
    diffusion: _Diffusion = _Diffusion(),
    move: list[float] | None = typer.Option(
        None, "--move", help="what-if relative move, e.g. -0.1 (repeatable)"
    ),
    output: _Output = _Output(),
) -> None:
    """Liquidation price, distance (% and vol units), margin ratio and what a move does."""
    from liqcascade import margin as margin_mod
    from liqcascade import risk
    from liqcascade.errors import InputError

    rules = venue_rules.load()
    if (margin is None) == (leverage is None):
        raise InputError("give exactly one of --margin (quote) or --leverage")
    if margin is None:
        margin = float(margin_mod.initial_margin(rules, size * entry, leverage))
    vol_ = None
    if diffusion.vol is not None or diffusion.klines:
        vol_, _, _ = _vol_and_jumps(diffusion.vol, diffusion.klines, "gbm")
    r = risk.position_risk(
        rules,
        side,
        size,
        entry,
        margin,
        mark_price=mark,
        vol_annual=vol_,
        horizon_days=diffusion.horizon_days,
        drift_annual=diffusion.drift,
    )
    moves = [
        risk.move_what_if(rules, side, size, entry, margin, m, mark_price=mark) for m in move or []
    ]
    if output.printed_json({**r.as_dict(), "moves": [m.as_dict() for m in moves]}):
        return
    _show_kv(f"Position on {rules.venue} {rules.symbol}", r.as_dict(), output.format, rules.quote)
    if moves and output.format == "table":
        q = rules.quote
        emit(
            [m.as_dict() for m in moves],
            [
                Col("move_frac", "move", kind="signed_frac"),
                Col("new_price", "new price", kind="price"),
                Col("pnl_change_quote", "PnL change", kind="money", unit=q),
                Col("equity_quote", "equity", kind="money", unit=q),
                Col("maintenance_margin_quote", "MM", kind="money", unit=q),
                Col("margin_ratio", "margin ratio", kind="frac"),
                Col("liquidated", kind="bool", justify="right"),
            ],
            title="What a move does",
        )


@risk_app.command("account")
def account_cmd(
    path: Path = typer.Argument(..., help="positions CSV/Parquet, or ccxt fetch_positions JSON"),
    venue: str | None = typer.Option(None, "--venue", help="venue (required for ccxt JSON)"),
    symbol: str | None = typer.Option(None, "--symbol", help="symbol when the file has none"),
    collateral: float | None = typer.Option(
        None, "--collateral", help="cross wallet balance, quote"
    ),
    mark: list[str] | None = typer.Option(None, "--mark", help="SYMBOL=PRICE (repeatable)"),
    move: float | None = typer.Option(None, "--move", help="common relative move of every mark"),
    vol: _Vol = None,
    horizon_days: _Horizon = 1.0,
    output: _Output = _Output(),
) -> None:
    """Risk of every position and margin pool in a positions file."""
    from liqcascade import risk
    from liqcascade.errors import InputError

    book, marks = risk.load_positions(
        path, venue=venue, symbol=symbol, account_collateral_quote=collateral
    )
    for m in mark or []:
        if "=" not in m:
            raise InputError(f"--mark {m!r}: expected SYMBOL=PRICE")
        k, v = m.split("=", 1)
        try:
            marks[k.strip()] = float(v)
        except ValueError as exc:
            raise InputError(f"--mark {m!r}: price is not a number") from exc
    res = risk.account_risk(
        book, marks=marks, move_frac=move, vol_annual=vol, horizon_days=horizon_days
    )
    if output.printed_json(res.as_dict()):
        return
    cols = [
        "account_id",
        "symbol",
        "side",
        "margin_mode",
        "size_base",
        "mark_price",
        "liquidation_price",
        "distance_frac",
    ]
    if vol is not None:
        cols += ["distance_sigma", "liquidation_probability_gbm"]
    if move is not None:
        cols += ["pnl_change_quote", "liquidated"]
    _show_frame(f"Positions ({path.name})", res.positions, cols, output.format)
    acols = [
        "pool",
        "margin_mode",
        "collateral_quote",
        "equity_quote",
        "maintenance_margin_quote",
        "margin_ratio",
        "effective_leverage",
    ]
    if move is not None:
        acols += ["new_equity_quote", "new_margin_ratio", "liquidated"]
    _show_frame(
        "Margin pools (cross account or isolated position)",
        res.accounts,
        acols,
        output.format,
        False,
    )


@risk_app.command("size")
def size_cmd(
    side: str = _SIDE,
    price: float = typer.Option(..., "--price", help="entry price, quote per base"),
    target: float = typer.Option(0.01, "--target", help="maximum P(liquidation) over the horizon"),
    margin: float | None = typer.Option(None, "--margin", help="isolated margin (solve for size)"),
    size: float | None = typer.Option(
        None, "--size", help="size in base units (solve for leverage)"
    ),
    venue_rules: _Rules = _Rules(),
    diffusion: _Diffusion = _Diffusion(),
    model: str = _MODEL,
    jumps: _Jumps = _Jumps(),
    output: _Output = _Output(),
) -> None:
    """Largest size (given margin) or leverage (given size) keeping P(liq) under --target."""
    from liqcascade import risk
    from liqcascade.errors import InputError

    rules = venue_rules.load()
    kw = {**_price_model(diffusion, model, jumps), "model": model}
    if (margin is None) == (size is None):
        raise InputError(
            "give exactly one of --margin (solve for size) or --size (solve for leverage)"
        )
    if margin is not None:
        res = risk.safe_size(rules, side, price, margin, target, **kw)
    else:
        assert size is not None  # exactly one of --margin / --size, checked above
        res = risk.safe_leverage(rules, side, price, size, target, **kw)
    if output.printed_json(res.as_dict()):
        return
    _show_kv(
        f"Safe size on {rules.venue} {rules.symbol}", res.as_dict(), output.format, rules.quote
    )


@risk_app.command("stop")
def stop_cmd(
    side: str = _SIDE,
    size: float = typer.Option(..., "--size", help="position size, base units"),
    entry: float = typer.Option(..., "--entry", help="entry price"),
    margin: float = typer.Option(..., "--margin", help="isolated margin, quote"),
    stop: float | None = typer.Option(None, "--stop", help="stop-market trigger price"),
    hedge: float = typer.Option(
        0.0, "--hedge", help="hedge ratio in [0,1] (also tried as a size cut)"
    ),
    mark: float | None = typer.Option(None, "--mark", help="current price (default entry)"),
    slippage: float = typer.Option(0.0, "--slippage", help="stop fill slippage, fraction"),
    venue_rules: _Rules = _Rules(),
    diffusion: _Diffusion = _Diffusion(),
    jumps: _Jumps = _Jumps(),
    output: _Output = _Output(),
) -> None:
    """What a protective stop, a hedge or a size cut changes (with fees), same paths."""
    from liqcascade import risk

    rules = venue_rules.load()
    res = risk.stop_analysis(
        rules,
        side,
        size,
        entry,
        margin,
        stop_price=stop,
        hedge_ratio=hedge,
        mark_price=mark,
        stop_slippage_frac=slippage,
        **_price_model(diffusion, "jump", jumps),
    )
    if output.printed_json(res.as_dict()):
        return
    from dataclasses import asdict

    q = rules.quote
    emit(
        [asdict(sc) for sc in res.scenarios],
        [
            Col("name", "scenario", kind="text"),
            Col("prob_stop", "P(stop)", kind="frac"),
            Col("prob_liquidation", "P(liq)", kind="frac"),
            Col("expected_realised_loss_quote", "E[realised loss]", kind="money", unit=q),
            Col("expected_pnl_quote", "E[PnL]", kind="money", unit=q),
            Col("expected_fees_quote", "E[fees]", kind="money", unit=q),
            Col("loss_given_stop_quote", "loss | stop", kind="money", unit=q),
            Col("loss_given_liquidation_quote", "loss | liq", kind="money", unit=q),
            Col("liquidation_price", "liq price", kind="price"),
        ],
        fmt=output.format,
        title=f"Stop / hedge over {diffusion.horizon_days:g} d ({res.n_paths:,} paths, seed {res.seed})",
    )


@risk_app.command("cluster")
def cluster_cmd(
    price: float = typer.Option(..., "--price", help="current price"),
    map_path: Path = typer.Option(
        ..., "--map", help="liquidation map csv/parquet (price_level, side, notional_quote)"
    ),
    band: float = typer.Option(0.01, "--band", help="band width, fraction of price"),
    search: float = typer.Option(0.10, "--search", help="look this far from the price (fraction)"),
    vol: _Vol = None,
    horizon_days: _Horizon = 1.0,
    position_side: str | None = typer.Option(
        None, "--position-side", help="your side (long/short)"
    ),
    position_liq: float | None = typer.Option(
        None, "--position-liq", help="your liquidation price"
    ),
    output: _Output = _Output(),
) -> None:
    """Warn when the price is near a dense band of the estimated liquidation map."""
    import polars as pl

    from liqcascade import risk
    from liqcascade.errors import DataError

    if not map_path.is_file():
        raise DataError(f"{map_path}: liquidation map file not found")
    try:
        df = (
            pl.read_parquet(map_path)
            if map_path.suffix in (".parquet", ".pq")
            else pl.read_csv(map_path)
        )
    except pl.exceptions.PolarsError as exc:
        raise DataError(f"{map_path}: cannot read the liquidation map ({exc})") from exc
    res = risk.cluster_warning(
        price,
        df,
        band_frac=band,
        search_frac=search,
        vol_annual=vol,
        horizon_days=horizon_days,
        position_side=position_side,
        position_liq_price=position_liq,
    )
    if output.printed_json(res.as_dict()):
        return
    if output.format == "csv":
        from dataclasses import asdict

        rows = [asdict(b) for b in res.bands]
        emit(rows, [Col(k) for k in (rows[0] if rows else {"side": 0})], fmt="csv")
        return
    for b in res.bands:
        console.print(b.message, style="red" if b.warning else None, markup=False)
    if res.position_message:
        console.print(res.position_message)
    if not res.bands:
        console.print("no liquidations within the search range")


@risk_app.command("fit")
def fit_cmd(
    klines: list[Path] | None = typer.Argument(None, help="kline files (.csv or .zip)"),
    store: str | None = _STORE,
    start: str | None = _START,
    end: str | None = _END,
    db: Path | None = _DB,
    threshold: float = typer.Option(4.0, "--threshold", help="jump threshold, robust sigmas"),
    output: _Output = _Output(),
) -> None:
    """Fit diffusion volatility and Merton jumps to kline closes (annualised, 365 days)."""
    from liqcascade import risk
    from liqcascade.errors import InputError

    spec = _store_spec(store, start, end, db)
    if bool(klines) == bool(spec):
        raise InputError("give kline files or --store VENUE:SYMBOL (one of them)")
    if spec:
        f = risk.fit_from_store(threshold_sigmas=threshold, **spec)
    else:
        assert klines  # one of the two is given, checked above
        f = risk.fit_from_klines(klines, threshold_sigmas=threshold)
    d = f.as_dict()
    if output.printed_json(d):
        return
    flat = {**d["model"], **{k: v for k, v in d.items() if k != "model"}}
    _show_kv("Fitted jump-diffusion", flat, output.format)


@risk_app.command("systemic")
def systemic_cmd(
    path: Path = typer.Argument(..., help="positions CSV/Parquet of one underlying (any venues)"),
    price: float = typer.Option(..., "--price", help="current price, quote per base"),
    impact: str | None = typer.Option(
        None,
        "--impact",
        help="impact of the pooled book: linear:DEPTH_1PCT, depth:FILE[@TIME], sqrt:Y,SIGMA,ADV",
    ),
    threshold: float = typer.Option(2.0, "--multiplier", help="cascade multiplier threshold"),
    output: _Output = _Output(),
) -> None:
    """Systemic indicators: leverage ratio, OI/1% depth, liquidation density, HHI, critical shock."""
    from liqcascade import metrics
    from liqcascade.book import PositionBook
    from liqcascade.impact import parse_impact

    book = PositionBook.from_file(path)
    imp = parse_impact(impact) if impact else None
    res = metrics.systemic_indicators(book, price, imp, multiplier_threshold=threshold)
    if output.printed_json(res.as_dict()):
        return
    d = res.as_dict()
    shares = d.pop("venue_shares")
    notes = d.pop("notes")
    _show_kv(f"Systemic indicators ({path.name})", d, output.format)
    if output.format != "table":
        return
    from liqcascade.fmt import frac

    for k, v in shares.items():
        note(f"  {k}: {frac(v, 1)} of open interest")
    for n in notes:
        note(f"note: {n}")


def register(app: typer.Typer) -> None:
    """Add ``liqcascade risk`` to the root app."""
    app.add_typer(risk_app, name="risk")
