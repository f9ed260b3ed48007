"""The command line imports what a command needs when it runs: `--version` and a model-free
`attribute` never load the replay lab, the openai SDK, torch, LightGBM or numpy."""

import json
import subprocess
import sys

import pytest

from agentracer.cli import COMMANDS, MODULES, app
from tests.conftest import EXAMPLE

HEAVY = ("openai", "torch", "lightgbm", "numpy", "transformers", "agentracer.replay")

# Runs the entry point as `agentracer ARGS` would, then lists the heavy modules it loaded.
PROBE = """
import json, sys
import agentracer.__main__ as entry
heavy = json.loads(sys.argv[2])
sys.argv = ["agentracer", *json.loads(sys.argv[1])]
try:
    entry.main()
except SystemExit as done:
    assert not done.code, done.code
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in heavy))
print(json.dumps(loaded), file=sys.stderr)
"""


def _loaded(*args: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "args",
    [
        ("--version",),
        ("attribute", str(EXAMPLE), "--tracer", "first-agent-step"),
        ("attribute", str(EXAMPLE), "--tracer", "last-agent-step", "--json"),
        ("show", str(EXAMPLE)),
    ],
    ids=["version", "attribute", "attribute-json", "show"],
)
def test_a_command_loads_no_heavy_module(args: tuple[str, ...]) -> None:
    assert _loaded(*args) == []


def test_the_version_loads_no_command_module() -> None:
    probe = "import sys, agentracer.__main__ as e; sys.argv=['agentracer','--version']; e.main(); "
    probe += "print(sorted(m for m in sys.modules if m.startswith(('typer', 'agentracer.cli.'))))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.splitlines()[0].startswith("agentracer ")
    assert done.stdout.splitlines()[-1] == "[]"


def test_every_command_is_mapped_to_the_module_that_defines_it() -> None:
    defined = {
        (c.name or c.callback.__name__.replace("_", "-")): c.callback.__module__
        for c in app.registered_commands
    }
    for group in app.registered_groups:
        defined[group.name] = group.typer_instance.registered_commands[0].callback.__module__
    assert {name: f"agentracer.cli.{module}" for name, module in COMMANDS.items()} == defined
    assert set(COMMANDS.values()) == set(MODULES)
