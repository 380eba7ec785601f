"""Leverage priors: how opened notional spreads over leverage levels, one TOML file per venue
under ``liqcascade/priors`` (docs/liquidation-map.md gives the format), and the venue's cap."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from liqcascade.errors import ConfigError, InputError
from liqcascade.file_schemas import PriorFile, load_prior_file


@dataclass(frozen=True, kw_only=True)
class LeveragePrior:
    """An explicit leverage prior for one venue (read from a TOML file, see docs/liquidation-map.md).

    Attributes:
        venue: venue key as in ``liqcascade.venues`` (e.g. ``"binance_usdm"``).
        name: short name of the prior (``"default"``, ``"high"``, ...).
        leverage: leverage levels (x, > 0).
        weight: share of opened notional at each level (fractions summing to 1).
        representative_notional_quote: position size (quote) used to pick the venue's
            maintenance-margin tier when computing liquidation prices.
        half_life_hours: voluntary-closing half-life of positions that are not liquidated.
        open_fraction: share of traded quote volume that opens positions; used only when no open
            interest is given.
        side_split: ``"taker"`` (taker-buy volume opens longs) or ``"even"`` (half each).
        summary, rationale: what the prior assumes and why, in words.
        path: file it was read from ("" when built in code).
    """

    venue: str
    name: str
    leverage: tuple[float, ...]
    weight: tuple[float, ...]
    representative_notional_quote: float = 20_000.0
    half_life_hours: float = 72.0
    open_fraction: float = 0.05
    side_split: str = "taker"
    summary: str = ""
    rationale: str = ""
    path: str = ""

    def __post_init__(self) -> None:
        where = self.path or f"prior {self.venue}.{self.name}"
        lev = np.asarray(self.leverage, dtype=float)
        w = np.asarray(self.weight, dtype=float)
        if lev.ndim != 1 or lev.size == 0 or lev.size != w.size:
            raise ConfigError(
                f"{where}: leverage.levels and leverage.weights must be non-empty lists of equal "
                f"length (got {lev.size} and {w.size})"
            )
        if not np.all(np.isfinite(lev)) or np.any(lev < 1.0):
            raise ConfigError(f"{where}: leverage.levels must be finite and >= 1, got {list(lev)}")
        if np.any(np.diff(lev) <= 0):
            raise ConfigError(f"{where}: leverage.levels must be strictly increasing")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ConfigError(f"{where}: leverage.weights must be finite and >= 0")
        if abs(w.sum() - 1.0) > 1e-6:
            raise ConfigError(
                f"{where}: leverage.weights must sum to 1 (fractions), got {w.sum():.6f}"
            )
        if not (self.representative_notional_quote > 0):
            raise ConfigError(f"{where}: representative_notional_quote must be > 0")
        if not (self.half_life_hours > 0):
            raise ConfigError(f"{where}: half_life_hours must be > 0 (hours)")
        if not (0 < self.open_fraction <= 1):
            raise ConfigError(f"{where}: open_fraction must be in (0, 1]")
        if self.side_split not in ("taker", "even"):
            raise ConfigError(
                f"{where}: side_split must be 'taker' or 'even', got {self.side_split!r}"
            )

    @classmethod
    def from_toml(cls, path: str | Path) -> LeveragePrior:
        """Read a prior file (schema ``liqcascade.prior/1``); unknown keys are rejected."""
        p = Path(path)
        return cls._from_file(load_prior_file(p), str(p))

    @classmethod
    def from_dict(cls, raw: dict[str, Any], path: str = "") -> LeveragePrior:
        """Build a prior from the parsed TOML mapping (same keys as the file)."""
        return cls._from_file(PriorFile.from_dict(raw, name=path or "prior"), path)

    @classmethod
    def _from_file(cls, f: PriorFile, path: str) -> LeveragePrior:
        return cls(
            venue=f.venue,
            name=f.name,
            leverage=tuple(float(x) for x in f.leverage.levels),
            weight=tuple(float(x) for x in f.leverage.weights),
            representative_notional_quote=float(f.representative_notional_quote),
            half_life_hours=float(f.half_life_hours),
            open_fraction=float(f.open_fraction),
            side_split=f.side_split,
            summary=f.summary.strip(),
            rationale=f.rationale.strip(),
            path=path,
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (recorded in every map and replay result)."""
        return {
            "venue": self.venue,
            "name": self.name,
            "leverage": list(self.leverage),
            "weight": list(self.weight),
            "representative_notional_quote": self.representative_notional_quote,
            "half_life_hours": self.half_life_hours,
            "open_fraction": self.open_fraction,
            "side_split": self.side_split,
            "path": self.path,
        }


def _prior_dir() -> Path:
    return Path(str(resources.files("liqcascade") / "priors"))


def list_priors(venue: str | None = None) -> list[str]:
    """Names ``venue.name`` of the priors shipped with liqcascade (optionally for one venue)."""
    names = sorted(p.name[: -len(".toml")] for p in _prior_dir().glob("*.toml"))
    if venue is not None:
        names = [n for n in names if n.split(".", 1)[0] == venue]
    return names


def load_prior(spec: str | Path = "default", venue: str | None = None) -> LeveragePrior:
    """Load a leverage prior.

    ``spec`` is a path to a TOML file, a shipped name ``"venue.name"``, or just ``"name"`` together
    with ``venue`` (``load_prior("high", venue="binance_usdm")``).
    """
    p = Path(spec)
    if p.suffix == ".toml" or p.exists():
        prior = LeveragePrior.from_toml(p)
    else:
        key = str(spec) if "." in str(spec) else f"{venue}.{spec}"
        if venue is None and "." not in str(spec):
            raise InputError(f"prior {spec!r}: give a file path, 'venue.name', or a venue")
        f = _prior_dir() / f"{key}.toml"
        if not f.exists():
            raise InputError(
                f"prior {key!r}: not shipped; available: {', '.join(list_priors()) or 'none'} "
                "(or pass a TOML file path)"
            )
        prior = LeveragePrior.from_toml(f)
    if venue is not None and prior.venue != venue:
        raise ConfigError(
            f"{prior.path or spec}: prior is for venue {prior.venue!r}, map asked for {venue!r}"
        )
    return prior


def _load_rules(venue: str, symbol: str) -> Any:
    from liqcascade.venues import load_venue

    return load_venue(venue, symbol)


def capped_leverage(prior: LeveragePrior, rules: Any) -> tuple[np.ndarray, np.ndarray, float]:
    """The prior's levels and weights with weight above the venue cap moved to the cap.

    The cap is the maximum leverage of the venue tier that holds the prior's representative
    notional (``rules.tiers``). Returns (levels, weights, moved_weight).
    """
    lev = np.asarray(prior.leverage, dtype=float)
    w = np.asarray(prior.weight, dtype=float)
    k = int(np.asarray(rules.tiers.index(np.array([prior.representative_notional_quote])))[0])
    cap = float(np.asarray(rules.tiers.max_leverage)[k])
    above = lev > cap
    moved = float(w[above].sum())
    if not above.any():
        return lev, w, 0.0
    lev2 = np.append(lev[~above], cap) if cap not in lev[~above] else lev[~above]
    w2 = w[~above].copy()
    if cap in lev[~above]:
        w2[np.searchsorted(lev[~above], cap)] += moved
    else:
        w2 = np.append(w2, moved)
    return lev2, w2, moved
