"""The market model's ensemble kernel: numba against its numpy twin, determinism, book effects,
and the parameters file (write/load round trip, unknown keys refused)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import msgspec
import numpy as np
import pytest

from liqcascade.data.klines import read_klines
from liqcascade.errors import ConfigError
from liqcascade.market import (
    Ensemble,
    _param_vector,
    default_params,
    draw_ensemble,
    empty_book,
    load_params,
    simulate_paths,
    write_params,
)
from liqcascade.validate import ModelTape, prepare

KLINES = Path(str(resources.files("liqcascade") / "sample_data/binance/um/klines"))
CRASH = KLINES / "BTCUSDT-1m-2025-10-10.csv"
# 2025-10-10T20:50Z, the news minute of the 10 Oct crash, is bar 1250 of the day file
CRASH_FIRST = 20 * 60 + 50
KEYS = (
    "close",
    "low",
    "high",
    "forced_base",
    "endogenous",
    "net_flow_base",
    "expected_volume_base",
)


@pytest.fixture(scope="module")
def crash_tape() -> ModelTape:
    """The 10 Oct file cut a few minutes after the news (a slice of the real day)."""
    tape = read_klines(CRASH).slice(0, CRASH_FIRST + 10)
    return prepare(tape, default_params())


def _origin_state(mt: ModelTape, t: int) -> tuple[float, float, float]:
    st = mt.state
    return float(st.h[t]), float(st.transient[t]), float(st.flow_base[t])


def _run(mt: ModelTape, t: int, cum: np.ndarray, seed: int, plain: bool, n: int = 200):
    pf = mt.pf
    draws = draw_ensemble(pf, n, 120, seed)
    pv = _param_vector(pf.market, pf.book.forced_cap_frac)
    return simulate_paths(_origin_state(mt, t), pv, cum, draws, plain=plain)


def test_book_grid_of_the_crash_is_not_empty(crash_tape: ModelTape) -> None:
    cum = crash_tape.book(CRASH_FIRST)
    assert cum.shape == empty_book().shape
    assert np.all(np.diff(cum, axis=1) >= 0), "cumulative grids must not decrease"
    assert cum[0, -1] > 0 and cum[1, -1] > 0 and cum[2, -1] > 0 and cum[3, -1] > 0


@pytest.mark.parametrize("book", ["real", "empty"])
def test_numba_kernel_matches_numpy_twin(crash_tape: ModelTape, book: str) -> None:
    cum = crash_tape.book(CRASH_FIRST) if book == "real" else empty_book()
    fast = _run(crash_tape, CRASH_FIRST, cum, 11, plain=False)
    slow = _run(crash_tape, CRASH_FIRST, cum, 11, plain=True)
    assert set(fast) == set(KEYS) == set(slow)
    for k in KEYS:
        assert fast[k].shape == (200, 120)
        np.testing.assert_allclose(fast[k], slow[k], rtol=1e-9, atol=1e-12, err_msg=k)
    if book == "real":
        # the comparison must cover paths where the book fires
        assert np.abs(fast["forced_base"]).max() > 0


def test_outputs_are_finite_and_volume_positive(crash_tape: ModelTape) -> None:
    out = _run(crash_tape, CRASH_FIRST, crash_tape.book(CRASH_FIRST), 3, plain=False)
    for k in KEYS:
        assert np.all(np.isfinite(out[k])), k
    assert np.all(out["expected_volume_base"] > 0)
    prev = np.concatenate([np.zeros((200, 1)), out["close"][:, :-1]], axis=1)
    # bar extremes lie beyond both closes of the bar (log price 0 at the origin)
    assert np.all(out["low"] <= np.minimum(prev, out["close"]) + 1e-15)
    assert np.all(out["high"] >= np.maximum(prev, out["close"]) - 1e-15)
    assert np.all(out["low"] <= out["high"])


def test_long_only_book_gives_only_forced_selling(crash_tape: ModelTape) -> None:
    cum = crash_tape.book(CRASH_FIRST).copy()
    cum[2:] = 0.0  # no shorts: nothing to buy back
    out = _run(crash_tape, CRASH_FIRST, cum, 5, plain=False)
    assert np.all(out["forced_base"] >= 0.0)
    assert out["forced_base"].max() > 0.0
    # forced selling only ever pushes the price down
    assert np.all(out["endogenous"] <= 1e-15)


def test_short_only_book_gives_only_forced_buying(crash_tape: ModelTape) -> None:
    cum = crash_tape.book(CRASH_FIRST).copy()
    cum[:2] = 0.0
    out = _run(crash_tape, CRASH_FIRST, cum, 5, plain=False)
    assert np.all(out["forced_base"] <= 0.0)
    assert np.all(out["endogenous"] >= -1e-15)


def test_empty_book_has_no_forced_flow(crash_tape: ModelTape) -> None:
    for plain in (False, True):
        out = _run(crash_tape, CRASH_FIRST, empty_book(), 5, plain=plain)
        assert np.all(out["forced_base"] == 0.0)
        assert np.all(out["endogenous"] == 0.0)
        assert np.all(np.isfinite(out["close"]))


def test_forced_flow_never_exceeds_the_cap(crash_tape: ModelTape) -> None:
    pf = crash_tape.pf
    out = _run(crash_tape, CRASH_FIRST, crash_tape.book(CRASH_FIRST), 9, plain=False)
    cap = pf.book.forced_cap_frac * out["expected_volume_base"]
    assert np.all(np.abs(out["forced_base"]) <= cap * (1 + 1e-12))


def _ens(mt: ModelTape, seed: int, book: bool = True) -> Ensemble:
    draws = draw_ensemble(mt.pf, 200, 60, np.random.SeedSequence(seed))
    return mt.ensemble(CRASH_FIRST + 4, draws, book=book)


def test_ensemble_is_deterministic_for_a_seed(crash_tape: ModelTape) -> None:
    a, b, c = _ens(crash_tape, 7), _ens(crash_tape, 7), _ens(crash_tape, 8)
    for name in ("close", "low", "forced_base", "endogenous"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.close, c.close)
    assert not np.array_equal(a.low, c.low)
    assert a.seed == b.seed == 7 and c.seed == 8
    assert a.origin_close == float(crash_tape.tape.close[CRASH_FIRST + 4])


def test_draws_record_their_seed() -> None:
    pf = default_params()
    d1 = draw_ensemble(pf, 50, 10, 123)
    d2 = draw_ensemble(pf, 50, 10, np.random.SeedSequence(123))
    assert d1.seed == d2.seed == 123
    np.testing.assert_array_equal(d1.z_noise, d2.z_noise)
    np.testing.assert_array_equal(d1.u_low, d2.u_low)
    assert np.all((d1.u_low > 0) & (d1.u_low <= 1))
    assert d1.z_noise.shape == (50, 10) and d1.lam_mult.shape == (50,)


# --------------------------------------------------------------------------------------------
# parameters file


def test_write_load_params_round_trip(tmp_path: Path) -> None:
    pf = default_params()
    pf2 = msgspec.structs.replace(
        pf,
        market=msgspec.structs.replace(pf.market, vol_decay=0.9123456789012345),
        stderr={**pf.stderr, "vol_decay": 0.0125},
        identified={**pf.identified, "vol_decay": True},
    )
    p = write_params(tmp_path / "p.toml", pf2, header="test header\nsecond line")
    assert p == tmp_path / "p.toml"
    assert p.read_text().startswith("# test header\n# second line\n")
    assert not (tmp_path / "p.toml.tmp").exists()
    back = load_params(p)
    assert back.market == pf2.market
    assert back.book == pf2.book
    assert back.stderr == pf2.stderr
    assert back.identified == pf2.identified
    assert back == pf2


def test_write_load_params_round_trip_with_nan_stderr(tmp_path: Path) -> None:
    """A calibration on one tape has no bootstrap: its standard errors are NaN."""
    pf = default_params()
    pf2 = msgspec.structs.replace(pf, stderr={"vol_decay": float("nan")})
    back = load_params(write_params(tmp_path / "p.toml", pf2))
    assert np.isnan(back.stderr["vol_decay"])


def test_load_params_refuses_unknown_key(tmp_path: Path) -> None:
    p = write_params(tmp_path / "p.toml", default_params())
    text = p.read_text().replace("[market]\n", "[market]\nimpact_bogus_knob = 1.0\n", 1)
    p.write_text(text)
    with pytest.raises(ConfigError) as ei:
        load_params(p)
    msg = str(ei.value)
    assert msg.startswith("p.toml: market.impact_bogus_knob: unknown key"), msg


def test_load_params_refuses_bad_schema_and_missing_file(tmp_path: Path) -> None:
    p = write_params(tmp_path / "p.toml", default_params())
    p.write_text(p.read_text().replace('schema = "liqcascade.market/1"', 'schema = "other/9"'))
    with pytest.raises(ConfigError, match="schema"):
        load_params(p)
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "missing.toml")
