"""What the OpenTelemetry importers (GenAI conventions, OpenInference) share once a file is
spans: one trajectory per trace, the outcome from error statuses and exceptions, notes on what
was inferred or skipped, and chat messages in their common shapes.

An importer supplies `steps(tree, builder)`, which walks one trace's `SpanTree` and adds steps;
`trajectories_from_spans` does the rest, so both importers treat bad input the same way: a
trace without any step is skipped with a note on the file's other trajectories (or, when no
trace has a step, one error that says what the file holds).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.registry import Parsed
from agentracer.formats.spans import Span, SpanTree, group_traces
from agentracer.trajectory import Outcome, StepKind, ToolCall

StepWalker = Callable[[SpanTree, TrajectoryBuilder], None]


@dataclass
class Message:
    """A chat message in any of the shapes the conventions use, reduced to what a step needs."""

    role: str
    text: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_results: list[tuple[str | None, str]] = field(default_factory=list)  # (call id, text)


def as_text(value: Any) -> str:
    """A value as step text: strings verbatim, anything else as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def load_json_value(value: Any) -> Any:
    """A JSON-encoded attribute decoded; a value that is not JSON text is returned as it is."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return value
    return value


def arguments_text(value: Any) -> str:
    """Tool-call arguments as the JSON text the chat-completions shape uses."""
    return value if isinstance(value, str) else as_text(value)


def outcome_of(
    spans: list[Span], roots: list[Span] | None = None
) -> tuple[Outcome, list[dict[str, str]]]:
    """FAILURE when a span failed (error status or exception), SUCCESS when the root spans all
    ended OK, else UNKNOWN; and the errors, for the trajectory's metadata. `roots` defaults to
    the spans whose parent is not among `spans` (a `SpanTree` knows better: loops cut)."""
    errors = [{"span_id": s.id, "name": s.name, "error": s.error or ""} for s in spans if s.error]
    if errors:
        return Outcome.FAILURE, errors
    if roots is None:
        ids = {s.id for s in spans}
        roots = [s for s in spans if s.parent_id not in ids]
    if roots and all(s.attributes.get("otel.status_code") == "OK" for s in roots):
        return Outcome.SUCCESS, []
    return Outcome.UNKNOWN, []


def _trace_notes(tree: SpanTree) -> list[str]:
    notes = []
    if tree.orphans:
        names = ", ".join(sorted({s.name or s.id for s in tree.orphans})[:3])
        notes.append(
            f"{len(tree.orphans)} span(s) have a parent that is not in the file ({names}); "
            "kept, read as top-level spans"
        )
    if tree.cut:
        names = ", ".join(sorted({s.name or s.id for s in tree.cut})[:3])
        notes.append(
            f"{len(tree.cut)} loop(s) of parent ids (a span under itself), cut at {names}: "
            "read as top-level span(s)"
        )
    return notes


def trajectories_from_spans(
    spans: list[Span],
    *,
    format_name: str,
    path: Path,
    walker: StepWalker,
    file_notes: list[str],
) -> Iterator[Parsed]:
    """One trajectory per trace, traces in order of their first span.

    Consumes `spans` (the list is emptied, and each trace's spans are let go once its
    trajectory is built), so a large export is never held as spans and steps at once.
    """
    built = []
    empty: list[str] = []
    traces = group_traces(spans)
    spans.clear()
    for trace_id in list(traces):
        trace_spans = traces.pop(trace_id)
        tree = SpanTree(trace_spans)
        outcome, errors = outcome_of(trace_spans, tree.roots)
        builder = TrajectoryBuilder(
            id=trace_id, format=format_name, path=path, record=trace_id, outcome=outcome
        )
        builder.metadata["trace_id"] = trace_id
        if errors:
            builder.metadata["errors"] = errors
        for note in [*_trace_notes(tree), *file_notes]:
            builder.note(note)
        walker(tree, builder)
        if builder.steps:
            built.append(builder)
        else:
            empty.append(f"{trace_id} ({len(trace_spans)} spans)")
    if not built:
        what = f"{len(empty)} trace(s) with no model, agent or tool spans" if empty else "no spans"
        yield TraceFormatError(f"nothing to attribute: the file holds {what}", path=path)
        return
    for builder in built:
        if empty:
            shown = ", ".join(empty[:3]) + (f" and {len(empty) - 3} more" if len(empty) > 3 else "")
            builder.note(f"skipped trace(s) of the same file with nothing to attribute: {shown}")
        if len(built) > 1:
            builder.metadata["traces_in_file"] = len(built)
        yield builder.build()


class Convention(Protocol):
    """How one tracing convention marks its spans; `StepWalk` does the rest."""

    agent_attribute: str  # the span attribute that names the acting agent
    missing_agent: str  # how to say that neither the span nor an ancestor names the agent

    def is_model(self, span: Span) -> bool: ...
    def is_agent(self, span: Span) -> bool: ...
    def is_tool(self, span: Span) -> bool: ...
    def agent_span_name(self, span: Span) -> str | None: ...
    def tool_name(self, span: Span) -> str: ...
    def tool_call_id(self, span: Span) -> str | None: ...
    def tool_result(self, span: Span) -> Any: ...
    def input_messages(self, span: Span) -> list[Message]: ...
    def output_messages(self, span: Span) -> list[Message] | None: ...
    def task(self, root: Span) -> str | None:
        """The task when a span states it: the root, else the top agent span (e.g.
        OpenInference's `input.value`, or smolagents' `{"task": ...}`)."""
        ...

    def ignored(self, span: Span) -> str | None:
        """The span's kind when it is a kind this convention knows but that is no step."""
        ...


_STEP_SPAN = re.compile(r"step[ _-]*\d+", re.IGNORECASE)
"""An agent framework's span for one step of an agent (smolagents' `Step 3`): part of the
agent's work, never a name for the agent."""


def is_step_span(span: Span) -> bool:
    return bool(_STEP_SPAN.fullmatch(span.name.strip()))


HARNESS = "harness"


class StepWalk:
    """One trace's walk: adds steps to the builder in execution order.

    Model spans are agent steps, tool spans tool steps joined to the call by its id, and an
    agent span with an answer but no model span below it is an agent step too. Tool results
    seen only in a later model call's input become tool steps there. The task is the root's
    (when the convention reads one there), else the top agent span's, else the first user
    message; it is step 0. Agents the trace does not name are named after the nearest enclosing
    span that is not an agent's step span (else the service, else the model) and noted.

    In a trace with agent spans, a model call outside every agent (and every agent's step span)
    and naming no agent is the harness's (e.g. a benchmark's answer-extraction call after the
    run): a `harness` step, shown and noted, never an agent that could be blamed.
    """

    def __init__(self, tree: SpanTree, builder: TrajectoryBuilder, convention: Convention) -> None:
        self.tree = tree
        self.builder = builder
        self.conv = convention
        self.calls: dict[str, ToolCall] = {}  # tool call id -> the call, as the model made it
        self.role: dict[str, str] = {}  # span id -> model / tool / agent (each asked once)
        for span in tree.by_id.values():
            if convention.is_model(span):
                self.role[span.id] = "model"
            elif convention.is_tool(span):
                self.role[span.id] = "tool"
            elif convention.is_agent(span):
                self.role[span.id] = "agent"
        executed = (convention.tool_call_id(s) for s in tree.by_id.values() if self._is(s, "tool"))
        self.executed = {c for c in executed if c}  # call ids answered by tool spans
        self.answered: set[str] = set()
        self.inferred: dict[str, list[int]] = {}  # how an unnamed agent was named -> steps
        self.ignored: dict[str, int] = {}
        self.has_model_below: set[str] = set()
        self.has_agents = "agent" in self.role.values() or any(map(is_step_span, tree.walk()))
        self.harness_steps: list[int] = []
        self._missing: set[str] | None = None  # see `_runs_missing_parents`
        for span in tree.by_id.values():
            if self._is(span, "model"):
                node, seen = tree.parent(span), set()
                while (
                    node is not None and node.id not in seen and node.id not in self.has_model_below
                ):
                    seen.add(node.id)
                    self.has_model_below.add(node.id)
                    node = tree.parent(node)

    def run(self) -> None:
        for span in self.tree.walk():
            role = self.role.get(span.id)
            if role == "model":
                self.model_step(span)
            elif role == "tool":
                self.tool_step(span)
            elif role == "agent":
                self.agent_span(span)
            else:
                kind = self.conv.ignored(span)
                if kind:
                    self.ignored[kind] = self.ignored.get(kind, 0) + 1
        for how, steps in self.inferred.items():
            listed = ", ".join(map(str, steps[:10])) + (" ..." if len(steps) > 10 else "")
            self.builder.note(
                f"the agent of step(s) {listed} is not in the trace ({self.conv.missing_agent}): "
                f"named after {how}"
            )
        if self.ignored:
            kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(self.ignored.items()))
            self.builder.note(f"spans that are not steps (kept out of the log): {kinds}")
        if self.harness_steps:
            listed = ", ".join(map(str, self.harness_steps[:10]))
            more = " ..." if len(self.harness_steps) > 10 else ""
            self.builder.note(
                f"step(s) {listed}{more}: model call(s) outside every agent span, read as the "
                "harness's (shown, never blamed)"
            )

    def _is(self, span: Span, role: str) -> bool:
        return self.role.get(span.id) == role

    def _is_agent(self, span: Span) -> bool:
        return self.role.get(span.id) == "agent"

    def _outermost_agent(self, span: Span) -> Span | None:
        outermost, node = None, self.tree.ancestor(span, self._is_agent)
        while node is not None:
            outermost, node = node, self.tree.ancestor(node, self._is_agent)
        return outermost

    def _started(self) -> bool:
        """Whether the run has a step yet (the harness's calls do not start it)."""
        return any(step.kind is not StepKind.HARNESS for step in self.builder.steps)

    def _top_agent(self, span: Span) -> Span | None:
        """The agent span the run started from: the outermost above `span`, else the trace's
        first agent span (when `span` is outside every agent, e.g. the harness's call)."""
        outermost = self._outermost_agent(span)
        if outermost is not None:
            return outermost
        return next((s for s in self.tree.walk() if self._is_agent(s)), None)

    def is_harness(self, span: Span) -> bool:
        """A model call outside every agent (and agent step) span, in a trace that has agents.

        Only when its spans reach a true root, or hang from the same missing span as an agent's
        run (a sibling of the run whose harness span was not exported): a span whose parent is
        missing from the file may otherwise well sit inside an agent that was not exported.
        """
        if not self.has_agents or span.attributes.get(self.conv.agent_attribute):
            return False
        node = span
        while (parent := self.tree.parent(node)) is not None:
            if self._is_agent(parent) or is_step_span(parent):
                return False
            node = parent
        if not node.parent_id:
            return True
        return node in self.tree.orphans and node.parent_id in self._runs_missing_parents()

    def _runs_missing_parents(self) -> set[str]:
        """The missing parents of the top spans above the trace's outermost agent spans."""
        if self._missing is None:
            self._missing = set()
            for span in self.tree.walk():
                if self._is_agent(span) and self.tree.ancestor(span, self._is_agent) is None:
                    top = span
                    while (parent := self.tree.parent(top)) is not None:
                        top = parent
                    if top.parent_id and top in self.tree.orphans:
                        self._missing.add(top.parent_id)
        return self._missing

    def task(self, span: Span, messages: list[Message]) -> None:
        """The task and the user's step (once per trace): what the root span or the top agent
        span states as the task, else the first user message."""
        if self.builder.question or self._started():
            return
        root, seen = span, {span.id}
        while (parent := self.tree.parent(root)) is not None and parent.id not in seen:
            root = parent
            seen.add(parent.id)
        text, source = self.conv.task(root), root
        top = None if text else self._top_agent(span)
        if top is not None:
            # e.g. smolagents: a harness's root states nothing, the agent's run has {"task": ...}
            text, source = self.conv.task(top), top
        if not text:
            source = span
            outermost = self._outermost_agent(span)
            if outermost is not None and self.conv.input_messages(outermost):
                source, messages = outermost, self.conv.input_messages(outermost)
            user = next((m for m in messages if m.role == "user" and m.text), None)
            text = None if user is None else user.text
        if text:
            self.builder.question = text
            self.builder.add(
                agent="user", kind=StepKind.USER, content=text, role="user", source_id=source.id
            )

    def agent_of(self, span: Span) -> str:
        own = span.attributes.get(self.conv.agent_attribute)
        if own:
            return str(own)
        enclosing = self.tree.ancestor(span, self._is_agent)
        if enclosing is not None and self.conv.agent_span_name(enclosing):
            return str(self.conv.agent_span_name(enclosing))
        parent = self.tree.ancestor(
            span, lambda s: not self._is(s, "model") and bool(s.name) and not is_step_span(s)
        )
        service = str(span.resource.get("service.name") or "")
        if parent is not None:
            name, how = parent.name, f"the enclosing span's name ({parent.name!r})"
        elif service and not service.startswith("unknown_service"):
            name, how = service, f"the service name ({service!r})"
        else:
            model = next((span.attributes[k] for k in _MODEL_KEYS if span.attributes.get(k)), None)
            name = str(model) if model else "assistant"
            how = f"the model ({name!r})" if model else "'assistant' (the trace names nothing)"
        self.inferred.setdefault(how, []).append(len(self.builder.steps))
        return name

    def model_step(self, span: Span) -> None:
        harness = self.is_harness(span)
        pending = {i for i in self.calls if i not in self.executed and i not in self.answered}
        if pending or not self._started():
            messages = self.conv.input_messages(span)
            if not harness:  # the harness's prompt is not the agents' task
                self.task(span, messages)
            for message in messages:
                for call_id, text in message.tool_results:
                    if call_id is not None and str(call_id) in pending:
                        self.answered.add(str(call_id))
                        self.builder.add(
                            agent=self.calls[str(call_id)].name or "tool", kind=StepKind.TOOL,
                            content=text, role="tool", source_id=span.id,
                        )  # fmt: skip
        outputs = self.conv.output_messages(span) or []
        text = "\n".join(m.text for m in outputs if m.text)
        calls = [c for m in outputs for c in m.tool_calls]
        if not outputs and span.error:
            text = f"[the model call failed: {span.error}]"
        for call in calls:
            if call.id:
                self.calls[call.id] = call
        if calls:
            rendered = "\n".join(f"[calls {c.name}({c.arguments})]" for c in calls)
            text = f"{text}\n{rendered}".strip()
        if harness:
            self.harness_steps.append(len(self.builder.steps))
            self.builder.add(
                agent=HARNESS, kind=StepKind.HARNESS, content=text, role="assistant",
                tool_calls=calls, source_id=span.id,
            )  # fmt: skip
            return
        self.builder.add(
            agent=self.agent_of(span), content=text, role="assistant", tool_calls=calls,
            source_id=span.id,
        )  # fmt: skip

    def tool_step(self, span: Span) -> None:
        result = self.conv.tool_result(span)
        content = as_text(result)
        if result is None and span.error:
            content = f"[the tool failed: {span.error}]"
        call_id = self.conv.tool_call_id(span)
        if call_id is not None:
            self.builder.metadata.setdefault("tool_steps", {})[call_id] = len(self.builder.steps)
        self.builder.add(
            agent=self.conv.tool_name(span), kind=StepKind.TOOL, content=content, role="tool",
            source_id=span.id,
        )  # fmt: skip

    def agent_span(self, span: Span) -> None:
        """An agent invocation with an answer but no model span below it (a remote agent)."""
        if span.id in self.has_model_below:
            return
        outputs = self.conv.output_messages(span)
        if not outputs:
            return
        self.task(span, self.conv.input_messages(span))
        self.builder.add(
            agent=self.conv.agent_span_name(span) or span.name,
            content="\n".join(m.text for m in outputs if m.text),
            role="assistant",
            tool_calls=[c for m in outputs for c in m.tool_calls],
            source_id=span.id,
        )


_MODEL_KEYS = ("gen_ai.request.model", "gen_ai.response.model", "llm.model_name")
