"""Optional dependencies: one place that turns a missing extra into a one-line message.

The core install (``pip install liqcascade``) holds what margin, books, engines, stress and the
store need. The extras add the faces and tools around it:

========  =========================================================  ==========================
extra     for                                                        packages
========  =========================================================  ==========================
web       ``liqcascade serve``, ``liqcascade.web``                   fastapi, uvicorn, plotly...
plot      ``.plot()`` of results, HTML reports, ``map`` plots        plotly, matplotlib
dask      ``stress --dask-local / --scheduler``                      dask[distributed]
fetch     ``data fetch`` (exchange APIs)                             ccxt
garch     GARCH(1,1) shocks                                          arch
testing   ``liqcascade.testing`` (hypothesis strategies)             hypothesis
all       every extra above
========  =========================================================  ==========================

>>> from liqcascade._optional import require
>>> require("liqcascade.testing", "numpy", extra="testing").__name__
'numpy'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from liqcascade.errors import MissingExtraError

__all__ = ["missing_extra_message", "require"]


def missing_extra_message(what: str, extra: str) -> str:
    """The one line shown when ``what`` (a command or module) lacks its ``extra``."""
    return f"{what} needs the {extra} extra: pip install 'liqcascade[{extra}]'"


def require(what: str, *modules: str, extra: str) -> ModuleType:
    """Import ``modules`` (dotted names) and return the last one; if any is missing, raise
    :class:`~liqcascade.errors.MissingExtraError` with one line naming the pip command.

    ``what`` names the feature for the user, e.g. ``"liqcascade serve"``; ``extra`` is the
    name in ``pyproject.toml``'s ``[project.optional-dependencies]``.
    """
    mod: ModuleType | None = None
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            raise MissingExtraError(missing_extra_message(what, extra)) from exc
    if mod is None:
        raise ValueError("require() needs at least one module name")
    return mod
