"""Where liquidations sit: a liquidation map estimated from stored market data with a stated prior.

Method (docs/liquidation-map.md states every formula and default):

1. Positions are opened bar by bar over a look-back window before ``at``. The notional opened in
   bar i is ``max(dOI_i, 0)`` when an open-interest series is given, else the bar's traded quote
   volume. It is split between longs and shorts by the taker flow of the bar (taker-buy quote
   volume opens longs, taker-sell opens shorts). Entry price = the bar's VWAP
   (quote_volume / volume; the close when the bar has no volume).
2. Each bar's opened notional is spread over leverage levels by an explicit prior
   (:class:`LeveragePrior`, one TOML file per venue under ``liqcascade/priors``). Weight above the
   symbol's leverage cap (from the venue rules, at the prior's representative position size) is
   moved to the cap.
3. The liquidation price of each (bar, leverage, side) cohort is the venue's isolated-margin
   liquidation price (``liqcascade.margin.liquidation_price``) for a position of the prior's
   representative notional with margin = notional / leverage.
4. A cohort is closed when price crosses its liquidation price after its opening bar (longs: any
   later bar low <= liquidation price; shorts: any later bar high >= it). Cohorts that survive are
   also closed voluntarily with the prior's half-life.
5. The surviving book is scaled so that each side's total size equals the open interest at
   ``at`` (stated, or the last value of the series): every contract has one long and one short.
   Without any open interest the prior's ``open_fraction`` of traded volume is used.

The result is a :class:`LiquidationMap` whose ``levels`` frame (price_level, side, venue, symbol,
size_base, notional_quote) is what the risk module's cluster warning and the web heatmap read.

Layout: :mod:`~liqcascade.estimate.priors` (leverage priors and the venue cap),
:mod:`~liqcascade.estimate.bars` (bars and times), :mod:`~liqcascade.estimate.map` (the map,
step by step, and its comparison across priors) and :mod:`~liqcascade.estimate.grids` (the book on
the market model's grid). Every name below is importable from ``liqcascade.estimate``.
"""

from __future__ import annotations

from liqcascade.estimate.bars import ms_to_iso, normalize_bars, to_ms
from liqcascade.estimate.grids import GridPrior, book_grids, grid_prior, liquidation_ratios
from liqcascade.estimate.map import (
    LiquidationMap,
    compare_priors,
    estimate_map,
    maps_figure,
    sensitivity_table,
)
from liqcascade.estimate.priors import (
    LeveragePrior,
    capped_leverage,
    list_priors,
    load_prior,
)
from liqcascade.estimate.snapshots import (
    MapSnapshots,
    map_from_store,
    map_snapshots,
    snapshot_times,
)
from liqcascade.file_schemas import PRIOR_SCHEMA

__all__ = [
    "PRIOR_SCHEMA",
    "GridPrior",
    "LeveragePrior",
    "LiquidationMap",
    "MapSnapshots",
    "book_grids",
    "capped_leverage",
    "compare_priors",
    "estimate_map",
    "grid_prior",
    "liquidation_ratios",
    "list_priors",
    "load_prior",
    "map_from_store",
    "map_snapshots",
    "maps_figure",
    "ms_to_iso",
    "normalize_bars",
    "sensitivity_table",
    "snapshot_times",
    "to_ms",
]
