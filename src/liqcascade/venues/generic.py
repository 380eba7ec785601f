"""The generic venue: any user tier table, leverage up to 1001x.

Load with ``load_venue("generic", SYMBOL)`` (the shipped illustrative 1001x ladder),
``load_tier_file(path)`` (JSON/TOML/CSV) or ``from_ccxt_tiers(list)``. Liquidation uses the
Binance-form solve (equity = MM at the liquidation price, tier at that price).
"""

from __future__ import annotations

from liqcascade.venues import GENERIC_MAX_LEVERAGE, load_tier_file

__all__ = ["GENERIC_MAX_LEVERAGE", "load_tier_file"]
