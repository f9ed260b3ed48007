"""The real model behind the proxy: any model of the LLM layer, called with the program's own
request body (tools, response formats and all), synchronously from the proxy's threads."""

from __future__ import annotations

import os
from typing import Any, Protocol

import openai
from openai.types.chat import ChatCompletion

from agentracer.credentials import secret
from agentracer.errors import LLMError, ModelNotFoundError
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.llm.openai_compat import PLACEHOLDER_KEY
from agentracer.llm.types import ConnectionSettings

# Fields that change how an answer is delivered, not what is asked: the proxy streams itself.
DELIVERY_FIELDS = ("stream", "stream_options")


def without_delivery(body: dict[str, Any]) -> dict[str, Any]:
    """The request minus the delivery fields."""
    return {k: v for k, v in body.items() if k not in DELIVERY_FIELDS}


class Upstream(Protocol):
    name: str
    secrets: tuple[str, ...]  # credentials it holds, never to be shown to the recorded program

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat.completion (as JSON) for the request `body`; raises `LLMError` on failure."""
        ...


class OpenAIUpstream:
    """An OpenAI-compatible endpoint; the program's `model` is replaced by ours."""

    def __init__(self, model: str, connection: ConnectionSettings) -> None:
        self.name = f"openai/{model}"
        self.model = model
        base_url = connection.base_url or os.environ.get("OPENAI_BASE_URL")
        self.base_url = base_url  # names the endpoint (scale.limiter shares limits by it)
        api_key = connection.api_key or secret("OPENAI_API_KEY") or PLACEHOLDER_KEY
        # The real key: the recorder scrubs it from the recorded program's environment.
        self.secrets: tuple[str, ...] = (api_key,) if api_key != PLACEHOLDER_KEY else ()
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=connection.timeout,
            max_retries=connection.max_retries,
        )

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        # Every field but model and messages travels in the body as sent (`extra_body`), so an
        # unknown or server-specific field is forwarded, never an SDK keyword argument.
        request = without_delivery(body)
        request.pop("model", None)
        messages = request.pop("messages")
        try:
            completion = self.client.chat.completions.create(
                model=self.model, messages=messages, extra_body=request
            )
        except openai.APIError as error:
            raise LLMError(f"upstream {self.name} failed: {error.message}") from None
        except Exception as error:  # an answer the SDK could not read (HTML, invalid JSON)
            raise LLMError(f"upstream {self.name} gave an unreadable answer ({error})") from None
        if not isinstance(completion, ChatCompletion):
            raise LLMError(f"upstream {self.name} answered something that is not a chat completion")
        return completion.model_dump(exclude_none=True)


class EmbeddedUpstream:
    """An embedded llama.cpp model answering the raw request in-process."""

    secrets: tuple[str, ...] = ()

    def __init__(self, backend: EmbeddedBackend) -> None:
        self.backend = backend
        self.name = backend.name

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        request = without_delivery(body)
        result = self.backend.server().handle_chat_completions(request)
        if not isinstance(result, dict) or "error" in result:
            error = result.get("error") if isinstance(result, dict) else result
            raise LLMError(f"upstream {self.name} failed: {error}")
        result["model"] = self.name
        return result


def make_upstream(model: str, connection: ConnectionSettings | None = None) -> Upstream:
    """The upstream for a `provider/model` name of the LLM layer."""
    connection = connection or ConnectionSettings()
    provider, _, spec = model.partition("/")
    if provider == "openai" and spec:
        return OpenAIUpstream(spec, connection)
    if provider == "local" and spec:
        from agentracer.llm.client import get_model

        backend = get_model(model, connection).backend
        assert isinstance(backend, EmbeddedBackend)
        return EmbeddedUpstream(backend)
    raise ModelNotFoundError(f"model {model!r} is not named openai/NAME or local/NAME")
