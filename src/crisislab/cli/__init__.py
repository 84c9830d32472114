"""The `crisislab` command: one typer app whose subcommands only compose public library calls.

The commands are grouped by the layer they drive, one module each (`_scenario`, `_efg`, `_crisis`,
`_simulate`); this module wires them together lazily, so that a command only imports the layers it
uses (`crisislab validate` does not pay for numba).
User mistakes surface as `UserError` (a `ValueError`) and end with exit status 2 and no traceback.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console
from typer.core import TyperGroup

# Which module's `register(app)` provides each top-level command. A command's module is imported
# only when that command runs (or when the full help is listed), so `crisislab validate` does not pay
# for numba, scipy.stats or pandas.
_COMMAND_MODULES: dict[str, str] = {
    "validate": "crisislab.cli._scenario",
    "show": "crisislab.cli._scenario",
    "scenarios": "crisislab.cli._scenario",
    "efg": "crisislab.cli._efg",
    "solve": "crisislab.cli._crisis",
    "export-efg": "crisislab.cli._crisis",
    "simulate": "crisislab.cli._simulate",
    "claims": "crisislab.cli._simulate",
    "run": "crisislab.cli._simulate",
    "grid-check": "crisislab.cli._simulate",
}


class _LazyGroup(TyperGroup):
    """A command group that imports a layer's command module on first use of one of its commands."""

    def list_commands(self, ctx):  # type: ignore[no-untyped-def]
        return sorted(set(super().list_commands(ctx)) | set(_COMMAND_MODULES))

    def get_command(self, ctx, cmd_name):  # type: ignore[no-untyped-def]
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in _COMMAND_MODULES:
            layer = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
            layer.callback()(lambda: None)  # keep a group even when the layer has one command
            importlib.import_module(_COMMAND_MODULES[cmd_name]).register(layer)
            group = typer.main.get_group(layer)
            for name in group.list_commands(ctx):
                self.add_command(group.get_command(ctx, name), name)
            command = super().get_command(ctx, cmd_name)
        return command


app = typer.Typer(
    name="crisislab",
    cls=_LazyGroup,
    help="Write a strategic escalation crisis down as a scenario, solve it, simulate it, test claims.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err_console = Console(stderr=True)


@app.callback()
def _root() -> None:
    """crisislab: scenarios, exact and crisis engines, simulation, claims and reports."""


@app.command()
def version() -> None:
    """Print the crisislab version."""
    from crisislab._version import __version__

    typer.echo(__version__)



def main() -> None:
    """Console entry point: run the app, turning user errors into exit status 2 without a traceback.

    Typer's standalone mode already answers usage errors (unknown command, bad option) with exit 2.
    """
    from crisislab.errors import UserError

    try:
        app()
    except UserError as exc:
        err_console.print(str(exc), markup=False, highlight=False, emoji=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
