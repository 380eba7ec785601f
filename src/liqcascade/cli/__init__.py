"""Command-line interface.

Each module in this package registers its own commands: it defines ``register(app)`` which
adds commands or sub-apps to the root Typer app. Modules are discovered automatically, so
command groups can be added without touching this file. The CLI holds no domain logic: it
parses arguments, calls the library, and prints.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer

from liqcascade.errors import LiqcascadeError

app = typer.Typer(
    name="liqcascade",
    help="Liquidation cascades in crypto perpetual futures: margin rules, cascades, replay, stress.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """liqcascade: liquidation cascades in crypto perpetual futures."""


def _register_all() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(app)


_register_all()


def main() -> None:
    """Console-script entry point: library errors become a one-line message and exit code 2."""
    try:
        app()
    except LiqcascadeError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
