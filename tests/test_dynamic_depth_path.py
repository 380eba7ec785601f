"""A per-step depth multiplier applies to that step only; it must not compound across steps."""

from __future__ import annotations

import numpy as np

from liqcascade.engine.dynamic import DynamicConfig, PositionArrays, simulate
from liqcascade.impact import LinearImpact
from liqcascade.margin import PositionsAtRate


def _run(scale: float):
    pos = PositionArrays.isolated(
        PositionsAtRate(
            side=np.array([1, 1], dtype=np.int8),
            size_base=np.array([0.5, 0.5]),
            entry_price=np.array([100.0, 100.0]),
            margin_quote=np.array([5.0, 5.0]),
            mmr=0.005,
        )
    )
    steps = 30
    return simulate(
        pos,
        LinearImpact(depth_1pct_base=50.0),
        None,
        DynamicConfig(stress_beta=0.0, steps=steps),
        7,
        initial_price=100.0,
        depth_scale_path=np.full(steps, scale),
    )


def test_constant_depth_path_does_not_compound():
    res = _run(0.5)
    scales = res.timeline["depth_scale"].to_numpy()[1:]  # row 0 is the state before step 1
    assert np.allclose(scales, 0.5), scales[:5]
