"""The `crisislab` command: one typer app whose subcommands only compose library calls.

Each layer registers its own commands in a `_cli.py` module next to it (scenario, efg, crisis,
simulate); this file wires them together so that layers never edit each other's command code.
User mistakes surface as `UserError` (a `ValueError`) and end with exit status 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

app = typer.Typer(
    name="crisislab",
    help="Write a strategic escalation crisis down as a scenario, solve it, simulate it, test claims.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)

# Modules that define `register(app)`; a module that does not exist yet is skipped.
_COMMAND_MODULES = (
    "crisislab.scenario._cli",
    "crisislab.efg._cli",
    "crisislab.crisis._cli",
    "crisislab.simulate._cli",
)


def _register_all() -> None:
    for name in _COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(app)


@app.callback()
def _root() -> None:
    """crisislab: scenarios, exact and crisis engines, simulation, claims and reports."""


@app.command()
def version() -> None:
    """Print the crisislab version."""
    from crisislab import __version__

    typer.echo(__version__)


_register_all()


def main() -> None:
    """Console entry point: run the app, turning user errors into exit status 2 without a traceback.

    Typer's standalone mode already answers usage errors (unknown command, bad option) with exit 2.
    """
    from crisislab.errors import UserError

    try:
        app()
    except UserError as exc:
        err_console.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
