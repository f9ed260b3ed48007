"""OpenTelemetry GenAI semantic conventions, in OTLP/JSON files.

What a program instrumented with the GenAI conventions writes (one document, or JSON Lines as
the collector's file exporter writes; several traces per file are several trajectories):

- model spans (`gen_ai.operation.name` chat / text_completion / generate_content, or any span
  with prompt or completion attributes) are agent steps: the text and tool calls of
  `gen_ai.output.messages` (parts of type text / tool_call), or of the older
  `gen_ai.completion` (JSON, or the indexed `gen_ai.completion.N.role/content/tool_calls.M.*`
  form) and `gen_ai.content.completion` / `gen_ai.choice` events;
- the agent of a model span is its own `gen_ai.agent.name`, else that of its nearest
  `invoke_agent` ancestor; where neither exists, the step is named after the enclosing span
  (else the service, else the model) and a note says so;
- `execute_tool` spans are tool steps (`gen_ai.tool.call.result`), joined to the call by
  `gen_ai.tool.call.id`; a tool result that only shows up as a `tool_call_response` part in a
  later model call's input becomes a tool step there;
- the task is the first user message (`gen_ai.input.messages`, or `gen_ai.prompt`); it is also
  step 0, the user's step;
- the outcome is failure when a span has error status or an exception event;
- every step keeps its span id (`source_id`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agentracer.formats.build import TrajectoryBuilder, tool_call
from agentracer.formats.otlp import GENAI, gc_paused, otlp_flavour, read_otlp_spans
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.spans import Span, SpanTree
from agentracer.formats.tracing import (
    Message,
    StepWalk,
    as_text,
    load_json_value,
    trajectories_from_spans,
)

FORMAT = "otel-genai"
OPERATION = "gen_ai.operation.name"
AGENT_NAME = "gen_ai.agent.name"
MODEL_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "completion"})
_PROMPT_EVENTS = {"gen_ai.content.prompt": "gen_ai.prompt"}
_COMPLETION_EVENTS = {"gen_ai.content.completion": "gen_ai.completion"}


_KEEP = ("gen_ai.", "exception.", "otel.")  # the attributes this importer reads


# --- messages in their three shapes ----------------------------------------------------------


def _parts_message(raw: dict[str, Any]) -> Message:
    """A current-conventions message: `{role, parts: [{type, ...}]}`."""
    message = Message(role=str(raw.get("role") or ""))
    texts = []
    for part in raw.get("parts") or []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "tool_call":
            message.tool_calls.append(
                tool_call(part.get("id"), part.get("name"), part.get("arguments"))
            )
        elif kind == "tool_call_response":
            call_id = None if part.get("id") is None else str(part["id"])
            message.tool_results.append((call_id, as_text(part.get("response"))))
        elif "content" in part:  # text, reasoning, and kinds newer than this reader
            texts.append(as_text(part["content"]))
    message.text = "\n".join(t for t in texts if t)
    return message


def _chat_message(raw: dict[str, Any]) -> Message:
    """An older-conventions message: the chat-completions shape `{role, content, tool_calls}`."""
    if "parts" in raw:
        return _parts_message(raw)
    message = Message(role=str(raw.get("role") or ""), text=as_text(raw.get("content")))
    for call in raw.get("tool_calls") or []:
        if isinstance(call, dict):
            function: dict[str, Any] = (
                call["function"] if isinstance(call.get("function"), dict) else call
            )
            message.tool_calls.append(
                tool_call(call.get("id"), function.get("name"), function.get("arguments"))
            )
    if message.role == "tool":
        message.tool_results.append((raw.get("tool_call_id") or raw.get("id"), message.text))
    return message


def _messages(value: Any, default_role: str) -> list[Message]:
    """Messages from an attribute: a JSON list (either shape), one object, or plain text."""
    value = load_json_value(value)
    if value is None or value == "":
        return []
    if isinstance(value, dict):
        value = [value]
    if isinstance(value, list):
        return [_chat_message(m) for m in value if isinstance(m, dict)]
    return [Message(role=default_role, text=as_text(value))]


def _indexed(attributes: dict[str, Any], prefix: str) -> list[Message]:
    """The indexed form: `gen_ai.prompt.0.role`, `gen_ai.completion.0.tool_calls.1.name`, ..."""
    entries: dict[int, dict[str, Any]] = {}
    for key, value in attributes.items():
        if not key.startswith(prefix):
            continue
        index, _, rest = key[len(prefix) :].partition(".")
        if not index.isdigit() or not rest:
            continue
        entry = entries.setdefault(int(index), {})
        head, _, tail = rest.partition(".")
        if head == "tool_calls" and tail:
            number, _, field_name = tail.partition(".")
            if number.isdigit():
                call = entry.setdefault("tool_calls", {}).setdefault(int(number), {})
                call[field_name] = value
        else:
            entry[rest] = value
    messages = []
    for _, entry in sorted(entries.items()):
        calls = entry.pop("tool_calls", {})
        entry["tool_calls"] = [calls[n] for n in sorted(calls)]
        messages.append(_chat_message(entry))
    return messages


def input_messages(span: Span) -> list[Message]:
    """What the model was sent, in whichever convention the span uses."""
    attributes = span.attributes
    if "gen_ai.input.messages" in attributes:
        return _messages(attributes["gen_ai.input.messages"], "user")
    if "gen_ai.prompt" in attributes:
        return _messages(attributes["gen_ai.prompt"], "user")
    indexed = _indexed(attributes, "gen_ai.prompt.")
    if indexed:
        return indexed
    for event in span.events:
        if event.name in _PROMPT_EVENTS:
            return _messages(event.attributes.get(_PROMPT_EVENTS[event.name]), "user")
    return []


def output_messages(span: Span) -> list[Message] | None:
    """What the model answered; None when the span records no answer at all."""
    attributes = span.attributes
    if "gen_ai.output.messages" in attributes:
        return _messages(attributes["gen_ai.output.messages"], "assistant")
    if "gen_ai.completion" in attributes:
        return _messages(attributes["gen_ai.completion"], "assistant")
    indexed = _indexed(attributes, "gen_ai.completion.")
    if indexed:
        return indexed
    found = None
    for event in span.events:
        if event.name in _COMPLETION_EVENTS:
            found = (found or []) + _messages(
                event.attributes.get(_COMPLETION_EVENTS[event.name]), "assistant"
            )
        elif event.name == "gen_ai.choice":
            found = (found or []) + _messages(event.attributes.get("message"), "assistant")
    return found


# --- span roles ------------------------------------------------------------------------------


def is_model_span(span: Span) -> bool:
    operation = span.attributes.get(OPERATION)
    if not isinstance(operation, str | None):  # a list or dict (a malformed file): unhashable
        operation = str(operation)
    if operation in MODEL_OPERATIONS:
        return True
    if operation:
        return False
    keys = span.attributes
    return (
        "gen_ai.output.messages" in keys
        or "gen_ai.completion" in keys
        or "gen_ai.prompt" in keys
        or any(k.startswith(("gen_ai.completion.", "gen_ai.prompt.")) for k in keys)
        or any(e.name in _COMPLETION_EVENTS or e.name == "gen_ai.choice" for e in span.events)
    )


def is_agent_span(span: Span) -> bool:
    return span.attributes.get(OPERATION) == "invoke_agent"


def is_tool_span(span: Span) -> bool:
    return span.attributes.get(OPERATION) == "execute_tool"


def _agent_span_name(span: Span) -> str | None:
    name = span.attributes.get(AGENT_NAME)
    if name:
        return str(name)
    if span.name.startswith("invoke_agent "):
        return span.name.removeprefix("invoke_agent ").strip() or None
    return None


def _tool_name(span: Span) -> str:
    name = span.attributes.get("gen_ai.tool.name")
    return str(name) if name else span.name.removeprefix("execute_tool").strip() or "tool"


class GenAIConvention:
    """How the GenAI semantic conventions mark model, agent and tool spans (`tracing.Convention`)."""

    agent_attribute = AGENT_NAME
    missing_agent = "no gen_ai.agent.name, no invoke_agent span above"
    is_model = staticmethod(is_model_span)
    is_agent = staticmethod(is_agent_span)
    is_tool = staticmethod(is_tool_span)
    agent_span_name = staticmethod(_agent_span_name)
    tool_name = staticmethod(_tool_name)
    input_messages = staticmethod(input_messages)
    output_messages = staticmethod(output_messages)

    @staticmethod
    def tool_call_id(span: Span) -> str | None:
        value = span.attributes.get("gen_ai.tool.call.id")
        return None if value in (None, "") else str(value)

    @staticmethod
    def tool_result(span: Span) -> Any:
        attributes = span.attributes
        return attributes.get("gen_ai.tool.call.result", attributes.get("gen_ai.tool.output"))

    @staticmethod
    def task(root: Span) -> str | None:
        return None

    @staticmethod
    def ignored(span: Span) -> str | None:
        return None


def genai_steps(tree: SpanTree, builder: TrajectoryBuilder) -> None:
    """Add the steps of one GenAI-conventions trace to `builder`, in execution order."""
    StepWalk(tree, builder, GenAIConvention()).run()


@register_format(
    FORMAT,
    summary="OpenTelemetry GenAI semantic conventions (gen_ai.* spans), OTLP/JSON document "
    "or JSON Lines",
    priority=40,
)
class OtelGenAIFormat:
    def detect(self, probe: Probe) -> bool:
        return otlp_flavour(probe) == GENAI

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        with gc_paused():  # results are yielded after, with the collector back on
            spans, notes = read_otlp_spans(probe, _KEEP)
            results = list(
                trajectories_from_spans(
                    spans, format_name=FORMAT, path=probe.path, walker=genai_steps, file_notes=notes
                )
            )
        yield from results

    def near_miss(self, probe: Probe) -> str | None:
        if otlp_flavour(probe) == "plain":
            return (
                "its spans carry no gen_ai.* attributes (GenAI semantic conventions) and no "
                "openinference.span.kind (OpenInference): instrument the model calls, e.g. "
                "with openinference-instrumentation-openai"
            )
        return None
