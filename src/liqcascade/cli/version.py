"""``liqcascade version`` (also ``liqcascade --version``)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    @app.command("version")
    def version() -> None:
        """Print the liqcascade version."""
        from liqcascade.cli import package_version

        typer.echo(package_version())
