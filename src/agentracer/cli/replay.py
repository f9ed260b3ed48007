"""`agentracer record` and `agentracer replay`: run a multi-agent program behind the proxy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape

from agentracer.cli.common import BaseUrlOpt, ModelOpt, TimeoutOpt, app, err, out, user_errors
from agentracer.cli.trust import IsolateOpt, YesOpt, confirm_stored_commands, warn_unisolated
from agentracer.errors import AgenTracerError
from agentracer.llm import ConnectionSettings
from agentracer.llm.client import default_model_name
from agentracer.replay.recording import Recording
from agentracer.replay.session import MISSING_COMMAND, Program, record, replay
from agentracer.replay.upstream import make_upstream
from agentracer.wording import count

OutOpt = Annotated[
    Path, typer.Option("--out", help="directory for the new recording (must be new or empty)")
]
RunTimeoutOpt = Annotated[
    float, typer.Option("--run-timeout", help="seconds before the program is killed")
]


def _upstream(model: str | None, base_url: str | None, timeout: float):
    connection = ConnectionSettings(base_url=base_url, timeout=timeout)
    return make_upstream(model or default_model_name(connection), connection)


def _summary(recording: Recording, directory: Path) -> None:
    calls = recording.calls()
    if recording.outcome.mas_exit_code == MISSING_COMMAND and not calls:
        # Nothing ran: a zero exit and "the model served the live calls" would read as a run.
        raise AgenTracerError(
            f"{recording.outcome.message or 'the program could not start'}; nothing was recorded "
            "(check the command after --)"
        )
    origins = {
        origin: sum(c.origin == origin for c in calls)
        for origin in ("recorded", "substituted", "live")
    }
    out.print(
        f"{escape(str(directory))}: {count(len(calls), 'model call')} "
        f"({origins['recorded']} recorded, {origins['substituted']} substituted, {origins['live']} live), "
        f"outcome [bold]{recording.outcome.status}[/bold] in {recording.seconds:.1f} s"
    )
    if origins["live"]:
        out.print(f"model: {escape(recording.model)} served the live calls", highlight=False)
    if recording.outcome.message:
        err.print(f"[yellow]{escape(recording.outcome.message)}[/yellow]")
    warn_unisolated(recording)
    for call in calls:
        text = " ".join(call.content().split())[:100]
        out.print(
            escape(f"  call {call.index} [{call.origin}] {call.agent}: {text}"), highlight=False
        )


@app.command("record", context_settings={"allow_interspersed_args": False})
@user_errors
def record_command(
    command: Annotated[list[str], typer.Argument(help="the program to run, after --")],
    out_dir: OutOpt,
    check: Annotated[
        str | None,
        typer.Option(
            help="shell command judging the run (exit 0 = success), or py:module:function"
        ),
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    agent_pattern: Annotated[
        list[str] | None,
        typer.Option(help="REGEX=AGENT: name the agent whose system prompt matches; repeatable"),
    ] = None,
    run_timeout: RunTimeoutOpt = 600.0,
    timeout: TimeoutOpt = 120.0,
    isolate: Annotated[bool, IsolateOpt] = True,
) -> None:
    """Run a multi-agent program with its model calls going through the recording proxy.

    Example: agentracer record --check "python -m agentracer.systems.math_team check --problem add"
    --out rec -- python -m agentracer.systems.math_team run --problem add
    """
    program = Program(
        command=command,
        check=check,
        timeout=run_timeout,
        agent_patterns=agent_pattern or [],
        isolate=isolate,
    )
    recording = record(program, _upstream(model, base_url, timeout), out_dir)
    _summary(recording, out_dir)


@app.command("replay")
@user_errors
def replay_command(
    recording_dir: Annotated[Path, typer.Argument(help="a recording made by `agentracer record`")],
    at: Annotated[int, typer.Option(help="0-based index of the model call to replace")],
    content: Annotated[str, typer.Option(help="the answer model call AT returns instead")],
    out_dir: OutOpt,
    tool_calls: Annotated[
        str | None,
        typer.Option(help="JSON list of tool calls the substitute carries (OpenAI shape)"),
    ] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    on_divergence: Annotated[
        str, typer.Option(help="when a frozen call's request differs: fail, or go live")
    ] = "fail",
    run_timeout: Annotated[
        float | None, typer.Option("--run-timeout", help="seconds before the program is killed")
    ] = None,
    timeout: TimeoutOpt = 120.0,
    isolate: Annotated[bool, IsolateOpt] = True,
    yes: Annotated[bool, YesOpt] = False,
) -> None:
    """Re-run a recorded program: calls before AT from the recording, AT replaced, later calls live.

    The recording's command and check run again: unasked only when you recorded it on this
    machine and it is unchanged; otherwise they are shown and run once you confirm (--yes).
    """
    if on_divergence not in ("fail", "live"):
        raise AgenTracerError(f"--on-divergence must be fail or live, not {on_divergence!r}")
    policy: Literal["fail", "live"] = "fail" if on_divergence == "fail" else "live"
    calls = None
    if tool_calls is not None:
        try:
            calls = json.loads(tool_calls)
        except json.JSONDecodeError as error:
            raise AgenTracerError(f"--tool-calls is not valid JSON ({error.msg})") from None
        if not isinstance(calls, list):
            raise AgenTracerError("--tool-calls must be a JSON list")
    confirm_stored_commands([recording_dir], yes)
    recording = replay(
        recording_dir, at, content, _upstream(model, base_url, timeout), out_dir,
        on_divergence=policy, timeout=run_timeout, tool_calls=calls, isolate=isolate,
    )  # fmt: skip
    _summary(recording, out_dir)
