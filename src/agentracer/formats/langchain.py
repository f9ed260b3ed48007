"""LangGraph / LangChain message dumps: `messages_to_dict(state["messages"])`, a JSON list of
`{"type": "human"|"ai"|"tool"|"system", "data": {...}}`, or a state object `{"messages": [...]}`
of them. The message forms that LangChain serialises elsewhere (`dumpd`'s
`{"lc": 1, "id": [..., "AIMessage"], "kwargs": {...}}`, and a message's own `model_dump()`)
are read too, as LangSmith runs hold them.

- `ai` messages are agent steps; the agent is `AIMessage.name` (multi-agent graphs set it to
  the node or agent name). A message without a name is the agent `assistant`, and a note says
  so: the dump alone does not say which node wrote it.
- `tool` messages are tool steps (`name`, joined to the call by `tool_call_id`);
  `status: "error"` makes the outcome a failure.
- `human` messages are user steps; the first is the task. `system` messages are not steps:
  they are the run's context (shown, given to tracers, never blamed).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import listing, message_tool_calls, step_content, text_of
from agentracer.formats.importer import message_runs
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.trajectory import Outcome, StepKind

FORMAT = "langchain-messages"

# a tuple, not a set: membership of an unhashable JSON value (a damaged file) must be False
MESSAGE_TYPES = ("human", "ai", "tool", "system", "function", "chat", "remove")
_CLASS_TYPES = {
    "HumanMessage": "human",
    "AIMessage": "ai",
    "AIMessageChunk": "ai",
    "ToolMessage": "tool",
    "SystemMessage": "system",
    "FunctionMessage": "function",
    "ChatMessage": "chat",
}


def lc_message(obj: object) -> tuple[str, dict[str, Any]] | None:
    """(type, fields) of a LangChain message in any of its JSON forms, else None."""
    if not isinstance(obj, dict):
        return None
    data = obj.get("data")
    if obj.get("type") in MESSAGE_TYPES and isinstance(data, dict):  # messages_to_dict
        return str(obj["type"]), data
    if obj.get("lc") == 1 and isinstance(obj.get("kwargs"), dict):  # dumpd
        ids = listing(obj.get("id"))
        kind = _CLASS_TYPES.get(str(ids[-1]) if ids else "")
        return (kind, obj["kwargs"]) if kind else None
    if obj.get("type") in MESSAGE_TYPES and "content" in obj:  # BaseMessage.model_dump()
        return str(obj["type"]), obj
    return None


def _is_message_dump(obj: object) -> bool:
    message = lc_message(obj)
    return message is not None and "content" in message[1]


def _messages_of(obj: object) -> list[Any] | None:
    if isinstance(obj, dict) and isinstance(obj.get("messages"), list):
        messages = obj["messages"]
        if messages and _is_message_dump(messages[0]):
            return messages
    return None


def add_message(builder: TrajectoryBuilder, obj: object) -> None:
    """Add the step of one LangChain message (system messages and unknown shapes add none)."""
    message = lc_message(obj)
    if message is None:
        builder.note("entries that are not LangChain messages were skipped")
        return
    kind, data = message
    text = text_of(data.get("content"))
    source_id = None if data.get("id") is None else str(data["id"])
    name = data.get("name")
    if kind == "ai":
        calls = message_tool_calls(data)
        if not name:
            builder.note(
                "AI messages without a `name` are attributed to the agent 'assistant' "
                "(the dump does not say which node wrote them)"
            )
        builder.add(
            agent=str(name or "assistant"),
            content=step_content(text, calls),
            role="assistant",
            tool_calls=calls,
            source_id=source_id,
        )
    elif kind in ("tool", "function"):
        if data.get("status") == "error":
            builder.outcome = Outcome.FAILURE
            builder.note(f"tool {name or '?'} returned an error (message {source_id})")
        builder.add(
            agent=str(name or "tool"),
            kind=StepKind.TOOL,
            content=text,
            role="tool",
            source_id=source_id,
        )
    elif kind == "system":
        builder.add_context(text)
    elif kind in ("human", "chat"):
        if not builder.question:
            builder.question = text
        builder.add(
            agent=str(name or "user"),
            kind=StepKind.USER,
            content=text,
            role="user",
            source_id=source_id,
        )


def result_text(value: Any) -> str:
    """The text of a tool's result: a LangChain message in any form, an object with
    `content`, or any JSON value."""
    message = lc_message(value)
    if message is not None:
        return text_of(message[1].get("content"))
    if isinstance(value, dict) and "content" in value:
        return text_of(value["content"])
    return text_of(value)


def read_messages(builder: TrajectoryBuilder, messages: list[Any]) -> None:
    """Add the steps of a run's messages, in order."""
    for message in messages:
        add_message(builder, message)


def first_human_text(inputs: Any) -> str:
    """The first human message's text in a run's inputs: `{"messages": [...]}` of LangChain
    messages in any form, `("user", text)` pairs, or OpenAI chat messages."""
    messages = inputs.get("messages") if isinstance(inputs, dict) else inputs
    flat: list[Any] = []
    for item in listing(messages):
        flat.extend(item if isinstance(item, list) and not _is_tuple(item) else [item])
    for item in flat:
        if _is_tuple(item) and item[0] in ("user", "human"):  # ("user", "text") shorthand
            return text_of(item[1])
        message = lc_message(item)
        if message is not None and message[0] == "human":
            return text_of(message[1].get("content"))
        if isinstance(item, dict) and item.get("role") in ("user", "human"):
            return text_of(item.get("content"))
    return ""


def _is_tuple(item: Any) -> bool:
    return isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)


@register_format(
    FORMAT,
    summary="LangGraph / LangChain messages (messages_to_dict, or a state with 'messages')",
    priority=42,
)
class LangChainMessagesFormat:
    def detect(self, probe: Probe) -> bool:
        first = probe.first()
        return _messages_of(first) is not None or (
            probe.shape != "object" and _is_message_dump(first)
        )

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        yield from message_runs(
            probe,
            format=FORMAT,
            is_message=_is_message_dump,
            messages_of=_messages_of,
            read=read_messages,
            not_a_run="not a LangGraph state: no 'messages' list",
        )

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and first.get("type") in MESSAGE_TYPES and "data" in first:
            return "its 'data' is not a message object with 'content'"
        return None
