"""Hardening of the LLM layer against broken servers (issue 9): garbage answers are named
errors, unusable answers are never cached, the cache tells endpoints apart, a connection that
breaks mid-answer is not "cannot reach", and a lone surrogate in a prompt keys the cache."""

import asyncio
from pathlib import Path

import pytest

from agentracer.errors import LLMError, ModelUnavailableError
from agentracer.llm import ChatRequest, ConnectionSettings, get_model
from agentracer.llm.backend import file_identity
from tests.llm.loopback import Reply, ScriptedServer, completion, error, garbage

REQUEST = ChatRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8)


def _model(server: ScriptedServer, cache_dir: Path | None = None, **connection):
    settings = ConnectionSettings(
        base_url=server.base_url,
        use_cache=cache_dir is not None,
        cache_dir=None if cache_dir is None else str(cache_dir),
        **connection,
    )
    return get_model("openai/scripted", settings)


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("html", "not a chat completion"),
        ("invalid-json", "cannot be read"),
        ("number-content", "content is a int, not text"),
    ],
)
def test_a_garbage_answer_is_a_named_error(
    scripted: ScriptedServer, kind: str, message: str
) -> None:
    scripted.script = [garbage(kind)]
    with pytest.raises(LLMError, match=message):
        asyncio.run(_model(scripted, max_retries=0).chat(REQUEST))


def test_a_connection_cut_mid_answer_is_not_cannot_reach(scripted: ScriptedServer) -> None:
    scripted.default = garbage("cut")
    with pytest.raises(ModelUnavailableError) as caught:
        asyncio.run(_model(scripted, max_retries=0).chat(REQUEST))
    assert "cannot reach" not in caught.value.message
    assert "closed the connection before its answer was complete" in caught.value.message


def test_an_unusable_answer_is_never_cached(scripted: ScriptedServer, tmp_path: Path) -> None:
    scripted.script = [garbage("null-content"), Reply(body=completion("   "))]
    assert asyncio.run(_model(scripted, tmp_path).chat(REQUEST)).text == ""
    assert asyncio.run(_model(scripted, tmp_path).chat(REQUEST)).text.strip() == ""
    recovered = asyncio.run(_model(scripted, tmp_path).chat(REQUEST))  # the server recovered
    assert recovered.text == "ok" and not recovered.cached and len(scripted.requests) == 3
    again = asyncio.run(_model(scripted, tmp_path).chat(REQUEST))
    assert again.cached and again.text == "ok" and len(scripted.requests) == 3


def test_two_endpoints_serving_one_model_name_do_not_share_answers(tmp_path: Path) -> None:
    with (
        ScriptedServer(Reply(body=completion("checkpoint A"))) as a,
        ScriptedServer(Reply(body=completion("checkpoint B"))) as b,
    ):
        assert asyncio.run(_model(a, tmp_path).chat(REQUEST)).text == "checkpoint A"
        answer = asyncio.run(_model(b, tmp_path).chat(REQUEST))
        assert answer.text == "checkpoint B" and not answer.cached
        assert asyncio.run(_model(a, tmp_path).chat(REQUEST)).cached


def test_a_rewritten_model_file_changes_its_identity(tmp_path: Path) -> None:
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "model.safetensors").write_bytes(b"weights v1")
    before = file_identity(checkpoint)
    (checkpoint / "model.safetensors").write_bytes(b"weights v2, retrained")
    assert file_identity(checkpoint) != before
    assert REQUEST.cache_key("hf/x", before) != REQUEST.cache_key("hf/x", file_identity(checkpoint))


def test_a_lone_surrogate_in_a_prompt_still_has_a_cache_key(
    scripted: ScriptedServer, tmp_path: Path
) -> None:
    cut_emoji = ChatRequest(messages=[{"role": "user", "content": "half an emoji: \ud83d"}])
    assert len(cut_emoji.cache_key("openai/x", "endpoint:y")) == 64
    asyncio.run(_model(scripted, tmp_path).chat(cut_emoji))  # no UnicodeEncodeError


def test_a_rejected_key_names_no_missing_option(scripted: ScriptedServer) -> None:
    scripted.script = [error(401, "bad key")]
    with pytest.raises(ModelUnavailableError) as caught:
        asyncio.run(_model(scripted).chat(REQUEST))
    assert "--api-key" not in caught.value.message and "OPENAI_API_KEY" in caught.value.message
