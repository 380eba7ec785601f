"""The loss ledger (liqcascade.ledger): the waterfall, non-negative amounts, rounding noise as 0."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqcascade.fmt import money
from liqcascade.funds import LEDGER_FIELDS
from liqcascade.ledger import (
    AMOUNT_TOL_QUOTE,
    LedgerError,
    LossLedger,
    clearance_fee_quote,
    position_equity_quote,
    snap_amount,
    waterfall,
)

amount = st.floats(0.0, 1e12, allow_nan=False)


@given(deficit=st.floats(-1e9, 1e12), fund=amount, vault=amount, adl=amount | st.just(math.inf))
def test_waterfall_splits_the_deficit_into_non_negative_parts(deficit, fund, vault, adl):
    f, w, a, bad = waterfall(deficit, fund, vault, adl)
    assert min(f, w, a, bad) >= 0.0
    assert f <= fund and w <= vault and a <= adl
    assert f + w + a + bad == pytest.approx(max(deficit, 0.0), rel=1e-12, abs=1e-9)
    # each party pays only once the one before it is exhausted
    if w > 0:
        assert f == pytest.approx(fund)
    if a > 0:
        assert w == pytest.approx(vault)
    if bad > 0:
        assert a == pytest.approx(adl)


@given(
    side=st.sampled_from([1.0, -1.0]),
    q=st.floats(1e-6, 1e6),
    p=st.floats(1.0, 1e6),
    bk=st.floats(1.0, 1e6),
    rate=st.floats(0.0, 0.05),
)
def test_fee_never_exceeds_equity_and_is_never_negative(side, q, p, bk, rate):
    eq = position_equity_quote(side, q, p, bk)
    fee = clearance_fee_quote(rate, q, p, eq)
    assert 0.0 <= fee <= max(eq, 0.0)


@given(x=st.floats(-1e-6, 1e-6, exclude_min=True, exclude_max=True))
def test_amounts_below_tolerance_report_and_print_as_zero(x):
    assert snap_amount(x) == 0.0
    assert money(x) == "0" and money(x, "USDT") == "0 USDT"
    assert LossLedger(bad_debt_quote=abs(x)).bad_debt_quote == 0.0


@given(x=st.floats(AMOUNT_TOL_QUOTE, 1e12))
def test_real_amounts_are_kept(x):
    assert snap_amount(x) == x and money(x) != "0"


def test_negative_amounts_are_refused():
    with pytest.raises(LedgerError, match="insurance_fund_quote"):
        LossLedger(insurance_fund_quote=-1.0)
    with pytest.raises(LedgerError, match="bad_debt_quote"):
        LossLedger(bad_debt_quote=math.nan)


@settings(max_examples=50)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["liquidation", "vault_takeover", "adl_loser", "adl_winner"]),
            st.floats(-1e6, 1e6),
            st.floats(0.0, 1e3),
            st.floats(-1e6, 1e6),
            st.floats(-1e6, 1e6),
            st.floats(-1e6, 0.0),
        ),
        max_size=30,
    )
)
def test_from_events_amounts_are_never_negative(rows):
    """Any signed per-event ledger (the engine's convention) maps to amounts >= 0 whose
    deficit is fund + vault + ADL + bad debt."""
    cols = {f: np.zeros(len(rows)) for f in LEDGER_FIELDS}
    frame = pl.DataFrame({k: v for k, v in cols.items() if k not in ("kind",)}).with_columns(
        pl.Series("kind", [r[0] for r in rows], dtype=pl.Utf8),
        pl.Series("insurance_fund_change", [r[1] for r in rows], dtype=pl.Float64),
        pl.Series("fee", [r[2] for r in rows], dtype=pl.Float64),
        pl.Series("adl_transfer", [r[3] for r in rows], dtype=pl.Float64),
        pl.Series("vault_pnl", [r[4] for r in rows], dtype=pl.Float64),
        pl.Series("bad_debt", [r[5] for r in rows], dtype=pl.Float64),
    )
    lg = LossLedger.from_events(frame)
    d = lg.as_dict()
    assert all(v >= 0.0 for v in d.values())
    assert d["deficit_quote"] == pytest.approx(
        lg.insurance_fund_quote + lg.vault_quote + lg.adl_counterparty_quote + lg.bad_debt_quote,
        abs=AMOUNT_TOL_QUOTE,
    )
    total = LossLedger.total([lg, lg])
    assert total.bad_debt_quote == pytest.approx(2 * lg.bad_debt_quote)
