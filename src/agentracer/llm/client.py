"""`ChatModel`: one interface over every backend, with caching, bounded concurrency and usage.

Models are named `provider/model`:

- `openai/<model>`: any OpenAI-compatible endpoint (`OPENAI_BASE_URL`, `OPENAI_API_KEY`);
- `local/<name>` or `local/<path.gguf>`: an embedded llama.cpp model, in-process;
- `hf/<path>`: a local transformers model directory (e.g. a trained checkpoint), in-process.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from agentracer.errors import InvalidAnswerError, ModelNotFoundError
from agentracer.llm.backend import Backend
from agentracer.llm.cache import ResponseCache
from agentracer.llm.types import ChatRequest, ChatResponse, ConnectionSettings
from agentracer.trajectory import Usage

PROVIDERS = ("openai", "local", "hf")


class ChatModel:
    """A backend plus the response cache, a concurrency bound and running usage totals.

    A cached answer is returned with `cached=True`; its token counts are those of the original
    call, so a method's cost reads the same whether or not its answers came from the cache.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache: ResponseCache | None = None,
        concurrency: int = 4,
        constrain: bool = False,
    ) -> None:
        self.backend = backend
        self.name = backend.name
        self.cache = cache
        self.constrain = constrain and backend.supports_grammar
        self.usage = Usage()
        self.concurrency = concurrency
        self._limits: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}

    @property
    def context_window(self) -> int | None:
        return self.backend.context_window

    async def chat(self, request: ChatRequest) -> ChatResponse:
        if not self.constrain and request.grammar is not None:
            request = request.model_copy(update={"grammar": None})
        key = request.cache_key(self.name, getattr(self.backend, "identity", ""))
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            hit = hit.model_copy(update={"cached": True})
            self.usage = self.usage + usage_of(hit)
            return hit
        async with self._limit():
            response = await self.backend.complete(request)
        check_text(response.text, self.name)
        if self.cache is not None and usable(response):
            self.cache.put(key, response)
        self.usage = self.usage + usage_of(response)
        return response

    def _limit(self) -> asyncio.Semaphore:
        # A semaphore belongs to one event loop; callers may run several loops in turn.
        loop = asyncio.get_running_loop()
        if loop not in self._limits:
            self._limits = {loop: asyncio.Semaphore(self.concurrency)}
        return self._limits[loop]

    async def aclose(self) -> None:
        await self.backend.aclose()


def check_text(text: str, model: str) -> None:
    """Refuse an answer holding a lone surrogate (an unpaired `\\ud800` escape in the server's
    JSON): no file or terminal takes it, so it would fail later, as a traceback."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise InvalidAnswerError(
            f"{model} answered text that is not valid Unicode (a lone surrogate U+{code:04X} at "
            f"character {error.start})"
        ) from None


def usable(response: ChatResponse) -> bool:
    """Whether an answer may be cached: it holds text. A null or empty answer (e.g. from a
    failing server) is asked again next time instead of being served from the cache."""
    return bool(response.text.strip())


def usage_of(response: ChatResponse) -> Usage:
    """What one response cost, for a verdict's usage."""
    return Usage(
        calls=1,
        cached_calls=int(response.cached),
        prompt_tokens=response.prompt_tokens,
        cached_prompt_tokens=response.cached_prompt_tokens,
        completion_tokens=response.completion_tokens,
        seconds=response.seconds,
    )


def _local_backend(spec: str, connection: ConnectionSettings) -> Backend:
    from agentracer.llm.embedded import EmbeddedBackend
    from agentracer.llm.models import CATALOGUE, local_model_file

    parallel = int(connection.extra.get("parallel", 1))
    # CPU threads (default: every core). On a machine shared with other jobs, 1 thread is far
    # faster: llama.cpp's threads wait for each other at every layer.
    threads_set = connection.extra.get("threads") or os.environ.get("AGENTRACER_THREADS")
    threads = int(threads_set) if threads_set else None
    path = local_model_file(spec)
    if spec in CATALOGUE:
        name, window = spec, CATALOGUE[spec].context_window
    else:
        name, window = path.name, int(connection.extra.get("context_window", 8192))
    return EmbeddedBackend(
        path, name=name, context_window=window, parallel=parallel, threads=threads
    )


def get_model(name: str, connection: ConnectionSettings | None = None) -> ChatModel:
    """Build the `ChatModel` named `provider/model` (see the module docstring)."""
    connection = connection or ConnectionSettings()
    provider, _, spec = name.partition("/")
    if not spec or provider not in PROVIDERS:
        raise ModelNotFoundError(
            f"model {name!r} is not named provider/model; providers: {', '.join(PROVIDERS)} "
            "(e.g. openai/gpt-4o-mini, local/smollm2-135m, local/path/to/model.gguf, hf/path/to/checkpoint)"
        )
    backend: Backend
    if provider == "openai":
        from agentracer.llm.openai_compat import OpenAIBackend

        backend = OpenAIBackend(spec, connection)
    elif provider == "hf":
        from agentracer.llm.hf import HFBackend

        backend = HFBackend(Path(spec).expanduser())
    else:
        backend = _local_backend(spec, connection)
    constrain = connection.constrain if connection.constrain is not None else provider == "local"
    cache = None
    if connection.use_cache:
        cache = ResponseCache(Path(connection.cache_dir) if connection.cache_dir else None)
    return ChatModel(backend, cache=cache, concurrency=connection.concurrency, constrain=constrain)


MODEL_ENV_VAR = "AGENTRACER_MODEL"


def default_model_name(connection: ConnectionSettings | None = None) -> str:
    """The model used when none is named: `$AGENTRACER_MODEL`, else the first model served at
    `--base-url`/`$OPENAI_BASE_URL` when one is set, else the embedded default model."""
    import os

    from agentracer.llm.models import DEFAULT_EMBEDDED

    if os.environ.get(MODEL_ENV_VAR):
        return os.environ[MODEL_ENV_VAR]
    base_url = (connection.base_url if connection else None) or os.environ.get("OPENAI_BASE_URL")
    if base_url:
        return f"openai/{_first_served_model(base_url, connection)}"
    return f"local/{DEFAULT_EMBEDDED}"


def _first_served_model(base_url: str, connection: ConnectionSettings | None) -> str:
    import openai

    from agentracer.credentials import secret
    from agentracer.errors import ModelUnavailableError

    api_key = (connection.api_key if connection else None) or secret("OPENAI_API_KEY")
    from agentracer.llm.openai_compat import PLACEHOLDER_KEY

    client = openai.OpenAI(
        base_url=base_url, api_key=api_key or PLACEHOLDER_KEY, timeout=15, max_retries=1
    )
    try:
        served = [model.id for model in client.models.list()]
    except openai.APIError as error:
        raise ModelUnavailableError(
            f"OPENAI_BASE_URL is {base_url}, but listing its models failed ({error.__class__.__name__}); "
            "name one with --model openai/NAME"
        ) from None
    finally:
        client.close()
    if not served:
        raise ModelUnavailableError(
            f"{base_url} serves no models; name one with --model openai/NAME"
        )
    return served[0]
