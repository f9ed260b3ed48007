"""The transport interface every model provider implements."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from agentracer.errors import ContextLengthError
from agentracer.llm.types import ChatRequest, ChatResponse


class Backend(Protocol):
    """Sends one chat request to a model. Retries and caching live above it, in `ChatModel`.

    `context_window` is the model's window in tokens when known (None: unknown, rely on the
    server's context-length error). `supports_grammar` says whether `ChatRequest.grammar` is
    honoured. `identity` names what answers (an endpoint's base URL, a model file's path,
    size and modification time): it is part of the cache key, so two servers or two checkpoints
    behind one model name never share cached answers.
    """

    name: str
    identity: str
    context_window: int | None
    supports_grammar: bool

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None: ...


_OPENAI_STYLE = re.compile(
    r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens", re.S
)
_LLAMA_CPP_STYLE = re.compile(
    r"request \((\d+) tokens\) exceeds the available context size \((\d+) tokens\)"
)


def context_error(message: str, body: object = None) -> ContextLengthError | None:
    """Recognise a context-length rejection from OpenAI, vLLM or llama.cpp servers.

    Returns the error with the prompt size and window when the server said them, or None when
    `message`/`body` is about something else.
    """
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("type") == "exceed_context_size_error":
            return ContextLengthError(
                str(error.get("message", message)),
                prompt_tokens=_int(error.get("n_prompt_tokens")),
                context_window=_int(error.get("n_ctx")),
            )
    if match := _OPENAI_STYLE.search(message):
        return ContextLengthError(
            message, context_window=int(match.group(1)), prompt_tokens=int(match.group(2))
        )
    if match := _LLAMA_CPP_STYLE.search(message):
        return ContextLengthError(
            message, prompt_tokens=int(match.group(1)), context_window=int(match.group(2))
        )
    lowered = message.lower()
    if "context length" in lowered or "context window" in lowered or "too many tokens" in lowered:
        return ContextLengthError(message)
    return None


def cached_prompt_tokens(body: object) -> int:
    """How many prompt tokens a chat completion says its server read from the prompt cache, in
    whichever way the server says it: `usage.prompt_tokens_details.cached_tokens` (OpenAI, vLLM,
    SGLang, llama.cpp), `usage.prompt_cache_hit_tokens` (DeepSeek), llama.cpp's
    `timings.cache_n` or its older `tokens_cached`. 0 when it says nothing."""
    if not isinstance(body, dict):
        return 0
    usage = body.get("usage")
    if not isinstance(usage, dict):
        usage = {}
    details = usage.get("prompt_tokens_details")
    timings = body.get("timings")
    for value in (
        details.get("cached_tokens") if isinstance(details, dict) else None,
        usage.get("prompt_cache_hit_tokens"),
        timings.get("cache_n") if isinstance(timings, dict) else None,
        body.get("tokens_cached"),
    ):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return 0


def file_identity(path: Path) -> str:
    """A model file's or directory's identity for the cache: its path, and the size and
    modification time of it (for a directory: of every file directly in it), so a retrained
    checkpoint at the same path is not served the old one's answers."""
    path = path.expanduser()
    try:
        files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
        parts = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
    except OSError:
        parts = []
    return f"file:{path.resolve()}|" + ",".join(parts)


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None
