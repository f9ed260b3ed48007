"""ChatModel control flow (cache, usage, concurrency, names) with a counting fake backend."""

import asyncio
import os
from pathlib import Path

import pytest

from agentracer.errors import ModelNotFoundError
from agentracer.llm import ChatModel, ChatRequest, ChatResponse, get_model
from agentracer.llm.cache import ResponseCache

REQUEST = ChatRequest(messages=[{"role": "user", "content": "hi"}])


class CountingBackend:
    name = "fake/counting"
    context_window = None
    supports_grammar = False

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self.in_flight = self.peak = 0

    async def complete(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.01)
        self.in_flight -= 1
        return ChatResponse(
            text=f"answer {len(self.requests)}", prompt_tokens=7, completion_tokens=3, seconds=0.01
        )

    async def aclose(self) -> None:
        pass


def test_cached_answers_are_free_and_marked(tmp_path: Path) -> None:
    backend = CountingBackend()
    model = ChatModel(backend, cache=ResponseCache(tmp_path))
    first = asyncio.run(model.chat(REQUEST))
    second = asyncio.run(model.chat(REQUEST))
    assert len(backend.requests) == 1
    assert (first.cached, second.cached) == (False, True) and second.text == first.text
    assert (
        model.usage.calls == 2 and model.usage.cached_calls == 1 and model.usage.prompt_tokens == 14
    )
    other = asyncio.run(model.chat(REQUEST.model_copy(update={"temperature": 0.7})))
    assert not other.cached and len(backend.requests) == 2  # sampling is part of the key


def test_a_corrupt_cache_entry_is_asked_again(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    key = REQUEST.cache_key("fake/counting")
    cache.put(key, ChatResponse(text="x"))
    next(tmp_path.rglob("*.json")).write_text("{ torn")
    assert cache.get(key) is None


def test_concurrency_is_bounded() -> None:
    backend = CountingBackend()
    model = ChatModel(backend, concurrency=3)

    async def many() -> None:
        await asyncio.gather(
            *(model.chat(REQUEST.model_copy(update={"seed": i})) for i in range(12))
        )

    asyncio.run(many())
    assert backend.peak == 3 and len(backend.requests) == 12
    asyncio.run(many())  # a second event loop works too


def test_grammar_is_dropped_for_backends_that_cannot_use_it() -> None:
    backend = CountingBackend()
    asyncio.run(
        ChatModel(backend, constrain=True).chat(REQUEST.model_copy(update={"grammar": "g"}))
    )
    assert backend.requests[0].grammar is None


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("gpt-4o", "not named provider/model"),
        ("anthropic/claude", "not named provider/model"),
        ("local/llama-70b", "unknown local model 'llama-70b'"),
        ("local/missing.gguf", "no model file at missing.gguf"),
    ],
)
def test_bad_model_names(name: str, message: str) -> None:
    with pytest.raises(ModelNotFoundError, match=message):
        get_model(name)


def test_embedded_threads_come_from_the_connection(smollm2_path: Path) -> None:
    from agentracer.llm import ConnectionSettings
    from agentracer.llm.client import _local_backend

    one = _local_backend("smollm2-135m", ConnectionSettings(extra={"threads": 1}))
    assert getattr(one, "threads", None) == 1  # nothing is loaded until the first request
    default = _local_backend("smollm2-135m", ConnectionSettings())
    assert getattr(default, "threads", None) == (os.cpu_count() or 1)
