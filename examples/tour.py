# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A tour of liqcascade: from your positions to a cascade, a stress tail and a plot
#
# This walk-through runs as a script (`python examples/tour.py`) or as a notebook (open it with
# jupytext, or in any editor that understands `# %%` cells). It uses only the public Python API
# and the data shipped inside the package, so it works from any directory; every file it writes
# goes to the current directory (`tour-output/`). The plots need the `plot` extra
# (`pip install "liqcascade[plot]"`).
#
# 1. Positions as ccxt returns them (`exchange.fetch_positions()`), one list per account, with
#    the account ids the exchange gives (text such as `"alice"` or a wallet address).
# 2. A book: those accounts beside the shipped example crowd of BTCUSDT positions.
# 3. A static cascade through the real Binance order book of 10 Oct 2025: a ladder of shocks,
#    and which of your accounts one shock liquidates.
# 4. A Monte Carlo stress test of the same book: the tail of liquidated notional and of the
#    price fall.
# 5. Plots (plotly) in one HTML page, and the figures in a JSON file.

# %%
import json
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from liqcascade.book import PositionBook
from liqcascade.engine.static import StaticCascade, parse_shocks
from liqcascade.impact import DepthCurveImpact
from liqcascade.resources import example_path, sample_data_dir
from liqcascade.scenarios import load_scenario
from liqcascade.sweep import prepare, run_stress

OUT = Path("tour-output")
OUT.mkdir(exist_ok=True)
SEED = 7  # every random draw below comes from this seed (stored in the results)

# %% [markdown]
# ## 1. A ccxt-style positions file
#
# `exchange.fetch_positions()` returns a list of unified position dicts per account. A desk that
# polls several accounts keeps them keyed by account id. Here is such a file, written by hand in
# ccxt's unified shape (only the fields liqcascade reads are filled in).


# %%
def ccxt_position(side, contracts, entry, leverage):
    """One isolated position in ccxt's unified shape (BTC/USDT:USDT perpetual, 1 BTC contracts)."""
    notional = contracts * entry
    margin = notional / leverage
    return {
        "info": {},
        "symbol": "BTC/USDT:USDT",
        "contracts": contracts,
        "contractSize": 1,
        "side": side,
        "entryPrice": entry,
        "markPrice": 121_000.0,
        "leverage": leverage,
        "marginMode": "isolated",
        "collateral": margin,
        "initialMargin": margin,
        "notional": notional,
        "liquidationPrice": None,  # liqcascade computes it from the venue's rules
    }


accounts = {
    "alice": [ccxt_position("long", 1.5, 121_400.0, 25)],
    "bob": [ccxt_position("long", 12.0, 119_800.0, 10)],
    "0xabc123": [ccxt_position("long", 0.4, 122_100.0, 50)],
    "desk-7": [ccxt_position("short", 3.0, 121_900.0, 5), ccxt_position("long", 2.0, 118_000.0, 3)],
}
positions_file = OUT / "ccxt_positions.json"
positions_file.write_text(json.dumps(accounts, indent=1))
print(f"{positions_file}: {sum(map(len, accounts.values()))} positions, {len(accounts)} accounts")

# %% [markdown]
# ## 2. A book
#
# `PositionBook.from_ccxt` reads one account's list; the venue tells it whose margin rules apply
# (Binance USDⓈ-M: tiered maintenance margin, liquidation price from the venue's formula). The
# shipped example crowd (`positions_btc.csv`, 25,000 BTCUSDT positions) stands for the rest of
# the market; `PositionBook.concat` stacks them and keeps every account id as given.

# %%
raw = json.loads(positions_file.read_text())
mine = PositionBook.concat(
    [PositionBook.from_ccxt(p, venue="binance_usdm", account_id=acct) for acct, p in raw.items()]
)
crowd = PositionBook.from_csv(example_path("positions_btc.csv"))
book = PositionBook.concat([mine, crowd])

mine_df = mine.to_polars()
print(mine_df.select("account_id", "side", "size_base", "entry_price", "liquidation_price"))
print(f"book: {len(book):,} positions")

# %% [markdown]
# ## 3. A cascade
#
# The price impact of forced orders comes from the Binance bookDepth snapshot of 10 Oct 2025
# 12:00 UTC (cumulative depth within 1-5 % of the mid). `StaticCascade` indexes the book once;
# each shock is then solved to its fixed point: the shock liquidates positions, their forced
# sells walk the book, the lower price liquidates more, until nothing more is liquidated.

# %%
depth_file = sample_data_dir() / "binance/um/bookDepth/BTCUSDT-bookDepth-2025-10-10.csv"
depth = DepthCurveImpact.from_bookdepth(depth_file, at="12:00")
P0 = 121_000.0
cascade = StaticCascade(book, depth, initial_price=P0)

ladder = cascade.ladder(parse_shocks("-0.15:0:0.005"))  # one row per shock
print(ladder.select("shock", "final_price", "liquidated_notional", "cascade_multiplier").head(8))

# %% [markdown]
# Which of your accounts does a 4 % drop liquidate, once the cascade has run?

# %%
res = cascade.solve(-0.04)
liquidated = cascade.liquidated_mask(res)
book_df = book.to_polars().with_columns(pl.Series("liquidated", liquidated))
hit = book_df.filter(pl.col("account_id").is_in(list(raw))).select(
    "account_id", "side", "size_base", "liquidation_price", "liquidated"
)
print(f"-4 % shock: final price {res.final_price:,.0f}, multiplier {res.cascade_multiplier:.2f}")
print(hit)

# %% [markdown]
# ## 4. A stress tail
#
# A stress scenario (TOML, docs/stress.md) names the venues, the book and the shock model. This
# one takes our book from a positions file and draws jump-diffusion paths fitted on the shipped
# 1-minute klines of 10-11 Oct 2025, with one -8 % jump after ten minutes. The summary gives
# each metric's mean and quantiles with confidence intervals. For liquidated notional (more is
# worse) `q95` is where the worst 5 % of paths begin; a drawdown is signed (P/P0 - 1, negative
# in a fall), so the worst 5 % of falls lie below its `q5`.

# %%
book_file = OUT / "book.parquet"
book.to_polars().write_parquet(book_file)
klines = sample_data_dir() / "binance/um/klines"
scenario_file = OUT / "tour_stress.toml"
scenario_file.write_text(f"""
[scenario]
name = "tour-jump-diffusion"

[[venues]]
name = "binance_usdm"
symbol = "BTCUSDT"
initial_price = {P0}
impact = "depth:{depth_file.as_posix()}@12:00"
insurance_fund_quote = 1.0e6

[book]
source = "positions"
path = "{book_file.name}"

[shock]
kind = "jump_diffusion"
horizon_s = 3600.0
step_s = 60.0
stress_jump = -0.08
stress_at_s = 600.0

[shock.fit]
klines = ["{(klines / "BTCUSDT-1m-2025-10-10.csv").as_posix()}",
          "{(klines / "BTCUSDT-1m-2025-10-11.csv").as_posix()}"]

[monte_carlo]
paths = 400
seed = {SEED}
""")
runner = prepare(load_scenario(scenario_file), seed=SEED)
stress = run_stress(runner, paths=400, workers=0)
stress.write_parquet(OUT / "stress.parquet")  # per-path results, the run's metadata inside

worst = {"liq_notional_quote": ["mean", "q95", "q99"], "max_drawdown": ["mean", "q5", "q1"]}
tail = stress.summary.filter(
    pl.any_horizontal([(pl.col("metric") == m) & pl.col("stat").is_in(s) for m, s in worst.items()])
)
print(f"{stress.paths.height} paths, seed {stress.meta['seed']}")
print(tail.select("metric", "stat", "value", "ci_low", "ci_high"))

# %% [markdown]
# ## 5. Plots and a summary
#
# The ladder (price after the cascade and liquidated notional per shock), the -4 % cascade, and
# the stress paths' distribution of liquidated notional with its mean and quantiles marked, in
# one self-contained HTML page (plotly inlined, no network needed to view it). The figures
# quoted above also go to a JSON file.

# %%
fig = make_subplots(specs=[[{"secondary_y": True}]])
fig.add_trace(go.Scatter(x=ladder["shock"], y=ladder["final_price"], name="price after cascade"))
fig.add_trace(
    go.Bar(
        x=ladder["shock"], y=ladder["liquidated_notional"], name="liquidated (USDT)", opacity=0.4
    ),
    secondary_y=True,
)
fig.update_layout(title="Static cascade ladder: the book through the 10 Oct 2025 order book")
fig.update_xaxes(title_text="shock", tickformat=".0%")
fig.update_yaxes(title_text="price (USDT)", secondary_y=False)
fig.update_yaxes(title_text="liquidated notional (USDT)", secondary_y=True)

figures = [fig, res.plot(), stress.plot("liq_notional_quote")]
parts = [f.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, f in enumerate(figures)]
page = OUT / "tour.html"
page.write_text(
    "<!doctype html><html><head><meta charset='utf-8'><title>liqcascade tour</title>"
    "</head><body>" + "".join(parts) + "</body></html>",
    encoding="utf-8",
)
ladder.write_csv(OUT / "ladder.csv")

summary = {
    "seed": SEED,
    "positions": len(book),
    "shock_4pct": res.as_dict(),
    "accounts_liquidated_at_4pct": sorted(set(hit.filter(pl.col("liquidated"))["account_id"])),
    "stress_paths": stress.paths.height,
    "stress_tail": {f"{r['metric']}.{r['stat']}": r["value"] for r in tail.iter_rows(named=True)},
}
(OUT / "summary.json").write_text(json.dumps(summary, indent=1))
print("written:", ", ".join(sorted(p.name for p in OUT.iterdir())))
