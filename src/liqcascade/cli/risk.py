"""``liqcascade risk ...``: trader tools (liquidation distance, probability, sizing, stops).

The commands parse arguments, call :mod:`liqcascade.risk` and print; no logic lives here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from liqcascade.cli._common import (
    FORMAT_HELP,
    TYPER_KW,
    Col,
    OutputFormat,
    console,
    emit,
    kind_for,
    kv_cols,
    kv_rows,
    note,
    output_format,
    print_json,
)

risk_app = typer.Typer(
    **TYPER_KW,
    name="risk",
    help="Risk tools for traders: liquidation price and distance, P(liquidation), safe size, stops.",
    no_args_is_help=True,
)


def _show_kv(
    title: str, d: dict[str, Any], fmt: OutputFormat | str, unit: str | None = None
) -> None:
    """A field/value table (csv: ``field,value`` rows with raw values); money in ``unit``."""
    emit(kv_rows(d), kv_cols(unit), fmt=output_format(fmt), title=title, show_header=False)


def _show_frame(
    title: str, df: Any, cols: list[str], fmt: OutputFormat | str, primary: bool = True
) -> None:
    """The columns ``cols`` of the polars frame ``df``; with csv only the primary table prints."""
    fmt_ = output_format(fmt)
    if fmt_ == "csv" and not primary:
        return
    emit(df.select(cols).to_dicts(), [Col(c, kind=_kind(c)) for c in cols], fmt=fmt_, title=title)


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
    jump_intensity: float | None,
    jump_mean: float | None,
    jump_std: float | None,
    store: dict[str, Any] | None = None,
) -> tuple[float, dict[str, Any], dict[str, Any] | None]:
    """Volatility and jump parameters: given on the command line, or fitted to kline files or
    to klines from the market-data store."""
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
        ("jump_intensity_annual", jump_intensity),
        ("jump_mean_log", jump_mean),
        ("jump_std_log", jump_std),
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
_VOL = typer.Option(None, "--vol", help="annualised volatility (365-day year), e.g. 0.6")
_HORIZON = typer.Option(1.0, "--horizon-days", help="horizon in days")
_DRIFT = typer.Option(0.0, "--drift", help="annualised drift of the price itself (mu)")
_MODEL = typer.Option(
    "gbm",
    "--model",
    help="gbm (closed form), jump (Merton, simulated) or ensemble (calibrated market model with "
    "book and liquidity state from --klines, printed beside GBM and Merton)",
)
_KLINES = typer.Option(None, "--klines", help="kline file(s) (.csv/.zip) to fit vol and jumps")
_JI = typer.Option(None, "--jump-intensity", help="jumps per year (lambda)")
_JM = typer.Option(None, "--jump-mean", help="mean jump in log-price, e.g. -0.05")
_JS = typer.Option(None, "--jump-std", help="std of a jump in log-price")
_PATHS = typer.Option(100_000, "--paths", help="simulated paths (jump model)")
_SEED = typer.Option(20251010, "--seed", help="Monte Carlo seed (stored in the output)")
_JSON = typer.Option(False, "--json", help="same as --format json")
_FMT = typer.Option(OutputFormat.table, "--format", case_sensitive=False, help=FORMAT_HELP)
_VENUE = typer.Option("binance_usdm", "--venue", help="venue rules (see `liqcascade venues`)")
_SYMBOL = typer.Option("BTCUSDT", "--symbol", help="venue symbol")


@risk_app.command("prob")
def prob_cmd(
    price: float = typer.Option(..., "--price", help="current (mark) price, quote per base"),
    liq: float = typer.Option(..., "--liq", help="liquidation price, quote per base"),
    side: str = _SIDE,
    vol: float | None = _VOL,
    horizon_days: float = typer.Option(..., "--horizon-days", help="horizon in days"),
    drift: float = _DRIFT,
    model: str = _MODEL,
    klines: list[Path] | None = _KLINES,
    store: str | None = _STORE,
    start: str | None = _START,
    end: str | None = _END,
    db: Path | None = _DB,
    jump_intensity: float | None = _JI,
    jump_mean: float | None = _JM,
    jump_std: float | None = _JS,
    paths: int = _PATHS,
    seed: int = _SEED,
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
) -> None:
    """Probability that the price touches the liquidation price within the horizon."""
    from liqcascade import risk

    if model == "ensemble":
        fmt_ = output_format(fmt, as_json)
        _prob_ensemble(price, liq, side, horizon_days, klines, db, paths, seed, fmt_)
        return

    vol_, jump, fitted = _vol_and_jumps(
        vol, klines, model, jump_intensity, jump_mean, jump_std, _store_spec(store, start, end, db)
    )
    res = risk.prob_liquidation(
        price,
        liq,
        side,
        vol_,
        horizon_days,
        drift_annual=drift,
        model=model,
        n_paths=paths,
        seed=seed,
        **jump,
    )
    out = res.as_dict()
    if fitted is not None:
        out["fitted_from_klines"] = fitted
    if output_format(fmt, as_json) == "json":
        print_json(out)
        return
    _show_kv("Probability of liquidation", out, fmt)


def _prob_ensemble(
    price: float,
    liq: float,
    side: str,
    horizon_days: float,
    klines: list[Path] | None,
    db: Path | None,
    paths: int,
    seed: int,
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
        ensemble_paths=min(paths, 5000),
        jump_paths=paths,
        seed=seed,
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
    venue: str = _VENUE,
    symbol: str = _SYMBOL,
    vol: float | None = _VOL,
    klines: list[Path] | None = _KLINES,
    horizon_days: float = _HORIZON,
    drift: float = _DRIFT,
    move: list[float] | None = typer.Option(
        None, "--move", help="what-if relative move, e.g. -0.1 (repeatable)"
    ),
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
) -> None:
    """Liquidation price, distance (% and vol units), margin ratio and what a move does."""
    from liqcascade import margin as margin_mod
    from liqcascade import risk
    from liqcascade.errors import InputError
    from liqcascade.venues import load_venue

    rules = load_venue(venue, symbol)
    if (margin is None) == (leverage is None):
        raise InputError("give exactly one of --margin (quote) or --leverage")
    if margin is None:
        margin = float(margin_mod.initial_margin(rules, size * entry, leverage))
    vol_ = None
    if vol is not None or klines:
        vol_, _, _ = _vol_and_jumps(vol, klines, "gbm", None, None, None)
    r = risk.position_risk(
        rules,
        side,
        size,
        entry,
        margin,
        mark_price=mark,
        vol_annual=vol_,
        horizon_days=horizon_days,
        drift_annual=drift,
    )
    moves = [
        risk.move_what_if(rules, side, size, entry, margin, m, mark_price=mark) for m in move or []
    ]
    if output_format(fmt, as_json) == "json":
        print_json({**r.as_dict(), "moves": [m.as_dict() for m in moves]})
        return
    _show_kv(f"Position on {rules.venue} {rules.symbol}", r.as_dict(), fmt, rules.quote)
    if moves and output_format(fmt) == "table":
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
    vol: float | None = _VOL,
    horizon_days: float = _HORIZON,
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
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
    if output_format(fmt, as_json) == "json":
        print_json(res.as_dict())
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
    _show_frame(f"Positions ({path.name})", res.positions, cols, fmt)
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
        "Margin pools (cross account or isolated position)", res.accounts, acols, fmt, False
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
    venue: str = _VENUE,
    symbol: str = _SYMBOL,
    vol: float | None = _VOL,
    klines: list[Path] | None = _KLINES,
    horizon_days: float = _HORIZON,
    drift: float = _DRIFT,
    model: str = _MODEL,
    jump_intensity: float | None = _JI,
    jump_mean: float | None = _JM,
    jump_std: float | None = _JS,
    paths: int = _PATHS,
    seed: int = _SEED,
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
) -> None:
    """Largest size (given margin) or leverage (given size) keeping P(liq) under --target."""
    from liqcascade import risk
    from liqcascade.errors import InputError
    from liqcascade.venues import load_venue

    rules = load_venue(venue, symbol)
    vol_, jump, _ = _vol_and_jumps(vol, klines, model, jump_intensity, jump_mean, jump_std)
    kw: dict[str, Any] = dict(
        vol_annual=vol_,
        horizon_days=horizon_days,
        drift_annual=drift,
        model=model,
        jump=jump,
        n_paths=paths,
        seed=seed,
    )
    if (margin is None) == (size is None):
        raise InputError(
            "give exactly one of --margin (solve for size) or --size (solve for leverage)"
        )
    if margin is not None:
        res = risk.safe_size(rules, side, price, margin, target, **kw)
    else:
        assert size is not None  # exactly one of --margin / --size, checked above
        res = risk.safe_leverage(rules, side, price, size, target, **kw)
    if output_format(fmt, as_json) == "json":
        print_json(res.as_dict())
        return
    _show_kv(f"Safe size on {rules.venue} {rules.symbol}", res.as_dict(), fmt, rules.quote)


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
    venue: str = _VENUE,
    symbol: str = _SYMBOL,
    vol: float | None = _VOL,
    klines: list[Path] | None = _KLINES,
    horizon_days: float = _HORIZON,
    drift: float = _DRIFT,
    jump_intensity: float | None = _JI,
    jump_mean: float | None = _JM,
    jump_std: float | None = _JS,
    paths: int = _PATHS,
    seed: int = _SEED,
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
) -> None:
    """What a protective stop, a hedge or a size cut changes (with fees), same paths."""
    from liqcascade import risk
    from liqcascade.venues import load_venue

    rules = load_venue(venue, symbol)
    vol_, jump, _ = _vol_and_jumps(vol, klines, "jump", jump_intensity, jump_mean, jump_std)
    res = risk.stop_analysis(
        rules,
        side,
        size,
        entry,
        margin,
        vol_annual=vol_,
        horizon_days=horizon_days,
        stop_price=stop,
        hedge_ratio=hedge,
        mark_price=mark,
        drift_annual=drift,
        jump=jump,
        stop_slippage_frac=slippage,
        n_paths=paths,
        seed=seed,
    )
    if output_format(fmt, as_json) == "json":
        print_json(res.as_dict())
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
        fmt=output_format(fmt),
        title=f"Stop / hedge over {horizon_days:g} d ({res.n_paths:,} paths, seed {res.seed})",
    )


@risk_app.command("cluster")
def cluster_cmd(
    price: float = typer.Option(..., "--price", help="current price"),
    map_path: Path = typer.Option(
        ..., "--map", help="liquidation map csv/parquet (price_level, side, notional_quote)"
    ),
    band: float = typer.Option(0.01, "--band", help="band width, fraction of price"),
    search: float = typer.Option(0.10, "--search", help="look this far from the price (fraction)"),
    vol: float | None = _VOL,
    horizon_days: float = _HORIZON,
    position_side: str | None = typer.Option(
        None, "--position-side", help="your side (long/short)"
    ),
    position_liq: float | None = typer.Option(
        None, "--position-liq", help="your liquidation price"
    ),
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
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
    if output_format(fmt, as_json) == "json":
        print_json(res.as_dict())
        return
    if output_format(fmt) == "csv":
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
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
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
    if output_format(fmt, as_json) == "json":
        print_json(d)
        return
    flat = {**d["model"], **{k: v for k, v in d.items() if k != "model"}}
    _show_kv("Fitted jump-diffusion", flat, fmt)


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
    fmt: OutputFormat = _FMT,
    as_json: bool = _JSON,
) -> None:
    """Systemic indicators: leverage ratio, OI/1% depth, liquidation density, HHI, critical shock."""
    from liqcascade import metrics
    from liqcascade.book import PositionBook
    from liqcascade.impact import parse_impact

    book = PositionBook.from_file(path)
    imp = parse_impact(impact) if impact else None
    res = metrics.systemic_indicators(book, price, imp, multiplier_threshold=threshold)
    if output_format(fmt, as_json) == "json":
        print_json(res.as_dict())
        return
    d = res.as_dict()
    shares = d.pop("venue_shares")
    notes = d.pop("notes")
    _show_kv(f"Systemic indicators ({path.name})", d, fmt)
    if output_format(fmt) != "table":
        return
    from liqcascade.fmt import frac

    for k, v in shares.items():
        note(f"  {k}: {frac(v, 1)} of open interest")
    for n in notes:
        note(f"note: {n}")


def register(app: typer.Typer) -> None:
    """Add ``liqcascade risk`` to the root app."""
    app.add_typer(risk_app, name="risk")
