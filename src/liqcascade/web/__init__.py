"""Web dashboard and HTTP API (FastAPI): ``create_app`` builds it, ``liqcascade serve`` runs it."""

from liqcascade.web.app import WebConfig, create_app

__all__ = ["WebConfig", "create_app"]
