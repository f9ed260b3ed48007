"""The `agentracer` command's entry point (also `python -m agentracer`).

Before a command that runs recorded programs, the API keys leave this process's start
environment: it executes itself again, the keys handed over through a pipe
(`agentracer.credentials`). That happens before the command-line interface is even imported,
so the second start costs little.
"""

import sys

from agentracer import credentials

# Commands that run recorded programs while holding the model's key.
RUNS_PROGRAMS = frozenset({"record", "replay", "annotate", "feedback", "faithfulness"})


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # answered before the command line (typer) is imported
        from agentracer.cli import version_line

        print(version_line())
        return
    credentials.receive()
    if RUNS_PROGRAMS.intersection(sys.argv[1:2]):
        credentials.hand_over()
    from agentracer.cli import load

    load(sys.argv[1:])()  # only the module of the command that runs is imported


if __name__ == "__main__":
    main()
