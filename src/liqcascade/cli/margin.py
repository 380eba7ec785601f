"""``liqcascade liq-price`` and ``liqcascade vectors check``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer

from liqcascade.cli._common import (
    Col,
    FormatOpt,
    JsonOpt,
    Output,
    OutputFormat,
    emit,
    fail,
    kv_cols,
    kv_rows,
    note,
    output_format,
    print_json,
    sub_app,
)


def register(app: typer.Typer) -> None:
    vectors_app = sub_app(
        app, "vectors", "Venue test vectors: check the margin engine against them."
    )

    @vectors_app.command("check")
    def vectors_check(
        file: Annotated[
            Path,
            typer.Argument(help="JSON file of cases (schema of shared/vectors/margin_cases.json)"),
        ],
        json_out: JsonOpt = False,
        failures_only: Annotated[
            bool, typer.Option("--failures-only", help="Only print failing rows")
        ] = False,
        fmt: FormatOpt = OutputFormat.table,
    ) -> None:
        """Evaluate every case of FILE from its inputs; exit 1 if any case fails."""
        from liqcascade.vectors import check_cases, format_value, load_cases

        fmt_ = output_format(fmt, json_out)

        results = check_cases(load_cases(file))
        n_pass = sum(r.passed for r in results)
        n_fail = len(results) - n_pass
        cases = [
            {
                "id": r.id,
                "venue": r.venue,
                "quantity": r.quantity,
                "expected": format_value(r.expected),
                "got": format_value(r.got),
                "rel_err": r.rel_err,
                "passed": r.passed,
                "tolerance": r.tolerance,
                "reason": r.reason,
            }
            for r in results
        ]
        if fmt_ == "json":
            print_json({"file": str(file), "passed": n_pass, "failed": n_fail, "cases": cases})
        else:
            rows = [
                {
                    **case,
                    "rel_err_cell": f"{r.rel_err:.2e}" if math.isfinite(r.rel_err) else "-",
                    "result": "pass" if r.passed else f"FAIL {r.reason}",
                }
                for r, case in zip(results, cases, strict=True)
                if not (failures_only and r.passed)
            ]
            keys = ["id", "venue", "quantity", "expected", "got", "rel_err", "passed", "tolerance"]
            emit(
                rows,
                [
                    Col("id", kind="text"),
                    Col("expected", kind="text", justify="right"),
                    Col("got", kind="text", justify="right"),
                    Col("rel_err_cell", "rel err", kind="text", justify="right"),
                    Col("result", kind="text", style=lambda v: "green" if v == "pass" else "red"),
                ],
                fmt=fmt_,
                title=f"margin vectors: {file}",
                csv_keys=keys + ["reason"],
            )
            if fmt_ == "csv":
                if n_fail:
                    raise typer.Exit(1)
                return
        # Plain closing line (read by CI tooling): exactly "N passed, M failed".
        print(f"{n_pass} passed, {n_fail} failed", flush=True)
        if n_fail:
            raise typer.Exit(1)

    @app.command("liq-price")
    def liq_price(
        venue: Annotated[
            str,
            typer.Option(
                help="binance_usdm, hyperliquid, bybit_linear, okx_swap, dydx_v4, generic"
            ),
        ],
        symbol: Annotated[
            str, typer.Option(help="Venue symbol, e.g. BTCUSDT, BTC, BTC-USDT-SWAP, BTC-USD")
        ],
        side: Annotated[str, typer.Option(help="long or short")],
        entry: Annotated[float, typer.Option(help="Entry price (quote per base)")],
        size: Annotated[float, typer.Option(help="Position size in base units (> 0)")],
        leverage: Annotated[
            float | None, typer.Option(help="Leverage; margin = size*entry/leverage")
        ] = None,
        margin_quote: Annotated[
            float | None, typer.Option("--margin", help="Isolated margin in quote currency")
        ] = None,
        mode: Annotated[str, typer.Option(help="isolated or cross")] = "isolated",
        wallet: Annotated[
            float | None, typer.Option(help="Cross wallet balance (quote); cross mode")
        ] = None,
        other_mm: Annotated[
            float, typer.Option(help="Cross: maintenance margin of other positions")
        ] = 0.0,
        other_upnl: Annotated[
            float, typer.Option(help="Cross: unrealised PnL of other positions")
        ] = 0.0,
        version: Annotated[
            str | None, typer.Option(help="Rule-table version (default: venue's)")
        ] = None,
        tiers_file: Annotated[
            Path | None,
            typer.Option(
                "--tiers-file", help="Own tier table (JSON/TOML/CSV or leverageBracket JSON)"
            ),
        ] = None,
        output: Output = Output(),
    ) -> None:
        """Liquidation price, bankruptcy price, maintenance margin and tier of one position."""
        from liqcascade import margin
        from liqcascade.errors import InputError, LiqcascadeError
        from liqcascade.venues import load_tier_file, load_venue, normalize_venue

        if (leverage is None) == (margin_quote is None) and mode == "isolated":
            fail("give exactly one of --leverage or --margin")
        if mode not in ("isolated", "cross"):
            fail(f"--mode {mode!r}: expected isolated or cross")
        if tiers_file is not None:
            if normalize_venue(venue) == "binance_usdm" and tiers_file.suffix == ".json":
                try:
                    rules = load_venue(venue, symbol, bracket_file=tiers_file)
                except InputError:
                    rules = load_tier_file(tiers_file, venue=venue, symbol=symbol)
            else:
                rules = load_tier_file(tiers_file, venue=venue, symbol=symbol)
        else:
            rules = load_venue(venue, symbol, version=version)
        for name, value in (("--size", size), ("--entry", entry)):
            if not (math.isfinite(value) and value > 0):
                fail(f"{name} must be a finite number > 0, got {value}")
        if margin_quote is not None and not (math.isfinite(margin_quote) and margin_quote > 0):
            fail(f"--margin must be a finite number > 0, got {margin_quote}")
        notional = size * entry
        im = None
        if leverage is not None:
            im = float(margin.initial_margin(rules, notional, leverage))
        elif margin_quote is not None and mode == "isolated":
            # The posted margin implies a leverage; the venue must allow it at this notional.
            implied = notional / margin_quote
            try:
                margin.initial_margin(rules, notional, implied)
            except LiqcascadeError as exc:
                fail(
                    f"--margin {margin_quote:,.2f} implies leverage {implied:,.2f} on notional "
                    f"{notional:,.2f}, above what {rules.venue} {rules.symbol} allows: {exc}"
                )
            im = margin_quote
        if mode == "cross":
            if wallet is None:
                fail("--mode cross needs --wallet (cross wallet balance in quote)")
            collateral = wallet - other_mm + other_upnl
        else:
            # isolated: exactly one of --leverage / --margin was given, so im is set
            assert im is not None
            collateral = im
        lp, tier = margin.liquidation_price_and_tier(rules, side, size, entry, collateral)
        bp = margin.bankruptcy_price(rules, side, size, entry, collateral)
        lp_f = float(lp)
        k_entry = int(rules.tiers.index(notional))
        mm_entry = float(margin.maintenance_margin(rules, notional))
        mm_liq = (
            float(margin.maintenance_margin(rules, size * lp_f))
            if math.isfinite(lp_f)
            else math.nan
        )
        out = {
            "venue": rules.venue,
            "symbol": rules.symbol,
            "rules_version": rules.version,
            "effective_date": rules.effective_date,
            "source_url": rules.source_url,
            "side": side,
            "mode": mode,
            "entry_price": entry,
            "size_base": size,
            "notional_quote": notional,
            "leverage": leverage
            if leverage is not None
            else (notional / collateral if collateral else None),
            "margin_quote": collateral,
            "initial_margin_quote": im,
            "liquidation_price": lp_f,
            "bankruptcy_price": float(bp),
            "maintenance_margin_quote_at_entry": mm_entry,
            "maintenance_margin_quote_at_liquidation": mm_liq,
            "tier_at_entry": k_entry + 1,
            "tier_at_liquidation": int(tier) + 1,
            "mmr_at_liquidation": float(rules.tiers.mmr[int(tier)]),
            "liquidation_fee_rate": rules.liquidation_fee_rate,
        }
        fmt_ = output.format
        shown = {k: v for k, v in out.items() if k != "source_url"}
        emit(
            kv_rows(shown),
            kv_cols(rules.quote),
            fmt=fmt_,
            title=f"{rules.venue} {rules.symbol} ({rules.version}, {rules.effective_date})",
            show_header=False,
            json_doc=out,
        )
        if fmt_ == "table":
            note(f"source: {rules.source_url}")
