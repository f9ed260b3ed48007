"""The OpenAI-compatible backend against real loopback HTTP servers."""

import asyncio
import socket

import pytest

from agentracer.errors import ContextLengthError, ModelNotFoundError, ModelUnavailableError
from agentracer.llm import ChatRequest, ConnectionSettings, get_model
from tests.llm.loopback import Reply, ScriptedServer, completion, error

REQUEST = ChatRequest(messages=[{"role": "user", "content": "hi"}], max_tokens=8)


def _model(server: ScriptedServer, **connection):
    settings = ConnectionSettings(base_url=server.base_url, use_cache=False, **connection)
    return get_model("openai/scripted", settings)


def test_429_then_200_is_retried_and_counted_once(scripted: ScriptedServer) -> None:
    scripted.script = [error(429, "slow down"), error(429, "slow down")]
    model = _model(scripted)
    response = asyncio.run(model.chat(REQUEST))
    assert response.text == "ok"
    assert len(scripted.requests) == 3  # two refusals, then the answer
    assert model.usage.calls == 1 and model.usage.prompt_tokens == 10


def test_a_429_storm_gives_a_clear_error(scripted: ScriptedServer) -> None:
    scripted.default = error(429, "slow down")
    with pytest.raises(
        ModelUnavailableError, match=r"kept rate-limiting \(HTTP 429\) after 2 retries"
    ):
        asyncio.run(_model(scripted, max_retries=2).chat(REQUEST))
    assert len(scripted.requests) == 3


def test_5xx_is_retried(scripted: ScriptedServer) -> None:
    scripted.script = [error(503, "busy")]
    assert asyncio.run(_model(scripted).chat(REQUEST)).text == "ok"
    scripted.default = error(500, "broken")
    with pytest.raises(ModelUnavailableError, match=r"kept failing \(HTTP 500\)"):
        asyncio.run(_model(scripted, max_retries=1).chat(REQUEST))


def test_a_hanging_server_times_out(scripted: ScriptedServer) -> None:
    scripted.default = Reply(body=completion("late"), delay=3)
    with pytest.raises(ModelUnavailableError, match="timed out after 0 retries"):
        asyncio.run(_model(scripted, timeout=0.3, max_retries=0).chat(REQUEST))


def test_an_unreachable_endpoint_says_so() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = ConnectionSettings(
        base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, use_cache=False
    )
    with pytest.raises(ModelUnavailableError, match=r"cannot reach .* is the server running"):
        asyncio.run(get_model("openai/x", settings).chat(REQUEST))


def test_wrong_key_and_unknown_model(scripted: ScriptedServer) -> None:
    scripted.script = [error(401, "bad key")]
    with pytest.raises(ModelUnavailableError, match=r"rejected the API key \(HTTP 401\)"):
        asyncio.run(_model(scripted).chat(REQUEST))
    scripted.script = [error(404, "no such model")]
    with pytest.raises(ModelNotFoundError, match="model 'scripted' not found"):
        asyncio.run(_model(scripted).chat(REQUEST))


def test_context_length_rejections_carry_the_numbers(scripted: ScriptedServer) -> None:
    scripted.script = [
        error(400, "request (9031 tokens) exceeds the available context size (4096 tokens)",
              type="exceed_context_size_error", n_prompt_tokens=9031, n_ctx=4096),
        error(400, "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000 tokens."),
    ]  # fmt: skip
    model = _model(scripted)
    with pytest.raises(ContextLengthError) as llama_cpp:
        asyncio.run(model.chat(REQUEST))
    assert (llama_cpp.value.prompt_tokens, llama_cpp.value.context_window) == (9031, 4096)
    with pytest.raises(ContextLengthError) as openai_style:
        asyncio.run(model.chat(REQUEST))
    assert (openai_style.value.prompt_tokens, openai_style.value.context_window) == (9000, 8192)


def test_grammar_is_sent_only_when_constraining(scripted: ScriptedServer) -> None:
    request = REQUEST.model_copy(update={"grammar": 'root ::= "x"'})
    asyncio.run(_model(scripted).chat(request))
    asyncio.run(_model(scripted, constrain=True).chat(request))
    assert "grammar" not in scripted.requests[0]
    assert scripted.requests[1]["grammar"] == 'root ::= "x"'


def test_no_key_and_no_base_url_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ModelUnavailableError, match="no API key for openai/gpt-4o-mini"):
        get_model("openai/gpt-4o-mini", ConnectionSettings(use_cache=False))


def test_api_key_never_appears_in_settings_dumps() -> None:
    settings = ConnectionSettings(api_key="sk-secret")
    assert "sk-secret" not in settings.model_dump_json() and "sk-secret" not in repr(settings)


def _said(**fields) -> Reply:
    """A completion of 100 prompt tokens whose server says in `fields` how many were cached."""
    body = completion("ok", prompt_tokens=100)
    for key, value in fields.items():
        if key in ("prompt_tokens_details", "prompt_cache_hit_tokens"):
            body["usage"][key] = value
        else:
            body[key] = value
    return Reply(body=body)


@pytest.mark.parametrize(
    ("reply", "cached"),
    [
        (_said(prompt_tokens_details={"cached_tokens": 96}), 96),  # OpenAI, vLLM, llama.cpp
        (_said(prompt_cache_hit_tokens=64), 64),  # DeepSeek
        (_said(timings={"cache_n": 90, "prompt_n": 10}), 90),  # llama.cpp's timings
        (_said(tokens_cached=80), 80),  # llama.cpp's older field
        (_said(prompt_tokens_details={"cached_tokens": None}), 0),
        (_said(), 0),  # the server says nothing: nothing is claimed
    ],
    ids=["details", "deepseek", "timings", "tokens_cached", "null", "silent"],
)
def test_cached_prompt_tokens_are_read_where_the_server_says_them(
    scripted: ScriptedServer, reply: Reply, cached: int
) -> None:
    scripted.default = reply
    model = _model(scripted)
    response = asyncio.run(model.chat(REQUEST))
    assert response.prompt_tokens == 100 and response.cached_prompt_tokens == cached
    assert model.usage.cached_prompt_tokens == cached
