"""The one JSON schema of every `--json` output (docs/verdicts.md, "Machine-readable output").

Every document is one JSON object with `version` (this schema's version, `SCHEMA_VERSION`) and
`kind` (what it holds), then the fields of that kind. A verdict is always the `Verdict` model
under `verdict` (or a list under `verdicts`); a run's steps always carry their source ids, so a
verdict points back into the user's tracing tool.
"""

from __future__ import annotations

from typing import Any

from agentracer.export.blame import span_id_of, trace_id_of
from agentracer.trajectory import Step, Trajectory, Verdict

SCHEMA_VERSION = 1
"""Raised when a field is removed or changes meaning; new fields may appear without it."""


def document(kind: str, **fields: Any) -> dict[str, Any]:
    """`{"version": SCHEMA_VERSION, "kind": kind, **fields}`."""
    return {"version": SCHEMA_VERSION, "kind": kind, **fields}


def step_ids(step: Step, trajectory: Trajectory) -> dict[str, Any]:
    """A step's ids in its source: the source's own id (span, message or run id), the trace
    and span id when the run came from an OpenTelemetry trace, and its tool calls' ids."""
    return {
        "index": step.index,
        "agent": step.agent,
        "speaker": step.speaker,
        "kind": step.kind.value,
        "source_id": step.source_id,
        "trace_id": trace_id_of(trajectory),
        "span_id": span_id_of(step, trajectory),
        "tool_call_ids": [call.id for call in step.tool_calls if call.id],
    }


def trajectory_summary(trajectory: Trajectory) -> dict[str, Any]:
    """Which run: its id, trace id, outcome, size and where it was read from."""
    source = trajectory.source
    return {
        "id": trajectory.id,
        "trace_id": trace_id_of(trajectory),
        "outcome": trajectory.outcome.value,
        "n_steps": len(trajectory.steps),
        "format": None if source is None else source.format,
        "path": None if source is None else source.path,
        "record": None if source is None else source.record,
    }


def attribution(trajectory: Trajectory, verdict: Verdict) -> dict[str, Any]:
    """`kind: attribution`: the run, the verdict, the blamed step's ids, and every step's ids."""
    steps = [step_ids(step, trajectory) for step in trajectory.steps]
    blamed = steps[verdict.step] if verdict.step is not None and verdict.step < len(steps) else None
    return document(
        "attribution",
        trajectory=trajectory_summary(trajectory),
        verdict=verdict.model_dump(mode="json"),
        blamed=blamed,
        steps=steps,
    )


def trajectory_document(trajectory: Trajectory) -> dict[str, Any]:
    """`kind: trajectory`: the whole run (our JSON) and every step's source ids."""
    return document(
        "trajectory",
        trajectory=trajectory.model_dump(mode="json"),
        steps=[step_ids(step, trajectory) for step in trajectory.steps],
    )
