"""Replies for the scripted loopback server that the trace generators (make_*.py) run against.

Each generator runs a real framework against `tests.llm.loopback.ScriptedServer`, with a fixed
script of chat-completion replies, so the traces it writes are real and reproducible.
"""

from __future__ import annotations

import json
from typing import Any

from tests.llm.loopback import Reply, completion


def text(content: str) -> Reply:
    """A plain assistant answer."""
    return Reply(body=completion(content))


def tool_call(name: str, arguments: dict[str, Any], call_id: str) -> Reply:
    """An assistant turn that calls one tool."""
    body = completion("")
    message = body["choices"][0]["message"]
    message["content"] = None
    message["tool_calls"] = [
        {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)},
        }
    ]
    body["choices"][0]["finish_reason"] = "tool_calls"
    return Reply(body=body)
