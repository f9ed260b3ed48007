"""Assemble a `Trajectory` step by step, as every trace importer does.

Importers walk their source (spans, messages, runs) in execution order and call `add` for each
step; `build` numbers the steps, lists the blamable agents in order of first action and turns
an empty run into a clear `TraceFormatError`. Whatever the importer had to infer or skip goes
into `note`, so it is never silent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from agentracer.errors import TraceFormatError
from agentracer.trajectory import Label, Outcome, Source, Step, StepKind, ToolCall, Trajectory


@dataclass
class TrajectoryBuilder:
    """Collects the steps of one run; `build()` makes the trajectory."""

    id: str
    format: str
    path: str | Path | None = None
    record: str | None = None
    question: str = ""
    ground_truth: str | None = None
    context: str = ""
    outcome: Outcome = Outcome.UNKNOWN
    label: Label | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        *,
        agent: str,
        kind: StepKind = StepKind.AGENT,
        content: str = "",
        speaker: str | None = None,
        role: str | None = None,
        tool_calls: Sequence[ToolCall] = (),
        source_id: str | None = None,
    ) -> Step:
        """Append one step; `speaker` defaults to `agent` (the raw string, when the source has one)."""
        calls = list(tool_calls)
        fields: dict[str, object] = {
            "index": len(self.steps),
            "agent": agent,
            "speaker": speaker if speaker is not None else agent,
            "kind": kind,
            "content": content,
            "role": role,
            "tool_calls": calls,
            "source_id": source_id,
        }
        if _well_typed(agent, speaker, kind, content, role, source_id, calls):
            # Already what validation would produce: skip it (a 200k-span export pays for it).
            step = _constructed(Step, fields, _STEP_FIELDS)
        else:
            step = Step.model_validate(fields)
        self.steps.append(step)
        return step

    def add_context(self, text: str) -> None:
        """Keep `text` (a system prompt, a policy) as the run's context: shown and given to
        tracers, never a step that can be blamed."""
        if text.strip():
            self.context = f"{self.context}\n\n{text}" if self.context else text

    def note(self, text: str) -> None:
        """Record something the importer inferred or skipped (kept once)."""
        if text not in self.notes:
            self.notes.append(text)

    def build(self) -> Trajectory:
        """The trajectory; a run without steps is a `TraceFormatError` naming the record."""
        where = f"{self.path}#{self.record}" if self.path and self.record else self.path
        if not self.steps:
            raise TraceFormatError(f"run {self.id!r} has no steps to attribute", path=where)
        agents = list(dict.fromkeys(s.agent for s in self.steps if s.kind is StepKind.AGENT))
        return Trajectory(
            id=self.id,
            question=self.question,
            ground_truth=self.ground_truth,
            context=self.context,
            steps=self.steps,
            agents=agents,
            outcome=self.outcome,
            label=self.label,
            notes=self.notes,
            metadata=self.metadata,
            source=Source(
                format=self.format,
                path=None if self.path is None else str(self.path),
                record=self.record,
            ),
        )


# One set of field names shared by every step built here: pydantic keeps a set per instance,
# which is a third of a step's memory on a large import. All fields are set, so pydantic never
# needs to add to it.
_STEP_FIELDS = set(Step.model_fields)
_TOOL_CALL_FIELDS = set(ToolCall.model_fields)


def tool_call(call_id: object, name: object, arguments: object) -> ToolCall:
    """A `ToolCall` from loosely typed source fields: ids and names as text, arguments as the
    JSON text the chat-completions shape uses (a dict is encoded)."""
    if not isinstance(arguments, str):
        try:
            arguments = json.dumps(arguments, ensure_ascii=False)
        except (TypeError, ValueError):
            arguments = str(arguments)
    fields = {
        "id": None if call_id is None else str(call_id),
        "name": str(name or ""),
        "arguments": arguments,
    }
    return _constructed(ToolCall, fields, _TOOL_CALL_FIELDS)


M = TypeVar("M", bound=BaseModel)


def _constructed(cls: type[M], fields: dict[str, Any], fields_set: set[str]) -> M:
    """An instance of `cls` from values that are already exactly what validation would give,
    every field present: what `model_construct` does, without its per-field loop (a third of
    the time of a 200k-span import). tests/formats/test_build.py checks it equals validation."""
    instance = cls.__new__(cls)
    object.__setattr__(instance, "__dict__", fields)
    object.__setattr__(instance, "__pydantic_fields_set__", fields_set)
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance


def _well_typed(
    agent: object,
    speaker: object,
    kind: object,
    content: object,
    role: object,
    source_id: object,
    tool_calls: Sequence[object],
) -> bool:
    return (
        type(agent) is str
        and (speaker is None or type(speaker) is str)
        and isinstance(kind, StepKind)
        and type(content) is str
        and (role is None or type(role) is str)
        and (source_id is None or type(source_id) is str)
        and all(isinstance(call, ToolCall) for call in tool_calls)
    )
