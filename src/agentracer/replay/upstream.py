"""The real model behind the proxy: any model of the LLM layer, called with the program's own
request body (tools, response formats and all), synchronously from the proxy's threads."""

from __future__ import annotations

import os
from typing import Any, Protocol

import openai

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

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        """A chat.completion (as JSON) for the request `body`; raises `LLMError` on failure."""
        ...


class OpenAIUpstream:
    """An OpenAI-compatible endpoint; the program's `model` is replaced by ours."""

    def __init__(self, model: str, connection: ConnectionSettings) -> None:
        self.name = f"openai/{model}"
        self.model = model
        base_url = connection.base_url or os.environ.get("OPENAI_BASE_URL")
        api_key = connection.api_key or os.environ.get("OPENAI_API_KEY") or PLACEHOLDER_KEY
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key,
            timeout=connection.timeout,
            max_retries=connection.max_retries,
        )

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        request = without_delivery(body)
        request["model"] = self.model
        try:
            return self.client.chat.completions.create(**request).model_dump(exclude_none=True)
        except openai.APIError as error:
            raise LLMError(f"upstream {self.name} failed: {error.message}") from None


class EmbeddedUpstream:
    """An embedded llama.cpp model answering the raw request in-process."""

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
