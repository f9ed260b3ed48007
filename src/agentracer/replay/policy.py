"""What the proxy answers to call number i: live from the model (recording), or, on replay,
the recorded answer before T, the substitute at T, and live answers after T."""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from agentracer.errors import AgenTracerError
from agentracer.formats.recording import ModelCall, Origin, Recording
from agentracer.replay.upstream import DELIVERY_FIELDS, Upstream, without_delivery


class DivergenceError(AgenTracerError):
    """On replay, the program asked a frozen call something other than what was recorded."""


class Policy(Protocol):
    def respond(self, index: int, body: dict[str, Any]) -> tuple[dict[str, Any], Origin, bool]:
        """(response, where it came from, whether the request diverged from the recording)."""
        ...


class LivePolicy:
    """Recording: every call goes to the model."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    def respond(self, index: int, body: dict[str, Any]) -> tuple[dict[str, Any], Origin, bool]:
        return self.upstream.complete(body), "live", False


def canonical(body: dict[str, Any]) -> str:
    """The request as compared on replay: everything but the delivery fields."""
    return json.dumps(
        without_delivery(body),
        sort_keys=True,
        ensure_ascii=False,
    )


def describe_divergence(index: int, body: dict[str, Any], recorded: ModelCall) -> str:
    """One line saying where call `index` first differs from the recording."""
    old, new = recorded.request, body
    for key in sorted(set(old) | set(new)):
        if key in DELIVERY_FIELDS or old.get(key) == new.get(key):
            continue
        if key == "messages" and isinstance(old.get(key), list) and isinstance(new.get(key), list):
            before, after = old[key], new[key]
            for i in range(max(len(before), len(after))):
                a = before[i] if i < len(before) else None
                b = after[i] if i < len(after) else None
                if a != b:
                    snippet = json.dumps(b, ensure_ascii=False)[:120] if b else "nothing"
                    return f"call {index} ({recorded.agent}): message {i} differs; now {snippet}"
        return f"call {index} ({recorded.agent}): field {key!r} differs"
    return f"call {index} ({recorded.agent}) differs"


def substitute(
    response: dict[str, Any], content: str, tool_calls: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """`response` with the assistant's message replaced by `content` (and `tool_calls`, if any)."""
    choice = dict((response.get("choices") or [{}])[0])
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    choice["message"] = message
    choice["finish_reason"] = "tool_calls" if tool_calls else "stop"
    choice.setdefault("index", 0)
    return {**response, "choices": [choice]}


class ReplayPolicy:
    """Calls before `at` are served from `source` (each request checked against the recorded
    one), call `at` returns `content`, later calls go live. On a divergence, `fail` refuses the
    call; `live` answers it and every later call from the model."""

    def __init__(
        self,
        source: Recording,
        at: int,
        content: str,
        upstream: Upstream,
        on_divergence: Literal["fail", "live"] = "fail",
        tool_calls: list[dict[str, Any]] | None = None,
    ) -> None:
        calls = source.calls()
        if not 0 <= at < len(calls):
            raise AgenTracerError(
                f"--at {at} is outside the recording's model calls (0..{len(calls) - 1})"
            )
        self.calls, self.at, self.content, self.tool_calls = calls, at, content, tool_calls
        self.upstream = upstream
        self.on_divergence = on_divergence
        self.divergence: str | None = None

    def respond(self, index: int, body: dict[str, Any]) -> tuple[dict[str, Any], Origin, bool]:
        if index <= self.at and self.divergence is None:
            recorded = self.calls[index]
            if canonical(body) != canonical(recorded.request):
                self.divergence = describe_divergence(index, body, recorded)
                if self.on_divergence == "fail":
                    raise DivergenceError(self.divergence)
                return self.upstream.complete(body), "live", True
            if index < self.at:
                return recorded.response, "recorded", False
            return (
                substitute(recorded.response, self.content, self.tool_calls),
                "substituted",
                False,
            )
        return self.upstream.complete(body), "live", False
