"""``liqcascade policy SCENARIO.toml --vary ...``: the policy lab's comparison table."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, cast

import typer

from liqcascade.cli._common import (
    FormatOpt,
    OutputFormat,
    console,
    emit,
    err_console,
    format_money,
    output_format,
    print_table,
    progress,
)


def _frac(v: float | None) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.1%}"


def _with_interval(row: dict, key: str, fmt) -> str:
    """``mean ±half`` when the table gives the column's interval over paths."""
    text = fmt(row[key])
    lo, hi = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    if lo is None or hi is None or lo != lo or hi != hi:
        return text
    return f"{text} ±{fmt((hi - lo) / 2.0)}"


_COLUMNS = (
    ("variant", "variant", str),
    ("liquidated", "liquidated_notional_quote", format_money),
    ("bad debt", "bad_debt_quote", format_money),
    ("fund used", "insurance_fund_used_quote", format_money),
    ("fund net", "insurance_fund_net_quote", format_money),
    ("fees", "fees_quote", format_money),
    ("ADL taken", "adl_taken_quote", format_money),
    ("ADL needed", "adl_needed_quote", format_money),
    ("overshoot", "adl_overshoot_quote", format_money),
    ("multiplier", "cascade_multiplier", lambda v: f"{v:.3f}" if v == v else "-"),
    ("accounts hit", "accounts_hit", lambda v: f"{v:,.0f}"),
    ("retail loss", "retail_loss_share", _frac),
    ("instit. loss", "institutional_loss_share", _frac),
    ("halts", "halts", lambda v: f"{v:.1f}"),
)


def register(app: typer.Typer) -> None:
    """Add ``liqcascade policy`` to the root app."""

    @app.command("policy")
    def policy_cmd(
        scenario: Path = typer.Argument(
            ..., help="policy file ([policy] + [[variants]]) or a stress scenario"
        ),
        vary: list[str] | None = typer.Option(
            None,
            "--vary",
            help="KEY=V1,V2,... (repeatable): max_leverage, mmr_scale, liquidation_fee, "
            "insurance_fund, insurance_fund_scale, adl (queue:binance|queue:hyperliquid|pro_rata|"
            "capped_pro_rata:CAP), circuit_breaker (MOVE/WINDOW_S/HALT_S)",
        ),
        paths: int | None = typer.Option(
            None, "--paths", help="paths per variant (same paths in each)"
        ),
        seed: int | None = typer.Option(None, "--seed", help="seed (default: the file's)"),
        n_positions: int | None = typer.Option(None, "--n-positions", help="synthetic book size"),
        dt_s: float | None = typer.Option(None, "--dt", help="engine step in seconds"),
        out: Path | None = typer.Option(None, "--out", help="write the per-path runs (parquet)"),
        fmt: FormatOpt = OutputFormat.table,
        as_json: bool = typer.Option(False, "--json", help="same as --format json"),
    ) -> None:
        """Run a scenario under changed rules (same seed, same paths) and compare."""
        from msgspec.structs import replace
        from rich.table import Table

        from liqcascade import policy

        fmt_ = output_format(fmt, as_json)

        lab = policy.load_policy(scenario)
        over: dict[str, Any] = {
            k: v
            for k, v in (
                ("paths", paths),
                ("seed", seed),
                ("n_positions", n_positions),
                ("dt_s", dt_s),
            )
            if v is not None
        }
        if over:
            lab = replace(lab, **over)
        variants = policy.variants_from(vary or [])
        if not lab.variants and not variants:
            err_console.print(
                "no variants: give --vary KEY=V1,V2 or a policy file with [[variants]]"
            )
        with progress("policy lab", enabled=fmt_ == "table", unit="runs") as bar:
            res = policy.run_policy(lab, variants, progress=bar)
        if out is not None:
            res.runs.write_parquet(out)
        if fmt_ != "table":
            # csv: the comparison table, one row per variant, raw values
            rows = res.table.to_dicts()
            emit(rows, [], fmt=fmt_, json_doc=res.as_dict(), csv_keys=list(res.table.columns))
            return
        t = Table(
            title=f"Policy lab: {res.meta['scenario']} ({res.paths} paths, seed {res.seed}, "
            f"mean ± half-width of its {res.meta['interval']}, quote currency)"
        )
        for head, _, _ in _COLUMNS:
            t.add_column(head, justify="left" if head == "variant" else "right")
        for row in res.table.iter_rows(named=True):
            t.add_row(*[_with_interval(row, key, fmt) for _, key, fmt in _COLUMNS])
        print_table(t)
        ind = Table(title="Systemic indicators of each variant's book (before the shock)")
        for c in (
            "variant",
            "leverage ratio",
            "OI / 1% depth",
            "liq. within 5%",
            "venue HHI",
            "critical shock",
        ):
            ind.add_column(c, justify="left" if c == "variant" else "right")
        for row in res.table.iter_rows(named=True):
            cs = row["critical_shock_down"]
            ind.add_row(
                row["variant"],
                f"{row['leverage_ratio']:.2f}",
                f"{row['oi_over_depth_1pct_bid']:.2f}",
                _frac(row["liq_density_5pct"]),
                f"{row['venue_hhi']:.3f}",
                "none" if cs is None or cs != cs else f"{cs:.2%}",
            )
        print_table(ind)
        r = Table(title="Reference: Chitra (2025) ADL analysis, Hyperliquid 10 Oct 2025 (16 waves)")
        for c in ("policy", "needed", "taken", "overshoot", "overshoot / needed"):
            r.add_column(c, justify="left" if c == "policy" else "right")
        for row in res.reference.iter_rows(named=True):
            r.add_row(
                row["policy"],
                format_money(row["needed_usd"]),
                format_money(row["taken_usd"]),
                format_money(row["overshoot_usd"]),
                f"{row['overshoot_over_needed']:.2f}",
            )
        print_table(r)
        worst = float(cast(float, res.table["max_abs_residual_quote"].max()))
        console.print(f"money conservation: largest per-run residual {worst:.2e} quote")
        for v in res.meta["variants"]:
            if v["resized"] or v["dropped_already_liquidatable"]:
                console.print(
                    f"{v['name']}: {v['resized']} positions re-sized to the new limits, "
                    f"{v['dropped_already_liquidatable']} dropped (liquidatable at the start)"
                )
        for note in res.meta["notes"]:
            console.print(f"note: {note}")
        if out is not None:
            console.print(f"per-path runs written to {out}")
