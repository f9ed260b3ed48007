"""Chat-message shapes shared by the framework importers.

Most frameworks log model turns as OpenAI chat messages (content a string or a list of parts,
`tool_calls` with `function.name`/`function.arguments`) or LangChain's variant (`name`, `args`
as an object). These helpers read both, so each importer only knows its own envelope.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from agentracer.trajectory import ToolCall


def mapping(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (a damaged file may hold anything)."""
    return value if isinstance(value, dict) else {}


def listing(value: Any) -> list[Any]:
    """`value` when it is a JSON list, else an empty one."""
    return value if isinstance(value, list) else []


def message_tool_calls(message: dict[str, Any]) -> list[ToolCall]:
    """A message's tool calls: `tool_calls`, else OpenAI's `additional_kwargs.tool_calls`
    (where LangChain keeps the raw ones)."""
    return tool_calls_of(message.get("tool_calls")) or tool_calls_of(
        mapping(message.get("additional_kwargs")).get("tool_calls")
    )


def text_of(content: Any) -> str:
    """The text of a message's content: a string, a list of parts, or any JSON value."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [_part_text(part) for part in content]
        return "\n".join(part for part in parts if part)
    return json.dumps(content, ensure_ascii=False, default=str)


def _part_text(part: Any) -> str:
    if isinstance(part, str):
        return part
    if isinstance(part, dict):
        for key in ("text", "content", "output_text"):
            if isinstance(part.get(key), str):
                return str(part[key])
        if part.get("type") in ("image_url", "image", "input_image"):
            return "[image]"
    return json.dumps(part, ensure_ascii=False, default=str)


def arguments_text(arguments: Any) -> str:
    """Tool-call arguments as the JSON text OpenAI uses (an object is dumped, text kept)."""
    if arguments is None:
        return ""
    if isinstance(arguments, str):
        return arguments
    return json.dumps(arguments, ensure_ascii=False, default=str)


def tool_calls_of(raw: Any) -> list[ToolCall]:
    """Tool calls in the OpenAI shape (`function.name`) or LangChain's (`name`, `args`)."""
    calls = []
    for item in listing(raw):
        if not isinstance(item, dict):
            continue
        function = mapping(item["function"]) if "function" in item else item
        name = function.get("name")
        if not name:
            continue
        arguments = function.get("arguments", function.get("args"))
        call_id = item.get("id")
        calls.append(
            ToolCall(
                id=None if call_id is None else str(call_id),
                name=str(name),
                arguments=arguments_text(arguments),
            )
        )
    return calls


def step_content(text: str, tool_calls: Sequence[ToolCall]) -> str:
    """A step's text with its tool calls rendered after it, as tracers read steps as text."""
    rendered = "\n".join(f"[calls {call.name}({call.arguments})]" for call in tool_calls)
    return f"{text}\n{rendered}".strip()


def first_user_text(messages: Iterable[Any]) -> str:
    """The first user message's text in a list of chat messages (the task), or ''."""
    for message in messages:
        if isinstance(message, dict) and message.get("role") in ("user", "human"):
            return text_of(message.get("content"))
    return ""


def timestamp(value: Any) -> float:
    """Seconds since the epoch from an ISO 8601 string or a number (s, ms, us or ns); 0 when
    the value is missing or unreadable, which sorts such a record first rather than dropping it."""
    if isinstance(value, bool) or value is None:
        return 0.0
    if isinstance(value, int | float):
        number = float(value)
        for scale in (1e18, 1e15, 1e12):  # ns, us, ms since the epoch
            if number > scale:
                return number / (scale / 1e9)
        return number
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return 0.0
    return 0.0
