"""Command-line interface.

Each module in this package registers its own commands: it defines ``register(app)`` which
adds commands or sub-apps to the root Typer app. Modules are discovered automatically, so
command groups can be added without touching this file. The CLI holds no domain logic: it
parses arguments, calls the library, and prints.

Start-up is kept short (``liqcascade --help`` well under a second): command modules import
numba, polars, DuckDB or the web stack only inside their command functions, and the root app is
built on first use (``from liqcascade.cli import app``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from typing import Any

__all__ = ["app", "main", "package_version"]


def package_version() -> str:
    """The installed liqcascade version (package metadata; the source tree's when not installed)."""
    from importlib import metadata

    try:
        return metadata.version("liqcascade")
    except metadata.PackageNotFoundError:
        from liqcascade import __version__

        return __version__


def _build_app() -> Any:
    import typer

    from liqcascade.cli._common import TYPER_KW, App, configure_logging

    root = App(
        name="liqcascade",
        help="Liquidation cascades in crypto perpetual futures: margin rules, cascades, replay, "
        "stress.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        **TYPER_KW,
    )

    def _show_version(value: bool) -> None:
        if value:
            typer.echo(f"liqcascade {package_version()}")
            raise typer.Exit()

    @root.callback()
    def _root(
        version: bool = typer.Option(
            False,
            "--version",
            is_eager=True,
            callback=_show_version,
            help="Print the version and exit.",
        ),
        verbose: int = typer.Option(
            0,
            "--verbose",
            "-v",
            count=True,
            show_default=False,
            help="More log output on stderr: -v info, -vv debug.",
        ),
        quiet: bool = typer.Option(
            False, "--quiet", "-q", help="Errors only: no warnings, notes or progress bars."
        ),
    ) -> None:
        """liqcascade: liquidation cascades in crypto perpetual futures."""
        configure_logging(verbose=verbose, quiet=quiet)

    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(root)
    return root


_APP: Any = None


def __getattr__(name: str) -> Any:
    global _APP
    if name == "app":
        if _APP is None:
            _APP = _build_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Console-script entry point: library errors become a one-line message and exit code 2."""
    if sys.argv[1:] == ["--version"]:  # answered without building the app
        sys.stdout.write(f"liqcascade {package_version()}\n")
        return
    import typer

    from liqcascade.errors import LiqcascadeError

    try:
        __getattr__("app")()
    except LiqcascadeError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
