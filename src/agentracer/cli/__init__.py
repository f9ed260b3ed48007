"""The `agentracer` command: thin wrappers that parse arguments and call the library.

Importing a command module registers its commands on `app`. The command line imports only the
module of the command it runs (`load`): `--version` loads none, `attribute` never loads the
replay lab or the openai SDK. `from agentracer.cli import app` loads them all.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

# Every command module, in the order their commands are listed in `--help`.
MODULES = (
    "annotate",
    "catalogue",
    "evaluation",
    "faithfulness",
    "fast",
    "feedback",
    "forecast",
    "phoenix",
    "replay",
    "serve",
    "traces",
    "training",
    "view",
)
# The module that defines each command (a test keeps this in step with the modules); a name
# missing here loads every module, so a new command works before it is added.
COMMANDS = {
    "annotate": "annotate",
    "tracers": "catalogue",
    "formats": "catalogue",
    "models": "catalogue",
    "eval": "evaluation",
    "faithfulness": "faithfulness",
    "train-fast": "fast",
    "feedback": "feedback",
    "forecast": "forecast",
    "phoenix": "phoenix",
    "record": "replay",
    "replay": "replay",
    "serve": "serve",
    "traces": "serve",
    "show": "traces",
    "attribute": "traces",
    "convert": "traces",
    "train": "training",
    "view": "view",
}


from agentracer.errors import DISTRIBUTION  # noqa: E402  (light: the one place the name lives)


def version_line() -> str:
    """What `agentracer --version` prints: the installed distribution's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version(DISTRIBUTION)
    except PackageNotFoundError:
        installed = "unknown (not installed as a distribution)"
    return f"agentracer {installed} ({DISTRIBUTION})"


def load(args: list[str]) -> typer.Typer:
    """`app` with what the command line `args` (without the program name) needs: the module
    of the command named, nothing for a bare `--version`, every module otherwise (help, no
    command, an unknown name)."""
    from agentracer.cli.common import app

    command = next((arg for arg in args if not arg.startswith("-")), None)
    if command is None and "--version" in args and not {"--help", "-h"} & set(args):
        return app
    modules = [COMMANDS[command]] if command in COMMANDS else MODULES
    for module in modules:
        importlib.import_module(f"agentracer.cli.{module}")
    return app


def __getattr__(name: str) -> object:
    if name == "app":
        return load([])  # every command, registered in `--help` order
    raise AttributeError(f"module 'agentracer.cli' has no attribute {name!r}")


__all__ = ["COMMANDS", "DISTRIBUTION", "MODULES", "app", "load", "version_line"]
