"""Any OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server) via the `openai` SDK.

Retries with exponential backoff on 429, 5xx, timeouts and connection errors are the SDK's own
(`max_retries`); what is still failing after them becomes a named AgenTracer error that says
what to do.
"""

from __future__ import annotations

import os
import time

import openai
from openai.types.chat import ChatCompletion

from agentracer.credentials import secret
from agentracer.errors import LLMError, ModelNotFoundError, ModelUnavailableError
from agentracer.llm.backend import cached_prompt_tokens, context_error
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
        api_key = connection.api_key or secret("OPENAI_API_KEY")
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
        # Which server answers: part of the cache key, so two endpoints serving the same model
        # name never share answers.
        self.identity = f"endpoint:{(self.base_url or 'https://api.openai.com/v1').rstrip('/')}"

    async def complete(self, request: ChatRequest) -> ChatResponse:
        extra_body = {"grammar": request.grammar} if request.grammar else None
        started = time.perf_counter()
        try:
            completion = await self.client.chat.completions.create(
                model=self.model,
                messages=_sendable(request.messages),  # type: ignore[arg-type]
                temperature=request.temperature,
                max_tokens=request.max_tokens,
                seed=request.seed,
                extra_body=extra_body,
            )
        except openai.APIError as error:
            raise self._translate(error) from None
        except Exception as error:  # a broken answer (HTML page, invalid JSON, a torn body)
            raise self._broken(error) from None
        seconds = time.perf_counter() - started
        return self._response(completion, seconds)

    def _response(self, completion: object, seconds: float) -> ChatResponse:
        """The answer as a `ChatResponse`, or an `LLMError` saying what was wrong with it."""
        where = f"{self.name} at {self._where}"
        if not isinstance(completion, ChatCompletion):
            kind = type(completion).__name__
            raise LLMError(f"{where} answered something that is not a chat completion ({kind})")
        if not completion.choices:
            raise LLMError(f"{where} returned no choices")
        choice = completion.choices[0]
        content = getattr(choice.message, "content", None)
        if content is not None and not isinstance(content, str):
            raise LLMError(
                f"{where} answered a message whose content is a {type(content).__name__}, not text"
            )
        usage = completion.usage
        return ChatResponse(
            text=content or "",
            prompt_tokens=_count(getattr(usage, "prompt_tokens", 0)),
            # the SDK keeps fields it does not know (llama.cpp's timings), so read the dump
            cached_prompt_tokens=cached_prompt_tokens(completion.model_dump()),
            completion_tokens=_count(getattr(usage, "completion_tokens", 0)),
            seconds=seconds,
            finish_reason=choice.finish_reason if isinstance(choice.finish_reason, str) else None,
        )

    def _broken(self, error: Exception) -> LLMError:
        detail = " ".join(str(error).split())[:200] or type(error).__name__
        return LLMError(
            f"{self.name} at {self._where} gave an answer that cannot be read "
            f"({type(error).__name__}: {detail})"
        )

    def _translate(self, error: openai.APIError) -> LLMError:
        where, tries = self._where, f"after {self._retries} retries"
        if isinstance(error, openai.APITimeoutError):
            return ModelUnavailableError(
                f"{self.name} at {where} timed out {tries}; raise --timeout"
            )
        if isinstance(error, openai.APIConnectionError):
            if _broke_off(error):
                return ModelUnavailableError(
                    f"{where} closed the connection before its answer was complete {tries} "
                    f"({type(error.__cause__).__name__}): the server may have crashed or "
                    "restarted; check its log and run again"
                )
            return ModelUnavailableError(
                f"cannot reach {where} {tries}: is the server running? (check --base-url / OPENAI_BASE_URL)"
            )
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return ModelUnavailableError(
                f"{where} rejected the API key (HTTP {error.status_code}): set OPENAI_API_KEY to a key it accepts"
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


# A connection that was made and then broke (the server died mid-answer) is not "cannot reach".
_BROKEN_OFF = ("RemoteProtocolError", "ReadError", "ProtocolError")


def _broke_off(error: openai.APIConnectionError) -> bool:
    cause = error.__cause__
    return cause is not None and type(cause).__name__ in _BROKEN_OFF


def _sendable(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """Messages that can be sent as UTF-8: a lone surrogate (a cut emoji) becomes U+FFFD."""
    return [
        {
            key: text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            for key, text in m.items()
        }
        for m in messages
    ]


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
