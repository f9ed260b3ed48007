"""An embedded llama.cpp model, run in-process with xllamacpp: no server to start, no network.

xllamacpp's `Server` answers chat completions in-process and, as a side effect, also listens on
a loopback port with an OpenAI-compatible API (`base_url`), which the tests and benchmarks use
as a real local server.

Native calls run in daemon threads that the event loop never waits for, and generation is
streamed so that it can be told to stop: Ctrl-C returns at once instead of after every queued
generation has finished (`asyncio.to_thread` joins its threads when the loop closes). A call
still inside native code then (prompt processing cannot be stopped) is abandoned; the CLI
leaves with `os._exit` when `native_calls_running()` says some are.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from agentracer.errors import LLMError, ModelNotFoundError
from agentracer.llm.backend import cached_prompt_tokens, context_error, file_identity
from agentracer.llm.types import ChatRequest, ChatResponse

PROVIDER = "local"
DEFAULT_CONTEXT = 8192
THREAD_NAME = "agentracer-embedded"
T = TypeVar("T")


def native_calls_running() -> int:
    """How many native model calls are still running (abandoned ones included)."""
    return sum(thread.name == THREAD_NAME and thread.is_alive() for thread in threading.enumerate())


async def in_daemon_thread(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` in a daemon thread; cancelling the await abandons the call at once
    (unlike `asyncio.to_thread`, whose pool the closing event loop waits for)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not future.done():
            outcome()

    def run() -> None:
        outcome: Callable[[], None]
        try:
            outcome = functools.partial(future.set_result, function(*args))
        except BaseException as error:  # handed to the awaiting coroutine
            outcome = functools.partial(future.set_exception, error)
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle, outcome)

    threading.Thread(target=run, name=THREAD_NAME, daemon=True).start()
    return await future


class EmbeddedBackend:
    """A GGUF model loaded by xllamacpp on first use. Decoding honours GBNF grammars."""

    supports_grammar = True

    def __init__(
        self,
        model_path: Path,
        *,
        name: str,
        context_window: int = DEFAULT_CONTEXT,
        parallel: int = 1,
        threads: int | None = None,
        cache_prompt: bool = True,
    ) -> None:
        if not model_path.is_file():
            raise ModelNotFoundError(f"no model file at {model_path}")
        self.model_path = model_path
        self.name = f"{PROVIDER}/{name}"
        self.identity = file_identity(model_path)
        self.context_window: int | None = context_window
        self.parallel = parallel
        self.threads = threads or os.cpu_count() or 1
        # llama.cpp keeps each slot's last prompt in the KV cache and reads only what follows
        # the longest shared prefix (the tracers' prompts share the whole log; the saving is
        # reported as `cached_prompt_tokens`); its host-memory prompt cache (`cache_ram_mib`,
        # on by default) keeps earlier prompts too, for the next verdict on the same run.
        self.cache_prompt = cache_prompt
        self._server: Any = None
        self._lock = threading.Lock()

    def server(self) -> Any:
        """The loaded xllamacpp server (loaded once, thread-safely)."""
        with self._lock:
            if self._server is None:
                import xllamacpp

                params = xllamacpp.CommonParams()
                params.model.path = str(self.model_path)
                # Each parallel slot gets the full window.
                params.n_ctx = (self.context_window or DEFAULT_CONTEXT) * self.parallel
                params.n_parallel = self.parallel
                params.cpuparams.n_threads = self.threads
                params.cpuparams_batch.n_threads = self.threads
                params.warmup = False
                params.cache_prompt = self.cache_prompt
                params.verbosity = -1  # llama.cpp logs to stderr otherwise
                try:
                    self._server = xllamacpp.Server(params)
                except Exception as error:  # xllamacpp raises RuntimeError with llama.cpp's text
                    raise ModelNotFoundError(f"could not load {self.model_path}: {error}") from None
            return self._server

    @property
    def base_url(self) -> str:
        """The loopback OpenAI-compatible endpoint serving this model (`.../v1`)."""
        return f"{self.server().listening_address}/v1"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        body: dict[str, Any] = {
            "messages": request.messages,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.grammar:
            body["grammar"] = request.grammar
        server = await in_daemon_thread(self.server)
        started = time.perf_counter()
        result = await self._generate(server, body)
        seconds = time.perf_counter() - started
        if not isinstance(result, dict) or "error" in result:
            error = result.get("error", {}) if isinstance(result, dict) else {}
            message = str(error.get("message", result)) if isinstance(error, dict) else str(error)
            raise context_error(message, result) or LLMError(f"{self.name} failed: {message}")
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        return ChatResponse(
            text=choice["message"].get("content") or "",
            prompt_tokens=int(usage.get("prompt_tokens", 0)),
            cached_prompt_tokens=cached_prompt_tokens(result),
            completion_tokens=int(usage.get("completion_tokens", 0)),
            seconds=seconds,
            finish_reason=choice.get("finish_reason"),
        )

    async def _generate(self, server: Any, body: dict[str, Any]) -> Any:
        """The completion, streamed so that a cancelled call stops generating at the next token;
        reassembled into the non-streamed response shape."""
        stop = threading.Event()
        chunks: list[Any] = []

        def on_chunk(chunk: Any) -> bool:
            chunks.append(chunk)
            return stop.is_set()  # True asks llama.cpp to stop this generation

        streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
        try:
            await in_daemon_thread(server.handle_chat_completions, streamed, on_chunk)
        except asyncio.CancelledError:
            stop.set()
            raise
        return assemble(chunks)

    async def aclose(self) -> None:
        with self._lock:
            self._server = None  # xllamacpp stops the server when it is collected


def assemble(chunks: list[Any]) -> dict[str, Any]:
    """A chat completion (`choices[0].message.content`, `finish_reason`, `usage`) from its
    streamed chunks; an error chunk is returned as it is."""
    text: list[str] = []
    finish_reason = None
    usage: dict[str, Any] = {}
    for chunk in chunks:
        if not isinstance(chunk, dict) or "error" in chunk:
            return chunk if isinstance(chunk, dict) else {"error": {"message": str(chunk)}}
        for choice in chunk.get("choices") or []:
            text.append((choice.get("delta") or {}).get("content") or "")
            finish_reason = choice.get("finish_reason") or finish_reason
        usage = chunk.get("usage") or usage
    if not chunks:
        return {"error": {"message": "the model returned nothing"}}
    return {
        "choices": [{"message": {"role": "assistant", "content": "".join(text)},
                     "finish_reason": finish_reason}],
        "usage": usage,
    }  # fmt: skip
