"""``liqcascade dynamic``: a time-stepped cascade with each venue's process (docs/engine-dynamic.md).

The CLI only parses and prints; the run is :func:`liqcascade.engine.dynamic.simulate`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from liqcascade.cli._common import (
    Col,
    Output,
    emit,
    fail,
    load_book,
    progress,
)


def _number(text: str) -> Any:
    low = text.strip().lower()
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    try:
        return int(text) if low.lstrip("+-").isdigit() else float(text)
    except ValueError:
        return text.strip()


def parse_sets(items: list[str], base: dict[str, Any]) -> dict[str, Any]:
    """Apply ``key=value`` (DynamicConfig field) and ``venue.key=value`` (VenueProcess field)."""
    from liqcascade.errors import ConfigError

    cfg = dict(base)
    venues = {k: dict(v) for k, v in cfg.get("venues", {}).items()}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE or VENUE.KEY=VALUE")
        key = key.strip()
        if "." in key:
            v, _, field = key.partition(".")
            venues.setdefault(v, {})[field] = _number(value)
        elif key == "shock_venues":
            cfg[key] = [s.strip() for s in value.split(",") if s.strip()]
        else:
            cfg[key] = _number(value)
    if venues:
        cfg["venues"] = venues
    return cfg


def run_dynamic(
    positions: Path,
    price: float,
    impact: str,
    shock: float | None = None,
    path: Path | None = None,
    venue: str | None = None,
    symbol: str | None = None,
    config: Path | None = None,
    sets: list[str] | None = None,
    progress: Any = None,
) -> Any:
    """Load the book, build the config, run :func:`simulate`; returns the DynamicResult.

    ``progress(step, steps)`` is passed to :func:`simulate`."""
    from liqcascade.config import read as read_config
    from liqcascade.engine.dynamic import DynamicConfig, simulate
    from liqcascade.errors import InputError
    from liqcascade.impact import parse_impact
    from liqcascade.scenarios.shocks import read_return_path

    if (shock is None) == (path is None):
        raise InputError("give exactly one of --shock or --path")
    base: dict[str, Any] = {}
    if config is not None:
        base = read_config(Path(config), DynamicConfig, what="dynamic config")
    base.setdefault("quiet_stop_s", 60.0)
    name = Path(config).name if config is not None else "dynamic config"
    cfg = DynamicConfig.from_dict(parse_sets(sets or [], base), name=name)
    book = load_book(positions, venue, symbol)
    if shock is not None:
        exo: Any = float(shock)
    else:
        assert path is not None  # exactly one of --shock / --path, checked above
        exo = read_return_path(Path(path), price)
    return simulate(book, parse_impact(impact), exo, cfg, initial_price=price, progress=progress)


def _write(frame: Any, out: Path) -> None:
    if out.suffix.lower() == ".parquet":
        frame.write_parquet(out)
    else:
        frame.write_csv(out)


def register(app: typer.Typer) -> None:
    @app.command("dynamic")
    def dynamic(
        positions: Path = typer.Option(..., "--positions", help="Position book (CSV or Parquet)."),
        price: float = typer.Option(
            ..., "--price", help="Initial price P0 of every venue (quote per base)."
        ),
        impact: str = typer.Option(
            ..., "--impact", help="linear:DEPTH_1PCT | depth:FILE[@TIME] | sqrt:Y,SIGMA,ADV"
        ),
        shock: float = typer.Option(
            None, "--shock", help="One exogenous shock at step 1 (fraction)."
        ),
        path: Path = typer.Option(
            None, "--path", help="CSV/Parquet with a per-step 'return' or 'price' column."
        ),
        venue: str = typer.Option(None, "--venue", help="Only this venue of the book."),
        symbol: str = typer.Option(
            None, "--symbol", help="Symbol to simulate (one asset per run)."
        ),
        config: Path = typer.Option(
            None,
            "--config",
            help="TOML file of DynamicConfig fields ([venues.NAME] tables for VenueProcess); "
            ".json is read as JSON.",
        ),
        sets: list[str] = typer.Option(
            None,
            "--set",
            help="KEY=VALUE (DynamicConfig) or VENUE.KEY=VALUE (VenueProcess); repeatable.",
        ),
        timeline_out: Path = typer.Option(
            None, "--timeline-out", help="Write the timeline (.csv/.parquet)."
        ),
        ledger_out: Path = typer.Option(
            None, "--ledger-out", help="Write the per-event ledger (.csv/.parquet)."
        ),
        output: Output = Output(),
    ) -> None:
        """Time-stepped cascade: venue liquidation processes, insurance funds, vaults, ADL."""
        from liqcascade.errors import LiqcascadeError
        from liqcascade.funds import LOSS_FIELDS

        fmt_ = output.format
        try:
            with progress("dynamic cascade", enabled=fmt_ == "table", unit="steps") as bar:
                res = run_dynamic(
                    positions, price, impact, shock, path, venue, symbol, config, sets, bar
                )
        except LiqcascadeError as exc:
            fail(str(exc))
        if timeline_out is not None:
            _write(res.timeline, timeline_out)
        if ledger_out is not None:
            _write(res.ledger, ledger_out)
        s = res.summary()
        keys = (
            "shock",
            "initial_price",
            "shocked_price",
            "final_price",
            "cascade_multiplier",
            "liquidated_count",
            "liquidated_notional",
            "adl_notional_total",
            "bad_debt_total",
            "conservation_residual",
        )
        cols = ["venue", *LOSS_FIELDS]
        if fmt_ != "table":
            # csv: the losses by venue (one row per venue, raw values)
            emit(
                res.losses.to_dicts(),
                [],
                fmt=fmt_,
                json_doc=json.loads(res.to_json(timeline=False)),
                csv_keys=list(res.losses.columns),
            )
            return
        kinds = {
            "shock": "signed_frac",
            "cascade_multiplier": "ratio",
            "liquidated_notional": "money",
            "adl_notional_total": "money",
            "bad_debt_total": "money",
            "conservation_residual": "number",
        }
        emit(
            [{"field": k, "value": s[k], "kind": kinds.get(k)} for k in keys],
            [Col("field", "figure", kind="text"), Col("value", kind="auto", justify="right")],
            title=f"dynamic cascade ({s['steps_run']} steps, seed {s['seed']}, hub {s['hub_venue']})",
        )
        emit(
            res.losses.select(cols).to_dicts(),
            [Col("venue", kind="text")] + [Col(c, kind="money") for c in cols[1:]],
            title="losses by venue (value received, quote)",
        )
