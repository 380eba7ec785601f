"""ADL policies, tested from the policy lab's side: every policy conserves money and never
takes from losers (property tests on the allocation and on full dynamic-engine runs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liqcascade.adl import ADLPolicy, allocate
from liqcascade.engine.dynamic import DynamicConfig, PositionArrays, simulate
from liqcascade.impact import LinearImpact
from liqcascade.ledger import LossLedger
from liqcascade.margin import PositionsAtRate

POLICIES = [
    "queue:binance",
    "queue:hyperliquid",
    "queue:bitmex",
    "random_start",
    "pro_rata",
    "capped_pro_rata:0.5",
    "capped_pro_rata:1.0",
]


@st.composite
def candidates(draw):
    n = draw(st.integers(1, 40))
    side = np.array(draw(st.lists(st.sampled_from([1.0, -1.0]), min_size=n, max_size=n)))
    size = np.array(draw(st.lists(st.floats(0.01, 50.0), min_size=n, max_size=n)))
    entry = np.array(draw(st.lists(st.floats(50.0, 150.0), min_size=n, max_size=n)))
    wallet = np.array(draw(st.lists(st.floats(1.0, 1e4), min_size=n, max_size=n)))
    ref = draw(st.floats(60.0, 140.0))
    loser_side = draw(st.sampled_from([1, -1]))
    qty = draw(st.floats(0.01, 200.0))
    close = ref * (1 + draw(st.floats(-0.05, 0.05)))
    deficit = draw(st.floats(0.0, 1e4))
    return dict(
        loser_side=loser_side,
        qty_base=qty,
        close_price=close,
        ref_price=ref,
        deficit_quote=deficit,
        side=side,
        size_base=size,
        entry_price=entry,
        wallet_quote=wallet,
        mm_quote=size * ref * 0.005,
        bankruptcy_price=entry - side * wallet / size,
    )


@pytest.mark.parametrize("spec", POLICIES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=candidates(), seed=st.integers(0, 2**31))
def test_allocation_never_takes_from_losers(spec, c, seed):
    policy = ADLPolicy.parse(spec)
    a = allocate(policy, rng=np.random.default_rng(seed), **c)
    w = a.winner
    s_w = -c["loser_side"]
    # only opposite-side positions in profit at the reference price are touched
    assert np.all(c["side"][w] == s_w)
    assert np.all(s_w * (c["ref_price"] - c["entry_price"][w]) > 0)
    # no winner realises a loss on the part ADL closes
    assert np.all(s_w * (a.price - c["entry_price"][w]) >= -1e-9 * c["entry_price"][w])
    # quantities: positive, within each winner's size, never more than requested in total
    assert np.all(a.qty_base > 0) and np.all(a.qty_base <= c["size_base"][w] * (1 + 1e-12))
    assert a.filled_base <= c["qty_base"] * (1 + 1e-12)
    assert len(np.unique(w)) == len(w)
    profit_total = c["size_base"] * (s_w * (c["ref_price"] - c["entry_price"]))
    eligible = (c["side"] == s_w) & (profit_total > 0)
    if policy.kind in ("queue", "pro_rata", "capped_pro_rata") and eligible.any():
        # the whole loser is matched when the winners hold enough
        want = min(c["qty_base"], float(c["size_base"][eligible].sum()))
        assert a.filled_base == pytest.approx(want, rel=1e-9)
    if policy.kind == "capped_pro_rata" and len(w):
        haircut = s_w * a.qty_base * (c["ref_price"] - a.price)
        profit = s_w * a.qty_base * (c["ref_price"] - c["entry_price"][w])
        assert np.all(haircut <= policy.cap_fraction * profit * (1 + 1e-9) + 1e-9)
        assert haircut.sum() <= c["deficit_quote"] * (1 + 1e-9) + 1e-6


@st.composite
def books(draw):
    """A book with crowded high-leverage longs and profitable shorts, so a crash forces ADL."""
    n_long = draw(st.integers(5, 60))
    n_short = draw(st.integers(1, 40))
    n = n_long + n_short
    side = np.array([1] * n_long + [-1] * n_short, dtype=np.int8)
    size = np.array(draw(st.lists(st.floats(0.1, 20.0), min_size=n, max_size=n)))
    entry = np.concatenate(
        [
            np.array(draw(st.lists(st.floats(95.0, 105.0), min_size=n_long, max_size=n_long))),
            np.array(draw(st.lists(st.floats(100.0, 130.0), min_size=n_short, max_size=n_short))),
        ]
    )
    lev = np.array(draw(st.lists(st.floats(2.0, 100.0), min_size=n, max_size=n)))
    return PositionArrays.isolated(
        PositionsAtRate(
            side=side, size_base=size, entry_price=entry, margin_quote=size * entry / lev, mmr=0.005
        ),
        venues=("binance_usdm",),
        account_id=np.arange(n),
    )


@pytest.mark.parametrize("spec", POLICIES)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pos=books(),
    shock=st.floats(-0.35, -0.05),
    depth=st.floats(2.0, 200.0),
    seed=st.integers(0, 10**6),
)
def test_engine_runs_conserve_money_and_spare_losers(spec, pos, shock, depth, seed):
    cfg = DynamicConfig(
        dt_s=1.0,
        steps=30,
        venues={"binance_usdm": {"insurance_fund_quote": 0.0, "adl_policy": spec}},
    )
    live = pos.side.astype(float) * (100.0 - pos.liquidation_price) > 0
    pos = PositionArrays(
        **{
            **{
                f: getattr(pos, f)[live]
                for f in (
                    "account_id",
                    "venue_code",
                    "side",
                    "size_base",
                    "entry_price",
                    "margin_quote",
                    "mmr",
                    "cum_quote",
                    "liquidation_price",
                    "bankruptcy_price",
                )
            },
            "venues": pos.venues,
        }
    )
    if len(pos) == 0:
        return
    res = simulate(
        pos, LinearImpact(depth_1pct_base=depth), shock, cfg, rng_seed=seed, initial_price=100.0
    )
    lg = res.ledger
    parties = [
        "trader_pnl",
        "fee",
        "insurance_fund_change",
        "vault_pnl",
        "adl_transfer",
        "bad_debt",
    ]
    resid = lg.select(sum(lg[c] for c in parties).abs().alias("r"))["r"]
    scale = 1.0 + (lg["qty_base"] * lg["ref_price"]).abs().sum()
    assert float(resid.max() or 0.0) <= 1e-9 * scale  # money is conserved event by event
    assert float(lg["bad_debt"].max() or 0.0) <= 0.0
    # the loss ledger of the run: every amount >= 0, ADL + bad debt cover what was needed
    book = LossLedger.from_events(lg)
    assert all(v >= 0.0 for v in book.as_dict().values())
    needed = float(res.losses["adl_needed"].sum())
    assert book.adl_counterparty_quote + book.bad_debt_quote >= needed - 1e-9 * scale
    win = lg.filter(lg["kind"] == "adl_winner")
    if win.height:
        p = win["position"].to_numpy()
        s = pos.side[p].astype(float)
        e = pos.entry_price[p]
        ref = win["ref_price"].to_numpy()
        x = win["exec_price"].to_numpy()
        assert np.all(s * (ref - e) > 0)  # only accounts in profit are deleveraged
        assert np.all(s * (x - e) >= -1e-9 * e)  # and none realises a loss
        assert np.all(win["side"].to_numpy() == s)
        losers = lg.filter(lg["kind"] == "adl_loser")
        assert losers.height > 0
        assert set(p.tolist()).isdisjoint(set(losers["position"].to_list()))


@pytest.mark.parametrize("spec", POLICIES)
def test_a_designed_crash_forces_adl_under_every_policy(spec):
    # 40 longs at 50x entered at 100, 20 shorts entered at 110-129 (in profit), thin book, -25%
    n_long, n_short = 40, 20
    side = np.array([1] * n_long + [-1] * n_short, dtype=np.int8)
    size = np.r_[np.full(n_long, 5.0), np.linspace(2.0, 20.0, n_short)]
    entry = np.r_[np.full(n_long, 100.0), np.linspace(110.0, 129.0, n_short)]
    lev = np.r_[np.full(n_long, 50.0), np.full(n_short, 3.0)]
    pos = PositionArrays.isolated(
        PositionsAtRate(
            side=side, size_base=size, entry_price=entry, margin_quote=size * entry / lev, mmr=0.005
        ),
        venues=("binance_usdm",),
        account_id=np.arange(len(side)),
    )
    cfg = DynamicConfig(
        dt_s=1.0,
        steps=20,
        venues={"binance_usdm": {"insurance_fund_quote": 0.0, "adl_policy": spec}},
    )
    res = simulate(
        pos, LinearImpact(depth_1pct_base=5.0), -0.25, cfg, rng_seed=3, initial_price=100.0
    )
    s = res.summary()
    assert abs(s["conservation_residual"]) <= 1e-9 * s["notional_involved"]
    win = res.ledger.filter(res.ledger["kind"] == "adl_winner")
    assert win.height > 0
    p = win["position"].to_numpy()
    assert np.all(pos.side[p] == -1)  # only the profitable shorts are deleveraged
    assert np.all(pos.entry_price[p] >= win["exec_price"].to_numpy() - 1e-9)
    loss = res.losses.row(0, named=True)
    assert loss["adl_needed"] > 0
    assert loss["adl_overshoot"] == pytest.approx(loss["adl_haircut"] - loss["adl_needed"])
