"""Leverage priors for the liquidation map, one TOML file per venue and prior name.

See docs/liquidation-map.md for the file format; ``liqcascade.estimate.load_prior`` reads them.
"""
