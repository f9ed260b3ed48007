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
    credentials.receive()
    if RUNS_PROGRAMS.intersection(sys.argv[1:2]):
        credentials.hand_over()
    from agentracer.cli import app

    app()


if __name__ == "__main__":
    main()
