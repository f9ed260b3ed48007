"""The model endpoint's API keys, kept out of the start environment of the process using them.

`/proc/PID/environ` shows the environment a process was started with, whatever it deletes or
changes later. So a command that runs recorded programs beside the real key (`record`,
`replay`, `annotate`, `feedback`, `faithfulness`) moves the keys it was started with out of
its environment before it does anything else: `hand_over` writes them into a pipe and executes
the same command again with the keys removed from its environment and the pipe's descriptor
in `AGENTRACER_SECRETS_FD`; the new process (same PID) reads them with `receive` and keeps them
in memory only. Code that needs a key asks `secret(name)`, which also falls back to the
environment (the Python API, and commands that run no programs, read it from there).
"""

from __future__ import annotations

import json
import os
import sys

SECRET_VARIABLES = ("OPENAI_API_KEY", "AZURE_OPENAI_API_KEY")
FD_VARIABLE = "AGENTRACER_SECRETS_FD"
# Shorter values are not looked for inside other variables (see `known_secrets`).
MIN_SECRET_LENGTH = 8

_received: dict[str, str] = {}


def secret(name: str) -> str | None:
    """The value of the secret variable `name`: handed over, else from the environment."""
    return _received.get(name) or os.environ.get(name) or None


def known_secrets() -> set[str]:
    """Every secret value this process knows (handed over or in its environment)."""
    return {value for name in SECRET_VARIABLES if (value := secret(name))}


def hand_over() -> None:
    """Execute this process again without the secret variables in its environment, handing
    them over through a pipe. Returns only when there is nothing to hand over, or where a
    process cannot execute itself again (then the keys stay in the environment)."""
    found = {name: os.environ[name] for name in SECRET_VARIABLES if os.environ.get(name)}
    if not found or os.name != "posix" or FD_VARIABLE in os.environ:
        return
    read, write = os.pipe()
    try:
        os.write(write, json.dumps(found).encode("utf-8"))  # far below a pipe's buffer
    finally:
        os.close(write)
    os.set_inheritable(read, True)
    env = {name: value for name, value in os.environ.items() if name not in found}
    env[FD_VARIABLE] = str(read)
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execve(sys.executable, sys.orig_argv, env)
    except OSError:
        os.close(read)


def receive() -> None:
    """Take the keys a `hand_over` left in the pipe (nothing when there is none)."""
    fd = os.environ.pop(FD_VARIABLE, None)
    if fd is None:
        return
    try:
        with os.fdopen(int(fd), "rb") as pipe:
            handed = json.loads(pipe.read().decode("utf-8"))
    except (OSError, ValueError):
        return  # not a pipe of ours: the environment's keys (if any) stay in use
    if isinstance(handed, dict):
        _received.update({str(k): str(v) for k, v in handed.items() if k in SECRET_VARIABLES})
