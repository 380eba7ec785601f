"""Generate positions_btc.csv: a synthetic but realistically shaped Binance BTCUSDT book.

The file ships in the package (src/liqcascade/examples/positions_btc.csv, the web dashboard's
example book); examples/positions_btc.csv in the repository points to it.

Seeded (numpy.random.default_rng(SEED)); rerun to reproduce the file byte for byte:

    .venv/bin/python examples/make_positions_btc.py            # 25,000 positions (shipped)
    .venv/bin/python examples/make_positions_btc.py --n 150000 --out /tmp/full.csv

Shape (docs/engine-static.md, "Example book"):
* segments: 90% retail, 8% institutional, 2% market makers;
* size_base lognormal per segment (medians 0.02 / 1.5 / 8 BTC; sigma 1.6 / 1.2 / 0.9),
  rounded to Binance's 0.001 BTC step;
* leverage heavy-tailed: retail draws from 2 + Pareto(alpha=1.1) * 8 (median about 9x), snapped
  to the leverage buttons traders use (1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100, 125), capped at
  the bracket's initialLeverage for the position's notional; institutions 3-20x, market makers 1-5x;
* entry prices lognormal around 120,000 USDT (sigma 4%: positions opened over weeks), tick 0.1;
* 55% longs; retail 65% cross / 35% isolated, others cross; a cross account's wallet balance is
  its initial margin times (1 + lognormal(-0.7, 0.8)) (extra collateral, median +50%); 5% of retail cross accounts
  hold a hedge-mode second leg on the other side;
* positions already past their liquidation price at the mark ``MARK_PRICE`` are dropped (they
  could not exist in a live book), so the book is consistent at that mark.

The total open interest of the shipped 25,000 positions is about 17k BTC; Binance BTCUSDT
open interest was ~100k BTC in early October 2025 (a Binance metrics row of 7 Oct 2025), so ``--n 150000``
gives a book of comparable size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl

SEED = 20251010
MARK_PRICE = 120_000.0
PACKAGED = (
    Path(__file__).resolve().parents[1] / "src" / "liqcascade" / "examples" / "positions_btc.csv"
)
LEVERAGE_BUTTONS = np.array([1, 2, 3, 5, 10, 15, 20, 25, 50, 75, 100, 125], dtype=np.float64)


def generate(n: int, seed: int = SEED) -> pl.DataFrame:
    from liqcascade.book import PositionBook
    from liqcascade.venues import load_venue

    rules = load_venue("binance_usdm", "BTCUSDT")
    rng = np.random.default_rng(seed)
    m = int(n * 1.15)  # oversample: some are dropped below
    seg = rng.choice(3, size=m, p=[0.90, 0.08, 0.02])
    med = np.array([0.02, 1.5, 8.0])[seg]
    sig = np.array([1.6, 1.2, 0.9])[seg]
    size = np.maximum(np.round(med * np.exp(sig * rng.standard_normal(m)), 3), 0.001)
    entry = np.round(MARK_PRICE * np.exp(0.04 * rng.standard_normal(m)), 1)
    side = np.where(rng.random(m) < 0.55, 1, -1)

    raw = 2.0 + rng.pareto(1.1, m) * 8.0
    idx = np.abs(raw[:, None] - LEVERAGE_BUTTONS[None, :]).argmin(axis=1)
    lev = LEVERAGE_BUTTONS[idx]
    lev = np.where(seg == 1, rng.integers(3, 21, m).astype(float), lev)
    lev = np.where(seg == 2, rng.integers(1, 6, m).astype(float), lev)
    notional = size * entry
    cap = rules.tiers.max_leverage[rules.tiers.index(notional)]
    lev = np.minimum(lev, cap)

    cross = np.where(seg == 0, rng.random(m) < 0.65, True)
    account = np.arange(1, m + 1, dtype=np.int64) + 100_000
    im = notional / lev
    wallet = np.round(im * (1.0 + rng.lognormal(-0.7, 0.8, m)), 2)

    df = pl.DataFrame(
        {
            "account_id": account,
            "venue": "binance_usdm",
            "symbol": "BTCUSDT",
            "side": np.where(side == 1, "long", "short"),
            "size_base": size,
            "entry_price": entry,
            "margin_mode": np.where(cross, "cross", "isolated"),
            "leverage": lev,
            "margin_quote": np.where(cross, np.nan, np.round(im, 2)),
            "account_collateral_quote": np.where(cross, wallet, np.nan),
            "segment": np.array(["retail", "institutional", "market_maker"])[seg],
        }
    ).with_columns(
        pl.col("margin_quote").fill_nan(None), pl.col("account_collateral_quote").fill_nan(None)
    )

    # hedge-mode second legs for 5% of retail cross accounts (same wallet, other side)
    hedge = np.flatnonzero((seg == 0) & cross & (rng.random(m) < 0.05))
    legs = df[hedge].with_columns(
        pl.when(pl.col("side") == "long")
        .then(pl.lit("short"))
        .otherwise(pl.lit("long"))
        .alias("side"),
        (pl.col("size_base") * pl.Series(np.round(rng.uniform(0.2, 1.0, len(hedge)), 2)))
        .round(3)
        .clip(0.001)
        .alias("size_base"),
        (pl.col("entry_price") * pl.Series(np.exp(0.02 * rng.standard_normal(len(hedge))))).round(
            1
        ),
    )
    df = pl.concat([df, legs]).sort("account_id", maintain_order=True)

    # drop positions a live book at MARK_PRICE could not hold (already past liquidation)
    book = PositionBook.from_frame(df, source="generated")
    liq = book.liquidation_price
    alive = np.where(book.side == 1, ~(liq >= MARK_PRICE), ~(liq <= MARK_PRICE))
    alive_accounts = set(book.account_id[alive].tolist())
    dead_accounts = set(book.account_id[~alive].tolist())
    keep = alive_accounts - dead_accounts
    df = df.filter(pl.col("account_id").is_in(sorted(keep)))
    return df.head(n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=25_000)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--out", type=Path, default=PACKAGED)
    args = ap.parse_args()
    df = generate(args.n, args.seed)
    df.write_csv(args.out)
    oi = df["size_base"].sum()
    print(f"wrote {args.out}: {df.height} positions, open interest {oi:,.1f} BTC, seed {args.seed}")


if __name__ == "__main__":
    main()
