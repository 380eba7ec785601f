"""Plotly figures of result objects: the one lazy import of plotly and the house layout.

Every result object's ``.plot()`` builds its figure here (``plotly`` comes with the ``plot``
extra); the HTML reports embed those figures and the web pages draw their JSON
(:func:`figure_json`) with the plotly.js the app serves.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["TEMPLATE", "figure_json", "graph_objects", "stacked", "styled", "subplots"]

#: The plotly template of every figure (white background, light grid).
TEMPLATE = "plotly_white"


def graph_objects(what: str) -> Any:
    """``plotly.graph_objects``, or a one-line error naming the ``plot`` extra for ``what``."""
    from liqcascade._optional import require

    return require(what, "plotly.graph_objects", extra="plot")


def subplots(what: str, **kw: Any) -> Any:
    """``plotly.subplots.make_subplots(**kw)``, imported lazily like :func:`graph_objects`."""
    from liqcascade._optional import require

    return require(what, "plotly.graph_objects", "plotly.subplots", extra="plot").make_subplots(
        **kw
    )


def stacked(
    what: str, titles: tuple[str, str], heights: tuple[float, float], spacing: float
) -> Any:
    """Two charts one above the other on a shared time axis, ``heights`` their shares of the
    figure's height and ``spacing`` (a fraction of it) between them."""
    return subplots(
        what,
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=list(heights),
        vertical_spacing=spacing,
        subplot_titles=titles,
    )


def styled(fig: Any, title: str, **layout: Any) -> Any:
    """``fig`` with the house template and ``title`` (plus any other layout keys); returns it."""
    fig.update_layout(title={"text": title}, template=TEMPLATE, **layout)
    return fig


def figure_json(fig: Any) -> dict[str, Any]:
    """A figure as plain JSON (``{"data": [...], "layout": {...}}``): arrays as lists, NaN and
    infinities as null, the form a web page hands to ``Plotly.react``."""
    from liqcascade.jsonutil import to_jsonable

    return dict(json.loads(json.dumps(to_jsonable(_lists(fig.to_plotly_json())), default=str)))


def _lists(obj: Any) -> Any:
    """Plotly's base64 typed arrays (``{"dtype", "bdata", "shape"}``) back to nested lists, so
    the JSON reads the same in any plotly.js and in tests."""
    if isinstance(obj, dict):
        if "bdata" in obj and "dtype" in obj:
            import base64

            import numpy as np

            arr = np.frombuffer(base64.b64decode(obj["bdata"]), dtype=obj["dtype"])
            if "shape" in obj:
                shape = obj["shape"]
                dims = [int(d) for d in shape.split(",")] if isinstance(shape, str) else shape
                arr = arr.reshape(dims)
            return arr.tolist()
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return obj
