"""What a verdict says about one run, in the terms a tracing tool uses: which trace, which
span, and the label, score and explanation an evaluation result carries.

Every destination (`export.otlp`, `export.phoenix`) turns a verdict into a `Blame` first, so
they all point at the same span and say the same thing. The ids come from the import: the
trace id from the trajectory (`metadata["trace_id"]`, which every span importer and the
receiver set, else the source record), the span id from the blamed step's `source_id`. An id
that is not an OpenTelemetry id (a chat message id, a Langfuse observation id) is kept as the
step's source id but is not used as a parent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentracer.trajectory import Step, Trajectory, Verdict

EVALUATION_NAME = "agentracer.blame"
"""The name of the evaluation (`gen_ai.evaluation.name`) and of the Phoenix annotation."""
BLAMED = "blamed"
"""The label of a verdict that names a step; low cardinality, as the conventions ask."""
NO_VERDICT = "no_verdict"
"""The label of a verdict that names no step (the model's answer could not be read)."""

_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_SPAN_ID = re.compile(r"[0-9a-f]{16}")
_ZERO_TRACE, _ZERO_SPAN = "0" * 32, "0" * 16


def otel_trace_id(value: object) -> str | None:
    """`value` as a lowercase OpenTelemetry trace id (32 hex digits, not all zero), else None."""
    text = str(value or "").lower()
    return text if _TRACE_ID.fullmatch(text) and text != _ZERO_TRACE else None


def otel_span_id(value: object) -> str | None:
    """`value` as a lowercase OpenTelemetry span id (16 hex digits, not all zero), else None."""
    text = str(value or "").lower()
    return text if _SPAN_ID.fullmatch(text) and text != _ZERO_SPAN else None


def trace_id_of(trajectory: Trajectory) -> str | None:
    """The OpenTelemetry trace id the run was imported from, when it has one."""
    candidates = [trajectory.metadata.get("trace_id"), trajectory.id]
    if trajectory.source is not None:
        candidates.insert(1, trajectory.source.record)
    return next((t for t in map(otel_trace_id, candidates) if t), None)


def span_id_of(step: Step, trajectory: Trajectory) -> str | None:
    """The OpenTelemetry span id of `step`: its source id, when the run came from a trace."""
    return otel_span_id(step.source_id) if trace_id_of(trajectory) else None


@dataclass(frozen=True)
class Blame:
    """One verdict, addressed to a span and worded as an evaluation result."""

    trajectory_id: str
    trace_id: str | None
    span_id: str | None
    source_id: str | None
    agent: str | None
    step: int | None
    label: str
    score: float | None
    explanation: str
    category: str | None
    suggested_fix: str
    tracer: str
    model: str | None

    @property
    def parented(self) -> bool:
        """True when the blamed step's span is known (trace and span id)."""
        return self.trace_id is not None and self.span_id is not None


def explanation(verdict: Verdict) -> str:
    """The reason, then each evidence quote with its step, then the suggested fix."""
    if verdict.step is None:
        return verdict.reason or "the tracer named no step"
    lines = [f"{verdict.agent} at step {verdict.step}: {verdict.reason}".strip()]
    lines += [f"evidence, step {item.step}: “{item.quote}”" for item in verdict.evidence]
    if verdict.suggested_fix:
        lines.append(f"suggested fix: {verdict.suggested_fix}")
    return "\n".join(lines)


def blame_of(trajectory: Trajectory, verdict: Verdict, *, model: str | None = None) -> Blame:
    """The verdict on `trajectory` as a `Blame` (unparented when the step has no span)."""
    step = (
        trajectory.steps[verdict.step]
        if verdict.step is not None and verdict.step < len(trajectory.steps)
        else None
    )
    return Blame(
        trajectory_id=trajectory.id,
        trace_id=trace_id_of(trajectory),
        span_id=None if step is None else span_id_of(step, trajectory),
        source_id=None if step is None else step.source_id,
        agent=verdict.agent,
        step=verdict.step,
        label=BLAMED if step is not None else NO_VERDICT,
        score=verdict.confidence,
        explanation=explanation(verdict),
        category=verdict.category,
        suggested_fix=verdict.suggested_fix,
        tracer=verdict.tracer,
        model=model,
    )
