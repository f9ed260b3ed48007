"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) via the `openai` SDK.

Retries with exponential backoff on 429, 5xx, timeouts and connection errors are the SDK's own
(`max_retries`); what is still failing after them becomes a named AgenTracer error that says
what to do.
"""

from __future__ import annotations

import os
import time

import openai

from agentracer.errors import LLMError, ModelNotFoundError, ModelUnavailableError
from agentracer.llm.backend import context_error
from agentracer.llm.types import ChatRequest, ChatResponse, ConnectionSettings

PROVIDER = "openai"
# Local servers accept any key; the SDK refuses to start without one.
PLACEHOLDER_KEY = "sk-no-key-required"


class OpenAIBackend:
    """Chat completions against `base_url` (else `$OPENAI_BASE_URL`, else api.openai.com)."""

    supports_grammar = True  # sent as llama.cpp's `grammar` field, and only when asked to

    def __init__(self, model: str, connection: ConnectionSettings | None = None) -> None:
        connection = connection or ConnectionSettings()
        self.model = model
        self.name = f"{PROVIDER}/{model}"
        self.context_window: int | None = connection.extra.get("context_window")
        self.base_url = connection.base_url or os.environ.get("OPENAI_BASE_URL") or None
        api_key = connection.api_key or os.environ.get("OPENAI_API_KEY")
        if not api_key and self.base_url is None:
            raise ModelUnavailableError(
                f"no API key for {self.name}: set OPENAI_API_KEY, or point OPENAI_BASE_URL "
                "(or --base-url) at a local OpenAI-compatible server"
            )
        self.client = openai.AsyncOpenAI(
            api_key=api_key or PLACEHOLDER_KEY,
            base_url=self.base_url,
            timeout=connection.timeout,
            max_retries=connection.max_retries,
        )
        self._where = self.base_url or "api.openai.com"
        self._retries = connection.max_retries

    async def complete(self, request: ChatRequest) -> ChatResponse:
        extra_body = {"grammar": request.grammar} if request.grammar else None
        started = time.perf_counter()
        try:
            completion = await self.client.chat.completions.create(
                model=self.model,
                messages=request.messages,  # type: ignore[arg-type]
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                seed=request.seed,
                extra_body=extra_body,
            )
        except openai.APIError as error:
            raise self._translate(error) from None
        seconds = time.perf_counter() - started
        if not completion.choices:
            raise LLMError(f"{self.name} at {self._where} returned no choices")
        choice = completion.choices[0]
        usage = completion.usage
        return ChatResponse(
            text=choice.message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            seconds=seconds,
            finish_reason=choice.finish_reason,
        )

    def _translate(self, error: openai.APIError) -> LLMError:
        where, tries = self._where, f"after {self._retries} retries"
        if isinstance(error, openai.APITimeoutError):
            return ModelUnavailableError(
                f"{self.name} at {where} timed out {tries}; raise --timeout"
            )
        if isinstance(error, openai.APIConnectionError):
            return ModelUnavailableError(
                f"cannot reach {where} {tries}: is the server running? (check --base-url / OPENAI_BASE_URL)"
            )
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelUnavailableError(
                f"{where} rejected the API key (HTTP {error.status_code}): set OPENAI_API_KEY or --api-key"
            )
        if isinstance(error, openai.NotFoundError):
            return ModelNotFoundError(f"model {self.model!r} not found at {where} (HTTP 404)")
        if isinstance(error, openai.RateLimitError):
            return ModelUnavailableError(
                f"{where} kept rate-limiting (HTTP 429) {tries}: lower --concurrency or try later"
            )
        if isinstance(error, openai.InternalServerError):
            return ModelUnavailableError(f"{where} kept failing (HTTP {error.status_code}) {tries}")
        if isinstance(error, openai.BadRequestError):
            found = context_error(str(error.message), error.body)
            if found is not None:
                return found
        status = getattr(error, "status_code", None)
        return LLMError(f"{where} rejected the request (HTTP {status}): {error.message}")

    async def aclose(self) -> None:
        await self.client.close()
