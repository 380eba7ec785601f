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


def build_map(
    venue: str,
    symbol: str,
    at: str,
    *,
    db: Path | None = None,
    priors: list[str] | None = None,
    oi_base: float | None = None,
    lookback_hours: float = 168.0,
    bin_width: float | None = None,
    progress: Any = None,
) -> tuple[Any, list[Any]]:
    """Read klines (and open interest, where stored) from the store and build the map under each
    prior (first = main). Returns (wide comparison frame, maps). ``progress(done, total)`` is
    called after each prior's map."""
    from liqcascade.data import Store, default_db_path
    from liqcascade.errors import DataError
    from liqcascade.estimate import compare_priors, to_ms
    from liqcascade.replay import load_frames

    at_ms = to_ms(at)
    start = at_ms - int(lookback_hours * 3_600_000)
    with Store(Path(db) if db else default_db_path(), read_only=True) as store:
        frames = load_frames(store, venue, symbol, start, at_ms)
        oi = store.open_interest(venue, symbol, start=start, end=at_ms + 1)
    bars = frames.klines
    if frames.price_klines is not None and frames.price_klines.height:
        import polars as pl

        older = frames.price_klines.filter(pl.col("open_time_ms") < int(bars["open_time_ms"][0]))
        bars = pl.concat([older, bars], how="vertical_relaxed")
    oi_frame = None
    if oi.height and "open_interest_base" in oi.columns:
        import polars as pl

        oi_frame = oi.select(
            pl.col("time").dt.epoch("ms").alias("time_ms"), "open_interest_base"
        ).drop_nulls()
        if oi_frame.height == 0:
            oi_frame = None
    if oi_base is None and oi_frame is None:
        raise DataError(
            f"no open interest stored for {venue} {symbol} before {at}; give --oi-base "
            "(the map is scaled to the open interest)"
        )
    names = priors or ["default", "high"]
    wide, maps = compare_priors(
        bars,
        names,
        venue=venue,
        symbol=symbol,
        at=at_ms,
        bin_width_quote=bin_width,
        open_interest_base=oi_base,
        open_interest=oi_frame,
        lookback_hours=lookback_hours,
        source=frames.source,
        progress=progress,
    )
    return wide, maps


def write_plots(wide: Any, maps: list[Any], out_stem: Path) -> tuple[Path, Path]:
    """PNG (matplotlib) and self-contained HTML (plotly inlined) of the map under each prior."""
    from liqcascade._optional import require

    require("liqcascade map plots", "matplotlib", "plotly", extra="plot")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    ref = maps[0].meta["reference_price"]
    cols = [c for c in wide.columns if c.startswith("notional_quote__")]
    fig, ax = plt.subplots(figsize=(10, 6))
    hfig = go.Figure()
    for c in cols:
        name = c.split("__", 1)[1]
        for side, sign, label in ((1, -1, "longs"), (-1, 1, "shorts")):
            part = wide.filter(wide["side"] == side)
            x = part["price_level"].to_numpy()
            y = part[c].to_numpy() / 1e6
            ax.step(x, sign * y, where="post", label=f"{name}: {label}")
            hfig.add_trace(go.Bar(x=x, y=sign * y, name=f"{name}: {label} liquidated", opacity=0.6))
    ax.axvline(ref, color="k", lw=0.8)
    # levels beyond +-30 % exist (low leverage) but would squeeze the part that matters
    ax.set_xlim(ref * 0.7, ref * 1.3)
    m0 = maps[0].meta
    title = f"Liquidation map {m0['venue']} {m0['symbol']} at {m0['at']} (OI {m0['open_interest_base']:,.0f} base)"
    ax.set_title(title)
    ax.set_xlabel("liquidation price (quote)")
    ax.set_ylabel("notional per level, $M (longs below 0, shorts above)")
    ax.legend()
    out_stem.parent.mkdir(parents=True, exist_ok=True)
    png = out_stem.with_suffix(".png")
    fig.savefig(png, dpi=120, bbox_inches="tight")
    plt.close(fig)
    hfig.add_vline(x=ref, line_width=1)
    hfig.update_xaxes(range=[ref * 0.7, ref * 1.3])
    hfig.update_layout(
        title=title,
        barmode="overlay",
        xaxis_title="liquidation price (quote)",
        yaxis_title="notional per level, $M (longs < 0, shorts > 0)",
        template="plotly_white",
    )
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
        from liqcascade.estimate import sensitivity_table

        fmt_ = output_format(fmt, json_out)
        with progress("liquidation map", enabled=fmt_ == "table", unit="priors") as bar:
            wide, maps = build_map(
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
