"""OpenAI Agents SDK tracing exports: `{"object": "trace.span", ...}` records, as a list or
JSON Lines, optionally with the `{"object": "trace"}` records beside them.

This is what `span.export()` / `trace.export()` give to a `TracingProcessor` (and what the
SDK's backend exporter uploads). Each trace id is one trajectory. Walking a trace's span tree
in execution order:

- `generation` spans (chat completions) are agent steps: the output message's text and tool
  calls; the agent is the nearest enclosing `agent` span, else the `turn` span's `agent_name`.
  The first user message of the first generation is the task and step 0.
- `response` spans (the Responses API) are agent steps too, but the SDK exports no text for
  them (only the response id), which a note says.
- `function` spans are tool steps (name, output), joined to the call that asked for them.
- `handoff` spans are tool steps `from -> to` (the `transfer_to_...` call's result).
- `guardrail` spans that tripped are tool steps; the SDK's own `task`/`turn` custom spans only
  carry structure; other spans are skipped and counted in a note.
- A span with an `error` makes the outcome a failure, and a note names it.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import (
    first_user_text,
    listing,
    mapping,
    step_content,
    text_of,
    timestamp,
    tool_calls_of,
)
from agentracer.formats.importer import no_records, note_skipped, span_runs
from agentracer.formats.native import record_location
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.spans import Span, SpanTree
from agentracer.trajectory import Outcome, StepKind, ToolCall

FORMAT = "openai-agents"
SPAN_OBJECT = "trace.span"
TRACE_OBJECT = "trace"

_STRUCTURE_TYPES = frozenset({"agent", "task", "turn", "mcp_tools"})


def _is_export_record(obj: object) -> bool:
    return isinstance(obj, dict) and obj.get("object") in (SPAN_OBJECT, TRACE_OBJECT)


def _span(record: dict[str, Any]) -> Span:
    data = record.get("span_data")
    data = mapping(data)
    error = record.get("error")
    message = None
    if error:
        message = text_of(error.get("message")) if isinstance(error, dict) else text_of(error)
        message = message or "error"
    return Span(
        id=str(record.get("id")),
        trace_id=str(record.get("trace_id") or ""),
        name=str(data.get("name") or ""),
        parent_id=None if record.get("parent_id") is None else str(record["parent_id"]),
        start=timestamp(record.get("started_at")),
        end=timestamp(record.get("ended_at")) if record.get("ended_at") else None,
        attributes=data,
        error=message,
        kind=_span_type(data),
        raw=record,
    )


def _span_type(data: dict[str, Any]) -> str:
    kind = str(data.get("type") or "")
    if kind == "custom" and isinstance(data.get("data"), dict):
        return str(data["data"].get("sdk_span_type") or "custom")  # the SDK's own task/turn
    return kind


def _agent_of(tree: SpanTree, span: Span) -> str | None:
    owner = tree.ancestor(span, lambda s: s.kind in ("agent", "turn"))
    if owner is None:
        return None
    if owner.kind == "agent":
        return owner.name or None
    data = owner.attributes.get("data") or {}
    return str(data.get("agent_name")) if data.get("agent_name") else None


class _TraceReader:
    """Turns the spans of one trace into steps."""

    def __init__(self, builder: TrajectoryBuilder, tree: SpanTree) -> None:
        self.builder = builder
        self.tree = tree
        self.pending: list[ToolCall] = []  # calls asked for, not yet answered by a tool span
        self.skipped: Counter[str] = Counter()

    def read(self) -> None:
        for span in self.tree.walk():
            if span.error:
                self.builder.outcome = Outcome.FAILURE
                self.builder.note(
                    f"span {span.id} ({span.kind or 'unknown'} {span.name}) failed: {span.error}"
                )
            handler = getattr(self, f"_on_{span.kind}", None)
            if handler is not None:
                handler(span)
            elif span.kind not in _STRUCTURE_TYPES:
                self.skipped[span.kind or "untyped"] += 1
        note_skipped(self.builder, self.skipped, "spans without a step of their own")

    def _agent(self, span: Span) -> str:
        agent = _agent_of(self.tree, span)
        if agent is None:
            self.builder.note(
                f"span {span.id} has no enclosing agent span; its agent is called 'assistant'"
            )
            return "assistant"
        return agent

    def _on_generation(self, span: Span) -> None:
        data = span.attributes
        inputs = listing(data.get("input"))
        if not self.builder.steps and (task := first_user_text(inputs)):
            self.builder.question = task
            self.builder.add(agent="user", kind=StepKind.USER, content=task, role="user")
        outputs = listing(data.get("output"))
        texts, calls = [], []
        for message in outputs:
            if isinstance(message, dict):
                texts.append(text_of(message.get("content")))
                calls.extend(tool_calls_of(message.get("tool_calls")))
        text = "\n".join(t for t in texts if t)
        self.pending.extend(calls)
        self.builder.add(
            agent=self._agent(span),
            content=step_content(text, calls),
            role="assistant",
            tool_calls=calls,
            source_id=span.id,
        )

    def _on_response(self, span: Span) -> None:
        response_id = span.attributes.get("response_id")
        self.builder.note(
            "the SDK exports no text for Responses-API model calls (only the response id); "
            "those steps are placeholders"
        )
        self.builder.add(
            agent=self._agent(span),
            content=f"[model response {response_id}: text not in the export]",
            role="assistant",
            source_id=span.id,
        )

    def _take_call(self, name: str, arguments: str | None = None) -> ToolCall | None:
        for call in self.pending:
            if call.name == name and (arguments is None or _same_json(call.arguments, arguments)):
                self.pending.remove(call)
                return call
        return None

    def _on_function(self, span: Span) -> None:
        data = span.attributes
        name = span.name or "function"
        self._take_call(name, text_of(data.get("input"))) or self._take_call(name)
        output = text_of(data.get("output"))
        if span.error and not output:
            output = f"error: {span.error}"
        self.builder.add(
            agent=name, kind=StepKind.TOOL, content=output, role="tool", source_id=span.id
        )

    def _on_handoff(self, span: Span) -> None:
        data = span.attributes
        source, target = data.get("from_agent"), data.get("to_agent")
        call = next((c for c in self.pending if c.name.startswith("transfer_to")), None)
        if call is not None:
            self.pending.remove(call)
        self.builder.add(
            agent=call.name if call else "handoff",
            kind=StepKind.TOOL,
            content=f"handoff from {source} to {target}",
            role="tool",
            source_id=span.id,
        )

    def _on_guardrail(self, span: Span) -> None:
        if not span.attributes.get("triggered"):
            return
        self.builder.outcome = Outcome.FAILURE
        self.builder.note(f"guardrail {span.name!r} tripped (span {span.id})")
        self.builder.add(
            agent=span.name or "guardrail",
            kind=StepKind.TOOL,
            content=f"guardrail {span.name} tripped",
            role="tool",
            source_id=span.id,
        )


def _same_json(left: str, right: str) -> bool:
    try:
        return bool(json.loads(left) == json.loads(right))
    except (json.JSONDecodeError, TypeError):
        return left == right


@register_format(
    FORMAT,
    summary="OpenAI Agents SDK tracing export (`trace.span` records from span.export(), "
    "a list or JSON Lines)",
    priority=40,
)
class AgentsSdkFormat:
    def detect(self, probe: Probe) -> bool:
        return _is_export_record(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        if (error := no_records(probe)) is not None:
            yield error
            return
        spans, traces = [], {}
        for key, obj in probe.records():
            if not _is_export_record(obj):
                yield TraceFormatError(
                    "not an Agents SDK trace record: no 'object'",
                    path=record_location(probe, key),
                )
            elif obj["object"] == TRACE_OBJECT:
                traces[str(obj.get("id"))] = obj
            elif obj.get("id") is None:
                yield TraceFormatError("a trace.span record has no 'id'", path=probe.path)
            else:
                spans.append(_span(obj))
        if not spans:
            yield TraceFormatError(
                "the export holds no spans (only trace records)", path=probe.path
            )
            return

        def workflow(trace_id: str) -> dict[str, Any]:
            name = traces.get(trace_id, {}).get("workflow_name")
            return {"workflow_name": name} if name else {}

        yield from span_runs(
            probe,
            spans,
            format=FORMAT,
            read=lambda builder, tree: _TraceReader(builder, tree).read(),
            metadata=workflow,
        )

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "span_data" in first:
            return 'the record has \'span_data\' but no "object": "trace.span"'
        return None
