"""The embedded backend with the real SmolLM2 model."""

import asyncio
import re
from pathlib import Path

import pytest

from agentracer.errors import ContextLengthError, ModelNotFoundError
from agentracer.llm import ChatRequest, ConnectionSettings
from agentracer.llm.client import default_model_name
from agentracer.llm.embedded import EmbeddedBackend


def test_grammar_constrains_the_answer(embedded: EmbeddedBackend) -> None:
    request = ChatRequest(
        messages=[{"role": "user", "content": "Pick a colour."}],
        max_tokens=16,
        grammar='root ::= "Colour: " ("red" | "green" | "blue")',
    )
    response = asyncio.run(embedded.complete(request))
    assert re.fullmatch(r"Colour: (red|green|blue)", response.text)
    assert response.prompt_tokens > 0 and response.completion_tokens > 0 and response.seconds > 0


def test_too_long_a_prompt_is_a_context_error_with_counts(smollm2_path: Path) -> None:
    tiny = EmbeddedBackend(smollm2_path, name="tiny", context_window=256)
    request = ChatRequest(messages=[{"role": "user", "content": "word " * 600}], max_tokens=8)
    with pytest.raises(ContextLengthError) as caught:
        asyncio.run(tiny.complete(request))
    assert caught.value.context_window == 256 and caught.value.prompt_tokens > 256


def test_its_loopback_server_answers_model_listing(
    embedded: EmbeddedBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert embedded.base_url.startswith("http://127.0.0.1:")
    monkeypatch.delenv("AGENTRACER_MODEL", raising=False)
    monkeypatch.setenv("OPENAI_BASE_URL", embedded.base_url)
    assert default_model_name().startswith("openai/")
    monkeypatch.setenv("AGENTRACER_MODEL", "openai/chosen")
    assert default_model_name() == "openai/chosen"


def test_default_model_without_any_endpoint_is_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENTRACER_MODEL", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert default_model_name(ConnectionSettings()) == "local/smollm2-135m"


def test_a_missing_or_broken_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no model file"):
        EmbeddedBackend(tmp_path / "absent.gguf", name="x")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(ModelNotFoundError, match="could not load"):
        EmbeddedBackend(broken, name="x").server()
