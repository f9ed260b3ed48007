"""An embedded llama.cpp model, run in-process with xllamacpp: no server to start, no network.

xllamacpp's `Server` answers chat completions in-process and, as a side effect, also listens on
a loopback port with an OpenAI-compatible API (`base_url`), which the tests and benchmarks use
as a real local server.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path
from typing import Any

from agentracer.errors import LLMError, ModelNotFoundError
from agentracer.llm.backend import cached_prompt_tokens, context_error, file_identity
from agentracer.llm.types import ChatRequest, ChatResponse

PROVIDER = "local"
DEFAULT_CONTEXT = 8192


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
        server = await asyncio.to_thread(self.server)
        started = time.perf_counter()
        result = await asyncio.to_thread(server.handle_chat_completions, body)
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

    async def aclose(self) -> None:
        with self._lock:
            self._server = None  # xllamacpp stops the server when it is collected
