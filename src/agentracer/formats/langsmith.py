"""LangSmith run exports: runs as the LangSmith API returns them (`Client.list_runs`, a runs
export), a JSON list or JSON Lines, each with `id`, `trace_id`, `parent_run_id`,
`dotted_order`, `run_type`, `inputs`, `outputs`, `error` and `extra.metadata`.

Each trace id is one trajectory; the run tree is rebuilt from `parent_run_id` and walked in
execution order (by `dotted_order` when every run has one, else by start time).

- `llm` runs are agent steps: the generated message's text and tool calls. The agent is
  `extra.metadata.langgraph_node` (LangGraph writes it on every run inside a node); outside
  LangGraph, the name of the nearest enclosing chain, with a note saying so.
- `tool` runs are tool steps; `retriever` runs too (the documents they returned).
- chains, prompts and parsers only carry structure and are not steps.
- The task is the first human message of the root run's inputs, else of the first `llm` run.
- A run with `error` makes the outcome a failure, and a note names it.
"""

from __future__ import annotations

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

FORMAT = "langsmith"

RUN_TYPES = frozenset({"llm", "chain", "tool", "retriever", "prompt", "parser", "embedding"})


def is_run(obj: object) -> bool:
    """A LangSmith run: an id, a `run_type`, and `dotted_order` or `trace_id`."""
    return (
        isinstance(obj, dict)
        and "id" in obj
        and isinstance(obj.get("run_type"), str)
        and ("dotted_order" in obj or "trace_id" in obj)
    )


def _span(run: dict[str, Any]) -> Span:
    run_id = str(run["id"])
    return Span(
        id=run_id,
        trace_id=str(run.get("trace_id") or run_id),
        name=str(run.get("name") or ""),
        parent_id=None if run.get("parent_run_id") is None else str(run["parent_run_id"]),
        start=timestamp(run.get("start_time")),
        end=timestamp(run.get("end_time")) if run.get("end_time") else None,
        attributes=run,
        error=text_of(run["error"]) if run.get("error") else None,
        kind=str(run.get("run_type")),
        raw=run,
    )


def _node(run: dict[str, Any]) -> str | None:
    node = mapping(mapping(run.get("extra")).get("metadata")).get("langgraph_node")
    return str(node) if node else None


def _generated_message(run: dict[str, Any]) -> tuple[str, list[ToolCall]]:
    """Text and tool calls of an llm run's first generation."""
    outputs = mapping(run.get("outputs"))
    generations = outputs.get("generations")
    first: Any = generations
    while isinstance(first, list) and first:
        first = first[0]
    if not isinstance(first, dict):
        return text_of(outputs.get("output") or ""), []
    message = lc_message(first.get("message"))
    if message is None:
        return text_of(first.get("text")), []
    return text_of(message[1].get("content")), message_tool_calls(message[1])


def _tool_output(run: dict[str, Any]) -> str:
    outputs = run.get("outputs")
    if not isinstance(outputs, dict):
        return text_of(outputs)
    return result_text(outputs.get("output", outputs))


class _TraceReader:
    def __init__(self, builder: TrajectoryBuilder, tree: SpanTree) -> None:
        self.builder = builder
        self.tree = tree
        self.unknown: Counter[str] = Counter()

    def read(self) -> None:
        for root in self.tree.roots:
            if not self.builder.question:
                self.builder.question = first_human_text(root.attributes.get("inputs"))
        for span in self.tree.walk():
            run = span.attributes
            if span.error:
                self.builder.outcome = Outcome.FAILURE
                self.builder.note(f"run {span.id} ({span.kind} {span.name}) failed: {span.error}")
            if span.kind == "llm":
                self._llm(span)
            elif span.kind == "tool":
                content = _tool_output(run) or (f"error: {span.error}" if span.error else "")
                self._tool(span, span.name or "tool", content)
            elif span.kind == "retriever":
                self._tool(span, span.name or "retriever", _tool_output(run))
            elif span.kind not in RUN_TYPES:
                self.unknown[span.kind] += 1
        note_skipped(self.builder, self.unknown, "runs of unknown types")

    def _llm(self, span: Span) -> None:
        run = span.attributes
        if not self.builder.steps and self.builder.question:
            self.builder.add(
                agent="user", kind=StepKind.USER, content=self.builder.question, role="user"
            )
        elif not self.builder.steps and (task := first_human_text(run.get("inputs"))):
            self.builder.question = task
            self.builder.add(agent="user", kind=StepKind.USER, content=task, role="user")
        text, calls = _generated_message(run)
        self.builder.add(
            agent=self._agent(span),
            content=step_content(text, calls),
            role="assistant",
            tool_calls=calls,
            source_id=span.id,
        )

    def _agent(self, span: Span) -> str:
        node = _node(span.attributes)
        if node:
            return node
        chain = self.tree.ancestor(span, lambda s: s.kind == "chain" and bool(s.name))
        if chain is not None and self.tree.parent(chain) is not None:
            self.builder.note(
                "llm runs without `langgraph_node` metadata are attributed to their enclosing "
                "chain's name"
            )
            return chain.name
        self.builder.note(
            "llm runs outside any named sub-chain and without `langgraph_node` are attributed "
            "to the model's run name"
        )
        return span.name or "assistant"

    def _tool(self, span: Span, name: str, content: str) -> None:
        self.builder.add(
            agent=name, kind=StepKind.TOOL, content=content, role="tool", source_id=span.id
        )


def _order_key(span: Span) -> str:
    return str(span.attributes.get("dotted_order") or "")


@register_format(
    FORMAT,
    summary="LangSmith run exports (runs with run_type, parent_run_id, dotted_order)",
    priority=43,
)
class LangSmithFormat:
    def detect(self, probe: Probe) -> bool:
        return is_run(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        if (error := no_records(probe)) is not None:
            yield error
            return
        spans = []
        for key, obj in probe.records():
            if is_run(obj):
                spans.append(_span(obj))
            else:
                yield TraceFormatError(
                    "not a LangSmith run: no 'run_type'", path=record_location(probe, key)
                )
        if spans and all(_order_key(span) for span in spans):
            # dotted_order (start time and id at each level) is the execution order LangSmith
            # itself sorts by; it also orders runs that started in the same clock tick
            spans.sort(key=_order_key)
            for position, span in enumerate(spans):
                span.start = float(position)
        yield from span_runs(
            probe,
            spans,
            format=FORMAT,
            read=lambda builder, tree: _TraceReader(builder, tree).read(),
            unit="run",
        )

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "run_type" in first and "id" not in first:
            return "the run has no 'id'"
        if isinstance(first, dict) and "parent_run_id" in first and "run_type" not in first:
            return "the run has no 'run_type'"
        return None
