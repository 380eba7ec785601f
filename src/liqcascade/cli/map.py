"""``liqcascade map``: where liquidations sit, from stored klines and a stated leverage prior."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from liqcascade.cli._common import (
    Col,
    FormatOpt,
    OutputFormat,
    emit,
    note,
    output_format,
    print_json,
    progress,
)


def write_plots(wide: Any, maps: list[Any], out_stem: Path) -> tuple[Path, Path]:
    """PNG (matplotlib) and self-contained HTML (the maps' plotly figure,
    :func:`liqcascade.estimate.maps_figure`) of the map under each prior."""
    from liqcascade._optional import require
    from liqcascade.estimate import maps_figure

    require("liqcascade map plots", "matplotlib", "plotly", extra="plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hfig = maps_figure(maps)
    ref = maps[0].meta["reference_price"]
    cols = [c for c in wide.columns if c.startswith("notional_quote__")]
    fig, ax = plt.subplots(figsize=(10, 6))
    for c in cols:
        name = c.split("__", 1)[1]
        for side, sign, label in ((1, -1, "longs"), (-1, 1, "shorts")):
            part = wide.filter(wide["side"] == side)
            x = part["price_level"].to_numpy()
            y = part[c].to_numpy() / 1e6
            ax.step(x, sign * y, where="post", label=f"{name}: {label}")
    ax.axvline(ref, color="k", lw=0.8)
    # levels beyond +-30 % exist (low leverage) but would squeeze the part that matters
    ax.set_xlim(ref * 0.7, ref * 1.3)
    ax.set_title(hfig.layout.title.text)
    ax.set_xlabel("liquidation price (quote)")
    ax.set_ylabel("notional per level, $M (longs below 0, shorts above)")
    ax.legend()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png = out_stem.with_suffix(".png")
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    html = out_stem.with_suffix(".html")
    hfig.write_html(html, include_plotlyjs=True, full_html=True)
    return png, html


def register(app: typer.Typer) -> None:
    @app.command("map")
    def map_cmd(
        venue: Annotated[str, typer.Option(help="Venue (binance_usdm, hyperliquid, ...)")],
        symbol: Annotated[str, typer.Option(help="Venue symbol, e.g. BTCUSDT")],
        at: Annotated[str, typer.Option(help="Time of the map, ISO UTC (e.g. 2025-10-10T20:50)")],
        prior: Annotated[
            list[str] | None,
            typer.Option(
                help="Prior name or TOML file; repeat to compare (default: default + high)"
            ),
        ] = None,
        oi_base: Annotated[
            float | None,
            typer.Option(help="Open interest at --at, base units (else the stored series)"),
        ] = None,
        lookback_hours: Annotated[float, typer.Option(help="Look-back window (hours)")] = 168.0,
        bin_width: Annotated[float | None, typer.Option(help="Price level width (quote)")] = None,
        top: Annotated[int, typer.Option(help="Densest levels to print")] = 10,
        db: Annotated[Path | None, typer.Option(help="DuckDB store")] = None,
        out: Annotated[Path | None, typer.Option(help="Output stem for .png/.html")] = None,
        fmt: FormatOpt = OutputFormat.table,
        json_out: Annotated[bool, typer.Option("--json", help="Same as --format json")] = False,
    ) -> None:
        """Liquidation map: densest levels, totals, sensitivity to the prior; PNG + HTML plot.

        With --format csv the densest levels print as CSV (raw values)."""
        from liqcascade.estimate import map_from_store, sensitivity_table

        fmt_ = output_format(fmt, json_out)
        with progress("liquidation map", enabled=fmt_ == "table", unit="priors") as bar:
            wide, maps = map_from_store(
                venue,
                symbol,
                at,
                db=db,
                priors=prior,
                oi_base=oi_base,
                lookback_hours=lookback_hours,
                bin_width=bin_width,
                progress=bar,
            )
            bar(description="plots")
            m = maps[0]
            stem = out or Path.cwd() / f"liqmap-{venue}-{symbol}-{m.meta['at'].replace(':', '')}"
            png, html = write_plots(wide, maps, stem)
        sens = sensitivity_table(maps)
        densest = m.densest(top).to_dicts()
        if fmt_ == "csv":
            emit(densest, [], fmt="csv", csv_keys=list(densest[0]) if densest else ["price_level"])
            return
        if fmt_ == "json":
            print_json(
                {
                    "meta": m.meta,
                    "densest": m.densest(top).to_dicts(),
                    "totals": m.totals.to_dicts(),
                    "sensitivity": sens.to_dicts(),
                    "png": str(png),
                    "html": str(html),
                }
            )
            return
        side = lambda v: "long" if v == 1 else "short"  # noqa: E731
        emit(
            [{**r, "side_name": side(r["side"])} for r in densest],
            [
                Col("price_level", "price level", kind="price"),
                Col("side_name", "side", kind="text", justify="right"),
                Col("size_base", "size (base)", kind="size"),
                Col("notional_quote", "notional (quote)", kind="money"),
                Col("distance_frac", "distance", kind="signed_frac"),
            ],
            title=f"Densest liquidation levels, prior '{m.meta['prior']['name']}' "
            f"(reference price {m.meta['reference_price']:,.2f})",
        )
        from liqcascade import fmt as nf

        for r in m.totals.to_dicts():
            note(
                f"total {side(r['side'])}: {nf.size(r['size_base'])} base, "
                f"{nf.money(r['notional_quote'])} quote at the reference price"
            )
        scols = [c for c in sens.columns if c not in ("prior", "prior_path")]
        emit(
            sens.to_dicts(),
            [Col("prior", kind="text")]
            + [
                Col(c, c.replace("_within_", " ").replace("pct_quote", "%"), kind="money")
                for c in scols
            ],
            title="Sensitivity to the prior: notional liquidated within a move of",
        )
        note(f"plot: {png}\ninteractive: {html}")
