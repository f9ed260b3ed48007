"""Asking before running commands stored in recordings: one rule, and one `--yes`, for every
command that runs them (`replay`, `annotate`, `feedback`, `faithfulness`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.markup import escape

from agentracer.cli.common import err
from agentracer.errors import AgenTracerError, TraceFormatError
from agentracer.replay import recording as rec
from agentracer.replay.recording import Recording
from agentracer.replay.signing import is_trusted

YesOpt = typer.Option(
    "--yes",
    "-y",
    help="run commands stored in recordings this user did not sign on this machine, unasked",
)
IsolateOpt = typer.Option(
    "--isolate/--no-isolate",
    help="run the program in bubblewrap's sandbox: its own namespaces, no capabilities, a "
    "read-only file system but its working directory, the signing key hidden (default: on "
    "where the system allows it; docs/security.md)",
)


def confirm_stored_commands(directories: Sequence[Path], yes: bool) -> None:
    """Return when every recording's commands may run: signed by this user on this machine,
    or shown and confirmed (a prompt on a terminal, `--yes` in scripts); raise otherwise."""
    foreign: list[tuple[Path, Recording]] = []
    for directory in directories:
        try:
            recording = rec.load(directory)
        except TraceFormatError:
            continue  # not a recording: annotate reports it, replay fails on it, neither runs it
        if not is_trusted(recording):
            foreign.append((directory, recording))
    if not foreign:
        return
    err.print(
        "[yellow]these recordings were not made by you on this machine, or were changed "
        "since; replaying runs their commands:[/yellow]"
    )
    for directory, recording in foreign:
        err.print(f"  {escape(str(directory))}:", highlight=False)
        err.print(f"    command: {escape(' '.join(recording.command))}", highlight=False)
        err.print(f"    check:   {escape(recording.check or '(none)')}", highlight=False)
        err.print(f"    in:      {escape(recording.cwd)}", highlight=False)
    if yes:
        return
    if not sys.stdin.isatty():
        raise AgenTracerError(
            "refusing to run commands from recordings you did not sign (shown above) without "
            "confirmation; read them, then re-run with --yes"
        )
    if not typer.confirm("Run them?", default=False, err=True):
        raise AgenTracerError("not confirmed; nothing was run")


def warn_unisolated(recording: Recording) -> None:
    """Say so when the program ran without isolation, and why."""
    if recording.isolation.startswith("none"):
        err.print(
            f"[yellow]warning: the program was not isolated ({escape(recording.isolation)}); "
            "it could read the environment of your other processes (docs/security.md)[/yellow]",
            soft_wrap=True,
        )
