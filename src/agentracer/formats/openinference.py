"""OpenInference (Arize Phoenix and its instrumentations), in OTLP/JSON files.

Spans carry `openinference.span.kind`:

- `LLM` spans are agent steps: `llm.output_messages.N.message.content` (or `.contents.M.*`
  text parts) and `...message.tool_calls.K.tool_call.{id,function.name,function.arguments}`,
  else `output.value`;
- `TOOL` spans are tool steps (`output.value`), joined to the call by `tool_call.id`;
  `RETRIEVER` spans are tool steps too (what was retrieved is what the next step read);
- the agent of an LLM span is its own `agent.name`, else its nearest `AGENT` ancestor's
  (`agent.name`, else that span's name); otherwise inferred and noted, as for the GenAI
  conventions (`formats.tracing`);
- an `AGENT` span with an `output.value` and no LLM span below it is an agent step;
- `CHAIN` spans hold the work together; the root's `input.value` is the task. Kinds that are no
  step (`EMBEDDING`, `RERANKER`, `GUARDRAIL`, `EVALUATOR`, `PROMPT`, unknown) are counted in a
  note.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agentracer.formats.build import TrajectoryBuilder, tool_call
from agentracer.formats.otlp import (
    OPENINFERENCE,
    OPENINFERENCE_KIND,
    gc_paused,
    otlp_flavour,
    read_otlp_spans,
)
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.spans import Span, SpanTree
from agentracer.formats.tracing import (
    Message,
    StepWalk,
    as_text,
    load_json_value,
    trajectories_from_spans,
)

FORMAT = "openinference"
STEP_KINDS = frozenset({"LLM", "TOOL", "RETRIEVER", "AGENT", "CHAIN"})


def _kind(span: Span) -> str:
    return str(span.attributes.get(OPENINFERENCE_KIND) or "").upper()


def unflatten(attributes: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """Flattened list attributes back into a list of nested dicts.

    `llm.output_messages.0.message.tool_calls.1.tool_call.id` with prefix `llm.output_messages.`
    becomes `[{"message": {"tool_calls": [{}, {"tool_call": {"id": ...}}]}}]`; numeric path
    segments are list positions (a gap stays an empty dict).
    """
    root: dict[str, Any] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[parts[-1]] = value
    return _as_lists(root)  # type: ignore[return-value]


def _as_lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {k: _as_lists(v) for k, v in node.items()}
    if converted and all(k.isdigit() for k in converted):
        items: list[Any] = [{} for _ in range(max(int(k) for k in converted) + 1)]
        for k, v in converted.items():
            items[int(k)] = v
        return items
    return converted


def _message(raw: dict[str, Any]) -> Message:
    body: dict[str, Any] = raw["message"] if isinstance(raw.get("message"), dict) else raw
    message = Message(role=str(body.get("role") or ""))
    texts = [as_text(body.get("content"))] if body.get("content") is not None else []
    for part in body.get("contents") or []:
        content = part.get("message_content") if isinstance(part, dict) else None
        if isinstance(content, dict) and content.get("text"):
            texts.append(as_text(content["text"]))
    message.text = "\n".join(t for t in texts if t)
    for raw_call in body.get("tool_calls") or []:
        call = raw_call.get("tool_call") if isinstance(raw_call, dict) else None
        if not isinstance(call, dict):
            continue
        function: dict[str, Any] = (
            call["function"] if isinstance(call.get("function"), dict) else {}
        )
        message.tool_calls.append(
            tool_call(call.get("id"), function.get("name"), function.get("arguments"))
        )
    if message.role == "tool":
        message.tool_results.append((body.get("tool_call_id"), message.text))
    return message


def input_messages(span: Span) -> list[Message]:
    return [_message(m) for m in unflatten(span.attributes, "llm.input_messages.") if m]


def output_messages(span: Span) -> list[Message] | None:
    messages = [_message(m) for m in unflatten(span.attributes, "llm.output_messages.") if m]
    if messages:
        return messages
    value = span.attributes.get("output.value")
    if value is None:
        return None
    decoded = load_json_value(value)
    if isinstance(decoded, dict) and isinstance(decoded.get("choices"), list):
        # The raw chat.completion an instrumentation stored when it wrote no messages.
        return [
            _message({"message": {**c["message"], "tool_calls": None}})
            for c in decoded["choices"]
            if isinstance(c, dict) and isinstance(c.get("message"), dict)
        ] or None
    return [Message(role="assistant", text=as_text(decoded))]


class OpenInferenceConvention:
    """How OpenInference marks model, agent and tool spans (`tracing.Convention`)."""

    agent_attribute = "agent.name"
    missing_agent = "no agent.name, no AGENT span above"
    input_messages = staticmethod(input_messages)
    output_messages = staticmethod(output_messages)

    @staticmethod
    def is_model(span: Span) -> bool:
        return _kind(span) == "LLM"

    @staticmethod
    def is_agent(span: Span) -> bool:
        return _kind(span) == "AGENT"

    @staticmethod
    def is_tool(span: Span) -> bool:
        return _kind(span) in ("TOOL", "RETRIEVER")

    @staticmethod
    def agent_span_name(span: Span) -> str | None:
        name = span.attributes.get("agent.name")
        if name:
            return str(name)
        # openinference-instrumentation-smolagents names an agent's span `<agent name>.run`
        return span.name.removesuffix(".run").strip() or span.name or None

    @staticmethod
    def tool_name(span: Span) -> str:
        return str(span.attributes.get("tool.name") or span.name or "tool")

    @staticmethod
    def tool_call_id(span: Span) -> str | None:
        value = span.attributes.get("tool_call.id")
        return None if value in (None, "") else str(value)

    @staticmethod
    def tool_result(span: Span) -> Any:
        if "output.value" in span.attributes:
            return span.attributes["output.value"]
        documents = unflatten(span.attributes, "retrieval.documents.")
        return documents or None

    @staticmethod
    def task(root: Span) -> str | None:
        value = load_json_value(root.attributes.get("input.value"))
        if isinstance(value, dict):  # e.g. {"messages": [...]} or {"input": "..."}
            for key in ("input", "question", "query", "task"):
                if isinstance(value.get(key), str):
                    return str(value[key])
            return None
        return None if value in (None, "") else as_text(value)

    @staticmethod
    def ignored(span: Span) -> str | None:
        kind = _kind(span)
        return None if kind in STEP_KINDS else (kind or "no kind")


def openinference_steps(tree: SpanTree, builder: TrajectoryBuilder) -> None:
    """Add the steps of one OpenInference trace to `builder`, in execution order."""
    StepWalk(tree, builder, OpenInferenceConvention()).run()


@register_format(
    FORMAT,
    summary="OpenInference spans (Arize Phoenix instrumentations), OTLP/JSON document or JSON Lines",
    priority=39,
)
class OpenInferenceFormat:
    def detect(self, probe: Probe) -> bool:
        return otlp_flavour(probe) == OPENINFERENCE

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        with gc_paused():  # results are yielded after, with the collector back on
            spans, notes = read_otlp_spans(probe)
            results = list(
                trajectories_from_spans(
                    spans,
                    format_name=FORMAT,
                    path=probe.path,
                    walker=openinference_steps,
                    file_notes=notes,
                )
            )
        yield from results

    def near_miss(self, probe: Probe) -> str | None:
        return None  # the GenAI format explains an OTLP/JSON file with neither convention
