"""A recording: every model call a multi-agent program made, in order, and how the run ended.

On disk a recording is a directory:

- `events.jsonl`: one line per model call or reported tool result, appended (and flushed) the
  moment it happens, so a crash or a kill loses nothing already recorded;
- `recording.json`: the whole recording, written when the run is over;
- `mas.stdout`, `mas.stderr`, `check.out`: what the program and the check printed.

API keys never reach a recording: request headers are not stored, and the program is given a
placeholder key (the proxy holds the real one).

The schema lives in the formats layer because a recording is one more trace format
(`formats.recorded_run` reads it as a trajectory); the replay lab (`replay/`) writes it.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentracer.errors import TraceFormatError

RECORDING_FILE = "recording.json"
EVENTS_FILE = "events.jsonl"
STDOUT_FILE = "mas.stdout"
STDERR_FILE = "mas.stderr"
CHECK_FILE = "check.out"

AgentSource = Literal["header", "name", "user", "pattern", "system-prompt", "unknown"]
Origin = Literal["live", "recorded", "substituted"]
Status = Literal[
    "success",  # the check passed
    "failure",  # the check failed
    "unchecked",  # no check was given
    "check-missing",  # the check command does not exist
    "crashed",  # the program exited non-zero
    "timeout",  # the program ran past its time limit and was killed
    "no-calls",  # the program never called the model
    "diverged",  # on replay, a frozen call's request differed and the policy was to fail
    "interrupted",  # the recorder itself was stopped; events.jsonl holds what happened
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelCall(_Model):
    """One chat completion the program asked for, and the answer it got."""

    kind: Literal["call"] = "call"
    index: int = Field(ge=0, description="0-based position among the run's model calls")
    agent: str
    agent_source: AgentSource
    request: dict[str, Any] = Field(description="the request body as the program sent it")
    response: dict[str, Any] = Field(description="the chat.completion returned to the program")
    stream: bool = False
    origin: Origin = "live"
    diverged: bool = Field(
        default=False, description="replay: the request differed from the recording"
    )
    seconds: float = 0.0

    def content(self) -> str:
        """The assistant's text in this call's response."""
        choices = self.response.get("choices") or [{}]
        return str((choices[0].get("message") or {}).get("content") or "")

    def tool_calls(self) -> list[dict[str, Any]]:
        choices = self.response.get("choices") or [{}]
        return list((choices[0].get("message") or {}).get("tool_calls") or [])


class ToolEvent(_Model):
    """A tool result the program reported (e.g. code execution output)."""

    kind: Literal["tool"] = "tool"
    agent: str
    content: str
    after_call: int = Field(ge=0, description="how many model calls preceded it")


Event = Annotated[ModelCall | ToolEvent, Field(discriminator="kind")]


class Task(_Model):
    question: str = ""
    ground_truth: str | None = None


class Outcome(_Model):
    status: Status
    success: bool | None = None
    mas_exit_code: int | None = None
    check_exit_code: int | None = None
    message: str = ""


class ReplayInfo(_Model):
    """Where a replayed run came from: the source recording and the substituted call."""

    source: str
    at: int
    content: str
    tool_calls: list[dict[str, Any]] | None = None
    on_divergence: Literal["fail", "live"] = "fail"
    divergence: str | None = None


class Recording(_Model):
    id: str
    command: list[str]
    check: str | None = None
    cwd: str = "."
    agent_patterns: list[str] = Field(default_factory=list, description="REGEX=AGENT mappings")
    model: str = Field(description="the upstream model that answered live calls")
    created: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    seconds: float = 0.0
    task: Task = Field(default_factory=Task)
    events: list[Event] = Field(default_factory=list)
    outcome: Outcome = Field(default_factory=lambda: Outcome(status="interrupted"))
    replay: ReplayInfo | None = None
    isolation: str = Field(default="", description="how the program was isolated, or why not")
    signature: str | None = Field(
        default=None, description="HMAC of the commands by the recording user (replay.signing)"
    )

    def calls(self) -> list[ModelCall]:
        """The model calls in index order."""
        return sorted(
            (e for e in self.events if isinstance(e, ModelCall)), key=lambda call: call.index
        )


def renumbered(events: list[Any]) -> list[Any]:
    """`events` with the model calls numbered 0, 1, 2, ... in index order: a call that failed
    and was never retried leaves no hole (the proxy already reuses such indices)."""
    order = sorted(
        (i for i, e in enumerate(events) if isinstance(e, ModelCall)), key=lambda i: events[i].index
    )
    fixed = list(events)
    for new_index, position in enumerate(order):
        if fixed[position].index != new_index:
            fixed[position] = fixed[position].model_copy(update={"index": new_index})
    return fixed


class EventLog:
    """Appends events to `events.jsonl` as they happen, flushed to disk each time."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = path.open("a", encoding="utf-8")

    def append(self, record: dict[str, Any]) -> None:
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


def save(recording: Recording, directory: Path) -> None:
    """Write `recording.json` atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{RECORDING_FILE}.tmp"
    tmp.write_text(recording.model_dump_json(indent=2), encoding="utf-8")
    os.replace(tmp, directory / RECORDING_FILE)


def load(path: str | Path) -> Recording:
    """Read a recording directory (or its `recording.json`). A run whose recorder was killed
    has no `recording.json`; it is rebuilt from `events.jsonl` and marked `interrupted`.
    Anything unreadable is a `TraceFormatError` with the reason in one line."""
    path = Path(path)
    directory = path.parent if path.name == RECORDING_FILE else path
    whole = directory / RECORDING_FILE
    try:
        if whole.is_file():
            return Recording.model_validate_json(whole.read_bytes().decode("utf-8"))
        events_path = directory / EVENTS_FILE
        if not events_path.is_file():
            raise TraceFormatError(
                "not a recording (no recording.json or events.jsonl)", path=directory
            )
        return _rebuilt(_event_lines(events_path))
    except UnicodeDecodeError as error:
        raise TraceFormatError(
            f"unreadable recording (not UTF-8: byte {error.start} of "
            f"{RECORDING_FILE if whole.is_file() else EVENTS_FILE})",
            path=directory,
        ) from None
    except (ValidationError, ValueError, RecursionError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise TraceFormatError(f"unreadable recording ({reason})", path=directory) from None


def _event_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of `events.jsonl`; a last line torn by a kill is dropped."""
    text = path.read_bytes().decode("utf-8")
    lines = text.splitlines()
    parsed = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines) and not text.endswith("\n"):
                break  # the recorder was killed while writing it
            raise
        if not isinstance(value, dict):
            raise ValueError(
                f"line {number} of {EVENTS_FILE} is a JSON {type(value).__name__}, not an object"
            )
        parsed.append(value)
    return parsed


def _rebuilt(lines: list[dict[str, Any]]) -> Recording:
    header = next((line for line in lines if line.get("kind") == "header"), {})
    fields = header.get("recording", {})
    if not isinstance(fields, dict):
        raise ValueError(f"the header of {EVENTS_FILE} holds no recording object")
    events = [line for line in lines if line.get("kind") in ("call", "tool")]
    tasks = [
        {k: v for k, v in line.items() if k != "kind"}
        for line in lines
        if line.get("kind") == "task"
    ]
    fields = {**fields, "events": events}
    if tasks:
        fields["task"] = tasks[-1]
    recovered = Recording.model_validate(fields)
    return recovered.model_copy(update={"events": renumbered(recovered.events)})


def is_recording(path: Path) -> bool:
    directory = path.parent if path.name == RECORDING_FILE else path
    return (directory / RECORDING_FILE).is_file() or (directory / EVENTS_FILE).is_file()
