"""Plain data for the LLM layer: one chat request, one response, connection settings."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ChatRequest(BaseModel):
    """One chat completion. `grammar` (GBNF) constrains decoding where the backend supports it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, str]]
    temperature: float = 0.0
    max_tokens: int = Field(default=512, ge=1)
    seed: int | None = 0
    grammar: str | None = None

    def cache_key(self, model: str, endpoint: str = "") -> str:
        """Digest of everything that determines the answer: model name, the endpoint or model
        file that serves it (`endpoint`, see `Backend.identity`), messages, sampling.

        Text is encoded with `surrogatepass`, so a lone surrogate (a cut emoji) in a prompt
        gives a key instead of an error."""
        payload = {"model": model, "endpoint": endpoint, **self.model_dump(mode="json")}
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class ChatResponse(BaseModel):
    """The model's text and what it cost. `cached` responses cost nothing this time."""

    model_config = ConfigDict(extra="forbid")

    text: str
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0  # of prompt_tokens, read from the server's prompt cache
    completion_tokens: int = 0
    seconds: float = 0.0
    finish_reason: str | None = None
    cached: bool = False


class ConnectionSettings(BaseModel):
    """How to reach and pace a model. None of these change what a correct answer is, so they
    are not part of an evaluation run's identity."""

    model_config = ConfigDict(extra="forbid")

    base_url: str | None = None
    api_key: str | None = Field(default=None, repr=False, exclude=True)
    timeout: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    concurrency: int = Field(default=4, ge=1)
    cache_dir: str | None = None
    use_cache: bool = True
    constrain: bool | None = Field(
        default=None,
        description="send grammars for constrained decoding (default: local models only)",
    )
    extra: dict[str, Any] = Field(default_factory=dict)
