"""liqcascade: liquidation cascades in crypto perpetual-futures markets.

Venue-exact margin rules, a cascade engine with insurance funds, backstop vaults and
auto-deleveraging, an embedded DuckDB market-data store, event replay, Monte Carlo stress
tests and a policy lab.
"""

import os as _os

# Parallel numba kernels use the 'workqueue' threading layer unless the user chose one: GNU OpenMP
# aborts a process that forks after a parallel region, and the stress runner forks workers.
if not _os.environ.get("NUMBA_THREADING_LAYER"):
    import sys as _sys

    if "numba" in _sys.modules:
        _sys.modules["numba"].config.THREADING_LAYER = "workqueue"
    else:  # read by numba when it is first imported (importing it here costs ~1 s of start-up)
        _os.environ["NUMBA_THREADING_LAYER"] = "workqueue"

from liqcascade.errors import DataError, InputError, LiqcascadeError, RuleError

__version__ = "0.1.0"

__all__ = ["DataError", "InputError", "LiqcascadeError", "RuleError", "__version__"]
