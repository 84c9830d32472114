"""The `crisislab` command: one typer app whose subcommands only compose public library calls.

The commands are grouped by the layer they drive, one module each (`_scenario`, `_efg`, `_crisis`,
`_simulate`, `_inference` (replay, estimate); `_draw` draws game trees); this module wires them
together lazily, so that a command only imports the layers it uses (`crisislab validate` does not pay
for numba).
Exit statuses (`main`), each failure printed as one line on stderr, never a traceback:

- 0: done.
- 2: a mistake in what was asked: a usage error, an invalid scenario, record or .efg file, an
  argument out of bounds, an input that cannot be read or an output that cannot be written where
  asked (found before any work).
- 3: the environment failed a command asked correctly (`EnvironmentFault`, an `OSError` or a
  `MemoryError` during the work): a full disk or read-only file system while writing the outputs
  (the previous outputs are then unchanged), a worker process killed, a cluster that lost its
  workers, the machine out of memory.
- 130: interrupted (Ctrl-C).
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
    "replay": "crisislab.cli._inference",
    "estimate": "crisislab.cli._inference",
    "fit-check": "crisislab.cli._inference",
    "draw": "crisislab.cli._draw",
    "sweep": "crisislab.cli._sweep",
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
    epilog="Exit status: 0 done; 2 a mistake in what was asked (found before any work where it can be); "
    "3 the environment failed (a full disk or read-only file system while writing, which leaves the previous "
    "outputs whole; a lost worker; no memory); 130 interrupted.",
)
err_console = Console(stderr=True, emoji=False)


@app.callback()
def _root() -> None:
    """crisislab: scenarios, exact and crisis engines, simulation, claims and reports."""


@app.command()
def version() -> None:
    """Print the crisislab version."""
    from crisislab._version import __version__

    typer.echo(__version__)



EXIT_USER_ERROR = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERRUPTED = 130


def _say(text: str) -> None:
    err_console.print(text, markup=False, highlight=False, emoji=False, soft_wrap=True)


def main() -> None:
    """Console entry point: run the app; user errors exit with status 2, faults of the environment
    with 3, an interrupt with 130, each as one line without a traceback (see the module docstring).

    Typer's standalone mode already answers usage errors (unknown command, bad option) with exit 2.
    """
    from crisislab.errors import EnvironmentFault, UserError

    try:
        app()
    except UserError as exc:
        _say(str(exc))
        sys.exit(EXIT_USER_ERROR)
    except EnvironmentFault as exc:
        _say(f"error: {exc}")
        sys.exit(EXIT_ENVIRONMENT)
    except OSError as exc:
        from crisislab._output import fault_message

        _say(f"error: {fault_message(exc)}")
        sys.exit(EXIT_ENVIRONMENT)
    except MemoryError:
        _say("error: out of memory (use fewer --runs, a smaller --chunk or --grid, or fewer --workers)")
        sys.exit(EXIT_ENVIRONMENT)
    except KeyboardInterrupt:
        _say("interrupted")
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
