"""Which agent made a model call, from what the request carries.

In order: an `X-AgenTracer-Agent` header; a `name` on the system message; the request's `user`
field; the user's own mapping from system-prompt patterns to agent names; else the first line
of the system prompt (shortened). Frameworks differ in which of these they set; all are
plain OpenAI request fields, so no framework needs changing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from agentracer.formats.recording import AgentSource

AGENT_HEADER = "X-AgenTracer-Agent"
MAX_NAME = 60


def system_prompt(body: Mapping[str, Any]) -> str:
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
            return str(content or "")
    return ""


def identify_agent(
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    patterns: Sequence[tuple[re.Pattern[str], str]] = (),
) -> tuple[str, AgentSource]:
    """(agent name, where it was found) for one request."""
    for key, value in headers.items():
        if key.lower() == AGENT_HEADER.lower() and value.strip():
            return value.strip(), "header"
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") in ("system", "developer"):
            if str(message.get("name") or "").strip():
                return str(message["name"]).strip(), "name"
            break
    if str(body.get("user") or "").strip():
        return str(body["user"]).strip(), "user"
    prompt = system_prompt(body)
    for pattern, agent in patterns:
        if pattern.search(prompt):
            return agent, "pattern"
    first_line = next((line.strip() for line in prompt.splitlines() if line.strip()), "")
    if first_line:
        return first_line[:MAX_NAME], "system-prompt"
    return "unknown", "unknown"


def parse_patterns(specs: Sequence[str]) -> list[tuple[re.Pattern[str], str]]:
    """`REGEX=AGENT` strings (from `--agent-pattern`) as compiled pairs."""
    pairs = []
    for spec in specs:
        regex, sep, agent = spec.rpartition("=")
        if not sep or not regex or not agent:
            raise ValueError(f"agent pattern {spec!r} is not REGEX=AGENT")
        pairs.append((re.compile(regex), agent))
    return pairs
