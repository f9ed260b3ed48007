"""Running a system again with a critique.

- `replay_with_critique` (any recording): the calls before the blamed one are served from the
  recording (frozen, each request checked), and from the blamed call on every request of the
  blamed agent (recognised by its system prompt) carries the critique in its system message;
  all later calls go live.
- `rerun_with_feedback` (the reference systems): a plain fresh run whose task carries the
  critique (`--feedback TEXT`); with no text it is the plain-retry control.

Either way the new run is a recording; a crash, a timeout or a divergence is a failed attempt
(never dropped).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.replay import recording as rec
from agentracer.replay.agents import system_prompt
from agentracer.replay.policy import (
    DivergenceError,
    LivePolicy,
    canonical,
    describe_divergence,
)
from agentracer.replay.recording import Origin, Recording
from agentracer.replay.session import Program, run_session
from agentracer.replay.upstream import Upstream

FEEDBACK_HEADER = "Feedback on an earlier attempt of this task:"
# The systems that accept `--feedback TEXT` on their `run` command.
REFERENCE_SYSTEMS = ("agentracer.systems.math_team", "agentracer.systems.coding_team")


FAILED = ("failure", "crashed", "timeout")


class NotAFailedRunError(AgenTracerError):
    """Feedback critiques failed runs only: a run that succeeded, or was never judged, has no
    failure to attribute."""


def require_failure(recording: Recording, directory: Path) -> None:
    """Raise `NotAFailedRunError` unless the recorded run failed."""
    status = recording.outcome.status
    if status not in FAILED:
        raise NotAFailedRunError(
            f"the run's outcome is '{status}', not a failure ({', '.join(FAILED)}): feedback "
            "critiques failed runs only",
            path=directory,
        )


class NotAReferenceSystemError(AgenTracerError):
    """A plain re-run with the critique in the task needs a system that takes `--feedback`."""


def with_critique(body: dict[str, Any], critique: str) -> dict[str, Any]:
    """`body` with the critique appended to its system message (or as a new one)."""
    body = copy.deepcopy(body)
    messages = body.get("messages") or []
    note = f"{FEEDBACK_HEADER} {critique}"
    for message in messages:
        system = isinstance(message, dict) and message.get("role") in ("system", "developer")
        if system and isinstance(message.get("content"), str):
            message["content"] = f"{message['content']}\n\n{note}"
            return body
    body["messages"] = [{"role": "system", "content": note}, *messages]
    return body


class CritiquePolicy:
    """Frozen before `at`; from `at` on, the blamed agent's requests carry the critique."""

    def __init__(self, source: Recording, at: int, critique: str, upstream: Upstream) -> None:
        self.calls = source.calls()
        if not 0 <= at < len(self.calls):
            raise AgenTracerError(f"call {at} is not in the recording (0..{len(self.calls) - 1})")
        self.at, self.critique, self.upstream = at, critique, upstream
        self.agent_prompt = system_prompt(self.calls[at].request)
        self.divergence: str | None = None

    def respond(self, index: int, body: dict[str, Any]) -> tuple[dict[str, Any], Origin, bool]:
        if index < self.at:
            recorded = self.calls[index]
            if canonical(body) != canonical(recorded.request):
                self.divergence = describe_divergence(index, body, recorded)
                raise DivergenceError(self.divergence)
            return recorded.response, "recorded", False
        if system_prompt(body) == self.agent_prompt:
            return self.upstream.complete(with_critique(body, self.critique)), "substituted", False
        return self.upstream.complete(body), "live", False


def _program(source: Recording, command: list[str] | None = None, timeout: float | None = None):
    return Program(
        command=command or source.command,
        check=source.check,
        cwd=Path(source.cwd),
        timeout=timeout or max(120.0, 3 * source.seconds),
        agent_patterns=source.agent_patterns,
    )


def replay_with_critique(
    source_dir: Path, at: int, critique: str, upstream: Upstream, out_dir: Path,
    *, timeout: float | None = None,
) -> Recording:  # fmt: skip
    """Replay `source_dir` frozen before call `at`, the critique given to the agent of call `at`
    from there on (its requests are marked `substituted` in the new recording)."""
    source = rec.load(source_dir)
    policy = CritiquePolicy(source, at, critique, upstream)
    return run_session(
        _program(source, timeout=timeout), policy, out_dir, model_name=upstream.name,
        secrets=getattr(upstream, "secrets", ()),
    )  # fmt: skip


def rerun_with_feedback(
    source_dir: Path, feedback: str | None, upstream: Upstream, out_dir: Path,
    *, timeout: float | None = None,
) -> Recording:  # fmt: skip
    """Run the recorded reference system afresh, with `--feedback TEXT` when `feedback` is given
    (a plain retry when it is None)."""
    source = rec.load(source_dir)
    command = list(source.command)
    if feedback is not None:
        if not any(module in command for module in REFERENCE_SYSTEMS):
            raise NotAReferenceSystemError(
                "only the reference systems (math_team, coding_team) take feedback in their task; "
                "use the replay mode for other programs"
            )
        command += ["--feedback", feedback]
    program = _program(source, command, timeout)
    return run_session(
        program, LivePolicy(upstream), out_dir, model_name=upstream.name,
        secrets=getattr(upstream, "secrets", ()),
    )  # fmt: skip


def succeeded(recording: Recording) -> bool:
    """Whether an attempt counts as a success: only a passed check does (a crash, a timeout or
    a divergence is a failure)."""
    return recording.outcome.success is True
