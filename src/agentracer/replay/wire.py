"""What the proxy accepts on the wire: a chat-completions request body, checked field by field.

A malformed request is refused whole with a reason (HTTP 400), never half-forwarded: a bad
`Content-Length`, a body that is not UTF-8 JSON, not an object, a known field of the wrong type.
Fields this schema does not know (a server's own, such as vLLM's `top_k`) are kept and passed
to the model in the request body (the SDK's `extra_body`), never as SDK keyword arguments, so
`"extra_headers"` in a body is a body field like any other, not headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Protocol

MAX_BODY_BYTES = 64 * 1024 * 1024


class Readable(Protocol):
    """What a request body is read from: `BaseHTTPRequestHandler.rfile`, a file, a pipe."""

    def read(self, size: int, /) -> bytes: ...


class BadRequest(Exception):
    """A request the proxy refuses; `reason` goes back to the program in a 400 (or `status`)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _object(value: Any) -> bool:
    return isinstance(value, dict)


def _array(value: Any) -> bool:
    return isinstance(value, list)


def _stop(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and all(map(_string, value)))


def _string_or_object(value: Any) -> bool:
    return isinstance(value, str | dict)


# The chat-completions request fields (OpenAI's API reference) and the JSON type each must have;
# null is accepted for every optional field, as the API does.
FIELDS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "model": ("a string", _string),
    "messages": ("an array of message objects", _array),
    "temperature": ("a number", _number),
    "top_p": ("a number", _number),
    "n": ("an integer", _integer),
    "max_tokens": ("an integer", _integer),
    "max_completion_tokens": ("an integer", _integer),
    "seed": ("an integer", _integer),
    "frequency_penalty": ("a number", _number),
    "presence_penalty": ("a number", _number),
    "logprobs": ("a boolean", _boolean),
    "top_logprobs": ("an integer", _integer),
    "logit_bias": ("an object", _object),
    "stop": ("a string or an array of strings", _stop),
    "stream": ("a boolean", _boolean),
    "stream_options": ("an object", _object),
    "tools": ("an array", _array),
    "tool_choice": ("a string or an object", _string_or_object),
    "parallel_tool_calls": ("a boolean", _boolean),
    "functions": ("an array", _array),
    "function_call": ("a string or an object", _string_or_object),
    "response_format": ("an object", _object),
    "user": ("a string", _string),
    "metadata": ("an object", _object),
    "store": ("a boolean", _boolean),
    "reasoning_effort": ("a string", _string),
    "service_tier": ("a string", _string),
    "modalities": ("an array", _array),
    "audio": ("an object", _object),
    "prediction": ("an object", _object),
    "web_search_options": ("an object", _object),
    "verbosity": ("a string", _string),
    "prompt_cache_key": ("a string", _string),
    "safety_identifier": ("a string", _string),
}


def read_json_body(headers: Any, stream: Readable) -> dict[str, Any]:
    """The request's JSON object, read by its `Content-Length`; `BadRequest` otherwise."""
    declared = headers.get("Content-Length")
    if declared is None:
        raise BadRequest("the request has no Content-Length (chunked bodies are not accepted)", 411)
    try:
        length = int(declared)
    except ValueError:
        raise BadRequest(f"Content-Length {declared[:40]!r} is not a number") from None
    if length < 0:
        raise BadRequest(f"Content-Length {length} is negative")
    if length > MAX_BODY_BYTES:
        raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes", 413)
    raw = stream.read(length)
    if len(raw) < length:
        raise BadRequest(f"the body ended after {len(raw)} of {length} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(f"the body is not UTF-8 (byte {error.start})") from None
    try:
        body = json.loads(text) if text.strip() else None
    except json.JSONDecodeError as error:
        raise BadRequest(f"the body is not JSON ({error.msg} at character {error.pos})") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply") from None
    except ValueError:  # an integer past Python's limit on digits converted (4,300 by default)
        digits = max((len(run) for run in re.findall(r"\d+", text)), default=0)
        raise BadRequest(f"the body holds a number of {digits} digits, too long to read") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body is not a JSON object")
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest("the body holds a lone UTF-16 surrogate (a cut character)") from None
    return body


def check_chat_request(body: dict[str, Any]) -> None:
    """Raise `BadRequest` naming the first field that breaks the chat-completions schema."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty array of message objects")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise BadRequest(f"messages[{i}] must be an object with a string 'role'")
    for name, (kind, valid) in FIELDS.items():
        value = body.get(name)
        if value is not None and not valid(value):
            raise BadRequest(f"{name!r} must be {kind}, not {type(value).__name__}")


def split_extra(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(schema fields, the rest): the rest travels to the model in `extra_body`."""
    known = {k: v for k, v in body.items() if k in FIELDS}
    extra = {k: v for k, v in body.items() if k not in FIELDS}
    return known, extra
