"""Impact-model configs: one shape for TOML files, web requests, Python and the CLI's short form.

An impact config names a model of :mod:`liqcascade.impact` by ``model`` and gives its
parameters under the field names of that model:

================  ==============================================  ================================
``model``         fields                                          CLI short form
================  ==============================================  ================================
``"linear"``      ``depth_1pct_base``                             ``linear:DEPTH_1PCT``
``"sqrt"``        ``y``, ``sigma_daily``, ``adv_base``            ``sqrt:Y,SIGMA,ADV``
``"depth"``       ``depth_file``, ``depth_at``, ``depth_source``  ``depth:FILE[@TIME]``,
                                                                  ``depth:sample:NAME[@TIME]``
``"market"``      ``params``                                      ``market[:PARAMS_FILE]``
================  ==============================================  ================================

``depth_source`` says where ``depth_file`` is: ``"file"`` (the default) a path, relative to the
directory of the file that holds the config (or to the directory the caller names);
``"sample"`` a bookDepth file shipped with liqcascade, by file name or by its path under the
package's ``sample_data`` folder.

In a scenario or policy TOML a venue's ``impact`` is either the short form or a table::

    impact = "linear:500"
    impact = { model = "linear", depth_1pct_base = 500 }

A web request sends the same table as JSON. Every form is validated by
:func:`impact_config` (unknown fields and models refused by name) and built into a model by
:func:`build_impact`.

Examples
--------
>>> cfg = impact_config({"model": "sqrt", "y": 0.8, "sigma_daily": 0.035, "adv_base": 150000})
>>> cfg == impact_config("sqrt:0.8,0.035,150000")
True
>>> build_impact(cfg)
SqrtImpact(y=0.8, sigma_daily=0.035, adv_base=150000.0)
>>> short_form(impact_config({"model": "linear", "depth_1pct_base": 500}))
'linear:500'
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec

from liqcascade.config import Config, convert
from liqcascade.errors import ConfigError, InputError

if TYPE_CHECKING:
    from liqcascade.impact import ImpactModel

__all__ = [
    "DepthImpactConfig",
    "ImpactConfig",
    "LinearImpactConfig",
    "MarketImpactConfig",
    "SqrtImpactConfig",
    "build_impact",
    "impact_config",
    "sample_bookdepth_files",
    "short_form",
]

_Pos = Annotated[float, msgspec.Meta(gt=0.0)]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=400)]

MODELS = ("linear", "sqrt", "depth", "market")


class LinearImpactConfig(Config, frozen=True, kw_only=True, tag="linear", tag_field="model"):
    """``depth_1pct_base`` base units move the price by 1 % (:class:`~liqcascade.impact.LinearImpact`)."""

    depth_1pct_base: _Pos


class SqrtImpactConfig(Config, frozen=True, kw_only=True, tag="sqrt", tag_field="model"):
    """Square-root law ``x = y * sigma_daily * sqrt(V / adv_base)`` (:class:`~liqcascade.impact.SqrtImpact`)."""

    y: _Pos
    sigma_daily: _Pos
    adv_base: _Pos


class DepthImpactConfig(Config, frozen=True, kw_only=True, tag="depth", tag_field="model"):
    """A Binance bookDepth snapshot (:class:`~liqcascade.impact.DepthCurveImpact`).

    ``depth_at`` is the snapshot time (``HH:MM[:SS]`` or ``YYYY-MM-DD HH:MM[:SS]``; the
    snapshot at or before it), default the first snapshot of the file.
    """

    depth_file: _Text
    depth_at: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    depth_source: Literal["file", "sample"] = "file"


class MarketImpactConfig(Config, frozen=True, kw_only=True, tag="market", tag_field="model"):
    """The calibrated market model's impact as a linear depth
    (:func:`~liqcascade.impact.market_linear_impact`); ``params`` a market-parameters file, default
    the shipped calibration."""

    params: _Text | None = None


ImpactConfig = LinearImpactConfig | SqrtImpactConfig | DepthImpactConfig | MarketImpactConfig

#: The forms an impact may be given in: a config, its fields as a mapping, or the CLI short form.
ImpactLike = str | Mapping[str, Any] | ImpactConfig

_SHORT_FORMS = "linear:DEPTH_1PCT, depth:FILE[@TIME], sqrt:Y,SIGMA,ADV or market[:PARAMS_FILE]"


def impact_config(spec: ImpactLike, *, name: str = "impact") -> ImpactConfig:
    """The validated config of ``spec`` (a config, a mapping of its fields, or the short form).

    Errors are :class:`~liqcascade.errors.ConfigError` (mapping) or
    :class:`~liqcascade.errors.InputError` (short form), starting with ``name`` and the field.
    """
    if isinstance(
        spec, LinearImpactConfig | SqrtImpactConfig | DepthImpactConfig | MarketImpactConfig
    ):
        return spec
    if isinstance(spec, str):
        return _parse_short(spec)
    if isinstance(spec, Mapping):
        return convert(dict(spec), ImpactConfig, name=name)  # type: ignore[arg-type]
    raise InputError(f"{name}: expected {_SHORT_FORMS}, or a table with 'model'; got {spec!r}")


def _parse_short(spec: str) -> ImpactConfig:
    try:
        return _short_to_config(spec)
    except ConfigError as exc:  # a bound: name the spec as given, then the field
        raise InputError(f"impact {spec!r}: {str(exc).split(': ', 1)[-1]}") from None


def _short_to_config(spec: str) -> ImpactConfig:
    text = spec.strip()
    if text.lower() == "market":
        return MarketImpactConfig()
    if ":" not in text:
        raise InputError(f"impact {spec!r}: expected {_SHORT_FORMS}")
    kind, _, arg = text.partition(":")
    kind = kind.strip().lower()
    if kind == "market":
        return MarketImpactConfig(params=arg.strip() or None)
    if kind == "linear":
        return LinearImpactConfig(depth_1pct_base=_num(arg, spec, "DEPTH_1PCT"))
    if kind == "sqrt":
        parts = arg.split(",")
        if len(parts) != 3:
            raise InputError(
                f"impact {spec!r}: sqrt needs three numbers Y,SIGMA,ADV, got {len(parts)}"
            )
        y, s, a = (_num(p, spec, n) for p, n in zip(parts, ("Y", "SIGMA", "ADV"), strict=True))
        return SqrtImpactConfig(y=y, sigma_daily=s, adv_base=a)
    if kind == "depth":
        file, _, at = arg.rpartition("@") if "@" in arg else (arg, "", "")
        source: Literal["file", "sample"] = "file"
        if file.startswith("sample:"):
            file, source = file[len("sample:") :], "sample"
        if not file:
            raise InputError(f"impact {spec!r}: depth needs a bookDepth file path")
        return DepthImpactConfig(depth_file=file, depth_at=at or None, depth_source=source)
    raise InputError(
        f"impact {spec!r}: unknown model {kind!r}; expected {', '.join(MODELS[:-1])} or {MODELS[-1]}"
    )


def _num(text: str, spec: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(f"impact {spec!r}: {name} must be a number, got {text!r}") from None


def short_form(cfg: ImpactConfig) -> str:
    """The CLI short form of ``cfg`` (``impact_config(short_form(cfg)) == cfg``)."""
    if isinstance(cfg, LinearImpactConfig):
        return f"linear:{cfg.depth_1pct_base:g}"
    if isinstance(cfg, SqrtImpactConfig):
        return f"sqrt:{cfg.y:g},{cfg.sigma_daily:g},{cfg.adv_base:g}"
    if isinstance(cfg, DepthImpactConfig):
        prefix = "sample:" if cfg.depth_source == "sample" else ""
        at = f"@{cfg.depth_at}" if cfg.depth_at else ""
        return f"depth:{prefix}{cfg.depth_file}{at}"
    return f"market:{cfg.params}" if cfg.params else "market"


def sample_bookdepth_files() -> dict[str, Path]:
    """The bookDepth files shipped with liqcascade, by file name."""
    root = Path(str(importlib.resources.files("liqcascade") / "sample_data"))
    return {p.name: p for p in sorted(root.rglob("*bookDepth*.csv"))}


def _sample_file(name: str) -> Path:
    files = sample_bookdepth_files()
    if name in files:
        return files[name]
    root = Path(str(importlib.resources.files("liqcascade") / "sample_data"))
    candidate = (root / name).resolve()
    if candidate.is_file() and candidate.is_relative_to(root.resolve()):
        return candidate
    raise InputError(
        f"impact.depth_file: no shipped bookDepth file {name!r} (expected one of {sorted(files)})"
    )


def build_impact(
    spec: ImpactLike,
    *,
    base_dir: str | Path | None = None,
    resolve_file: Callable[[str], Path] | None = None,
) -> ImpactModel:
    """The impact model of ``spec`` (see :func:`impact_config` for the forms it may take).

    A ``depth_source="file"`` path is read relative to ``base_dir`` (default the working
    directory), or found by ``resolve_file`` when given (the web uses it to keep files inside its
    data directory).
    """
    from liqcascade.impact import DepthCurveImpact, LinearImpact, SqrtImpact, market_linear_impact

    cfg = impact_config(spec)
    if isinstance(cfg, LinearImpactConfig):
        return LinearImpact(cfg.depth_1pct_base)
    if isinstance(cfg, SqrtImpactConfig):
        return SqrtImpact(y=cfg.y, sigma_daily=cfg.sigma_daily, adv_base=cfg.adv_base)
    if isinstance(cfg, MarketImpactConfig):
        params = cfg.params
        if params and base_dir is not None and not Path(params).is_absolute():
            params = str(Path(base_dir) / params)
        return market_linear_impact(params)
    if cfg.depth_source == "sample":
        path = _sample_file(cfg.depth_file)
    elif resolve_file is not None:
        path = resolve_file(cfg.depth_file)
    else:
        path = Path(cfg.depth_file)
        if base_dir is not None and not path.is_absolute():
            path = Path(base_dir) / path
    return DepthCurveImpact.from_bookdepth(path, at=cfg.depth_at)
