"""liqcascade: liquidation cascades in crypto perpetual-futures markets.

Venue-exact margin rules, a cascade engine with insurance funds, backstop vaults and
auto-deleveraging, an embedded DuckDB market-data store, event replay, Monte Carlo stress
tests and a policy lab.
"""

from liqcascade.errors import DataError, InputError, LiqcascadeError, RuleError

__version__ = "0.1.0"

__all__ = ["DataError", "InputError", "LiqcascadeError", "RuleError", "__version__"]
