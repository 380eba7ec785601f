"""Scenarios: shocks, price paths, synthetic trader populations and their behaviours.

- :mod:`.schema`: the TOML scenario file, validated into frozen configs;
- :mod:`.shocks`: shock models (jump, news, Brownian bridge, Merton, GARCH, collateral) and
  their fitting from klines;
- :mod:`.population`: synthetic position books;
- :mod:`.behaviours`: behaviour rules acting per step on depth, resting bids and positions.
"""

from liqcascade.scenarios.schema import Scenario, load_scenario, parse_scenario

__all__ = ["Scenario", "load_scenario", "parse_scenario"]
