"""The library logs through one logger and never prints; the CLI prints."""

from __future__ import annotations

import logging

logger = logging.getLogger("liqcascade")
logger.addHandler(logging.NullHandler())
