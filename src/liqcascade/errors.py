"""One root exception with a few meaningful children.

Messages name the file, row or field and what was expected, so a user can fix the input.
"""

from __future__ import annotations


class LiqcascadeError(Exception):
    """Root of every error liqcascade raises on purpose."""


class InputError(LiqcascadeError, ValueError):
    """A user-supplied value (argument, file row, config key) is invalid."""


class RuleError(LiqcascadeError, ValueError):
    """A venue rule table is inconsistent, or an input breaks a venue limit."""


class DataError(LiqcascadeError):
    """A market-data file or the store is malformed, truncated or of the wrong format."""


class ConfigError(InputError):
    """A scenario or config file has an invalid or unknown key."""


class NetworkError(LiqcascadeError):
    """An exchange could not be reached (no network, or the venue refused)."""


class MissingExtraError(LiqcascadeError, ImportError):
    """An optional dependency is not installed; the message names the pip command that adds it."""
