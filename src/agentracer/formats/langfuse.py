"""Langfuse exports: observations as the Langfuse API returns them, either the v2 observations
response (`{"data": [observation, ...], "meta": {...}}`), a trace with its observations
(`{"id", "observations": [...]}`, the trace export of the UI and the v1 API), or a list / JSON
Lines of observations. Field names are the API's (`traceId`, `parentObservationId`,
`startTime`, `type`, `level`, `statusMessage`, `input`, `output`, `metadata`).

Each trace id is one trajectory; the tree is rebuilt from `parentObservationId` and walked in
execution order.

- `GENERATION` observations are agent steps (the output message's text and tool calls). The
  agent is the nearest enclosing `AGENT` observation's name, else `metadata.langgraph_node`
  (Langfuse's LangChain handler copies it), else the nearest named span below the root, with a
  note saying which.
- `TOOL` and `RETRIEVER` observations are tool steps (their output), joined to the call by
  `metadata.tool_call_id` when present.
- `AGENT`, `SPAN`, `CHAIN` and the other types carry structure only; `EVENT`s are counted in a
  note. Unknown types are counted in a note.
- `level: ERROR` makes the outcome a failure, and a note gives the `statusMessage`.
- The task is the first user message of the root observation's (or the trace's) input.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import mapping, message_tool_calls, step_content, text_of, timestamp
from agentracer.formats.importer import no_records, note_skipped, span_runs
from agentracer.formats.langchain import first_human_text, lc_message, result_text
from agentracer.formats.native import record_location
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.spans import Span, SpanTree
from agentracer.trajectory import Outcome, StepKind, ToolCall

FORMAT = "langfuse"

STRUCTURE_TYPES = frozenset(
    {"AGENT", "SPAN", "CHAIN", "EMBEDDING", "EVALUATOR", "GUARDRAIL", "EVENT"}
)
STEP_TYPES = frozenset({"GENERATION", "TOOL", "RETRIEVER"})
KNOWN_TYPES = STRUCTURE_TYPES | STEP_TYPES


def is_observation(obj: object) -> bool:
    """A Langfuse observation: an id, an upper-case `type` and the API's camelCase fields."""
    return (
        isinstance(obj, dict)
        and "id" in obj
        and isinstance(obj.get("type"), str)
        and obj["type"].isupper()
        and ("traceId" in obj or "parentObservationId" in obj)
        and "startTime" in obj
    )


def _observations_of(obj: object) -> tuple[list[Any], dict[str, Any]] | None:
    """(observations, trace) of a v2 response or a trace export, else None."""
    if not isinstance(obj, dict):
        return None
    for key in ("data", "observations"):
        items = obj.get(key)
        if isinstance(items, list) and items and is_observation(items[0]):
            return items, (obj if key == "observations" else {})
    return None


def _span(obs: dict[str, Any], trace_id: str) -> Span:
    level = obs.get("level")
    error = None
    if level == "ERROR":
        error = text_of(obs.get("statusMessage")) or "level ERROR"
    return Span(
        id=str(obs["id"]),
        trace_id=str(obs.get("traceId") or trace_id),
        name=str(obs.get("name") or ""),
        parent_id=None
        if obs.get("parentObservationId") is None
        else str(obs["parentObservationId"]),
        start=timestamp(obs.get("startTime")),
        end=timestamp(obs.get("endTime")) if obs.get("endTime") else None,
        attributes=obs,
        error=error,
        kind=str(obs.get("type")),
        raw=obs,
    )


def _decoded(value: Any) -> Any:
    """Input/output as JSON: the API returns it as JSON text unless asked to parse it."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _generation_output(output: Any) -> tuple[str, list[ToolCall]]:
    """Text and tool calls of a generation's output, in the shapes Langfuse stores."""
    if isinstance(output, dict) and isinstance(output.get("choices"), list):  # raw OpenAI
        output = mapping(output["choices"][0]).get("message") if output["choices"] else None
    if isinstance(output, list):  # a list of messages: the assistant's
        assistant = [m for m in output if isinstance(m, dict) and m.get("role") == "assistant"]
        output = assistant[-1] if assistant else (output[-1] if output else None)
    message = lc_message(output)
    if message is not None:
        output = message[1]
    if isinstance(output, dict):
        return text_of(output.get("content")), message_tool_calls(output)
    return text_of(output), []


class _TraceReader:
    def __init__(self, builder: TrajectoryBuilder, tree: SpanTree) -> None:
        self.builder = builder
        self.tree = tree
        self.counts: Counter[str] = Counter()

    def read(self, trace: dict[str, Any]) -> None:
        roots = [trace.get("input")] + [r.attributes.get("input") for r in self.tree.roots]
        roots = [_decoded(value) for value in roots]
        for value in roots:
            if not self.builder.question:
                self.builder.question = first_human_text(value)
        if self.builder.question:
            self.builder.add(
                agent="user", kind=StepKind.USER, content=self.builder.question, role="user"
            )
        for span in self.tree.walk():
            obs = span.attributes
            if span.error:
                self.builder.outcome = Outcome.FAILURE
                self.builder.note(f"observation {span.id} ({span.kind} {span.name}): {span.error}")
            if span.kind == "GENERATION":
                text, calls = _generation_output(_decoded(obs.get("output")))
                self.builder.add(
                    agent=self._agent(span),
                    content=step_content(text, calls),
                    role="assistant",
                    tool_calls=calls,
                    source_id=span.id,
                )
            elif span.kind in ("TOOL", "RETRIEVER"):
                content = result_text(_decoded(obs.get("output")))
                if span.error and not content:
                    content = f"error: {span.error}"
                self.builder.add(
                    agent=span.name or span.kind.lower(),
                    kind=StepKind.TOOL,
                    content=content,
                    role="tool",
                    source_id=span.id,
                )
            elif span.kind == "EVENT":
                self.counts["EVENT"] += 1
            elif span.kind not in KNOWN_TYPES:
                self.counts[f"unknown type {span.kind or '(none)'}"] += 1
        note_skipped(self.builder, self.counts, "observations without a step of their own")

    def _agent(self, span: Span) -> str:
        agent = self.tree.ancestor(span, lambda s: s.kind == "AGENT")
        if agent is not None and agent.name:
            return agent.name
        node = mapping(span.attributes.get("metadata")).get("langgraph_node")
        if node:
            return str(node)
        named = self.tree.ancestor(span, lambda s: bool(s.name) and self.tree.parent(s) is not None)
        if named is not None:
            self.builder.note(
                "generations outside any AGENT observation are attributed to their enclosing "
                "span's name"
            )
            return named.name
        self.builder.note(
            "generations outside any AGENT or named span are attributed to the generation's name"
        )
        return span.name or "assistant"


@register_format(
    FORMAT,
    summary="Langfuse observations export (GENERATION / AGENT / TOOL / SPAN / EVENT with "
    "parentObservationId)",
    priority=45,
)
class LangfuseFormat:
    def detect(self, probe: Probe) -> bool:
        first = probe.first()
        if probe.shape == "object":
            return _observations_of(first) is not None
        return is_observation(first) or _observations_of(first) is not None

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        if (error := no_records(probe)) is not None:
            yield error
            return
        spans: list[Span] = []
        traces: dict[str, dict[str, Any]] = {}
        for key, obj in probe.records():
            found = _observations_of(obj)
            items, trace = found if found is not None else ([obj], {})
            trace_id = str(trace.get("id") or "")
            if trace_id:
                traces[trace_id] = trace
            for item in items:
                if is_observation(item):
                    spans.append(_span(item, trace_id))
                else:
                    yield TraceFormatError(
                        "not a Langfuse observation (needs id, type, traceId, startTime)",
                        path=record_location(probe, key),
                    )

        def read(builder: TrajectoryBuilder, tree: SpanTree) -> None:
            _TraceReader(builder, tree).read(traces.get(str(builder.record or ""), {}))

        yield from span_runs(probe, spans, format=FORMAT, read=read, unit="observation")

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "parentObservationId" in first:
            return "the observation lacks an id, an upper-case type or a startTime"
        if isinstance(first, dict) and isinstance(first.get("observations"), list):
            return "its 'observations' are not Langfuse observations"
        return None
