"""Web dashboard and HTTP API (FastAPI): ``create_app`` builds it, ``liqcascade serve`` runs it."""

from liqcascade._optional import require

require("liqcascade.web", "fastapi", "python_multipart", "plotly", extra="web")

from liqcascade.web.app import WebConfig, create_app  # noqa: E402

__all__ = ["WebConfig", "create_app"]
