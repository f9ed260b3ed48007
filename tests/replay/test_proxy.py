"""The proxy as an HTTP server: loopback only, OpenAI wire format, events, bad requests."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from agentracer.replay.policy import LivePolicy
from agentracer.replay.proxy import ReplayProxy, stream_chunks
from agentracer.replay.recording import EventLog
from tests.replay.conftest import FakeUpstream


@pytest.fixture
def proxy(tmp_path, upstream: FakeUpstream):
    server = ReplayProxy(
        LivePolicy(upstream), EventLog(tmp_path / "events.jsonl"), model_name="fake/upstream"
    )
    server.start()
    yield server
    server.stop()


def _http(
    method: str, url: str, body: bytes | None = None, token: str | None = None
) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _post(url: str, payload: object, token: str | None = None) -> int:
    return _http("POST", url, json.dumps(payload).encode(), token)[0]


def _client(proxy: ReplayProxy) -> openai.OpenAI:
    return openai.OpenAI(base_url=proxy.base_url, api_key=proxy.token, max_retries=0)


def test_it_listens_on_loopback_only(proxy: ReplayProxy) -> None:
    assert proxy.server.server_address[0] == "127.0.0.1"
    assert proxy.base_url.startswith("http://127.0.0.1:")


def test_plain_and_streamed_completions_through_the_sdk(proxy: ReplayProxy, tmp_path) -> None:
    client = _client(proxy)
    messages = [
        {"role": "system", "content": "You are the worker."},
        {"role": "user", "content": "go"},
    ]
    plain = client.chat.completions.create(model="any", messages=messages, user="Worker")
    assert plain.choices[0].message.content == "worker answer 1"
    chunks = list(client.chat.completions.create(
        model="any", messages=messages, stream=True, stream_options={"include_usage": True}
    ))  # fmt: skip
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "worker answer 2"
    )
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 13
    assert [e.agent for e in proxy.events] == ["Worker", "You are the worker."]
    logged = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [line["index"] for line in logged] == [0, 1] and logged[1]["stream"] is True
    assert [m.id for m in client.models.list()] == ["fake/upstream"]


def test_events_and_bad_requests(proxy: ReplayProxy) -> None:
    base, token = proxy.base_url.removesuffix("/v1"), proxy.token
    tool = {"kind": "tool", "agent": "pytest", "content": "ok"}
    assert _post(proxy.events_url, tool, token) == 200
    assert _post(proxy.events_url, {"kind": "task", "question": "q"}, token) == 200
    assert proxy.task.question == "q" and proxy.events[-1].agent == "pytest"
    assert _post(proxy.events_url, {"kind": "other"}, token) == 400
    status, body = _http("POST", f"{base}/v1/chat/completions", b"{ not json", token)
    assert status == 400 and "not JSON" in body["error"]["message"]
    assert _http("GET", f"{base}/nowhere", token=token)[0] == 404


def test_stream_chunks_carry_tool_calls() -> None:
    response = {
        "id": "c1", "created": 1, "model": "m",
        "choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": "t1", "type": "function", "function": {"name": "run", "arguments": "{}"}}]}, "finish_reason": "tool_calls"}],
    }  # fmt: skip
    first, last = stream_chunks(response, include_usage=False)
    assert first["choices"][0]["delta"]["tool_calls"][0]["index"] == 0
    assert last["choices"][0]["finish_reason"] == "tool_calls"


def _raw(proxy: ReplayProxy, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    """A hand-made POST (bad Content-Length, bad bytes) to the proxy's chat route."""
    import http.client

    connection = http.client.HTTPConnection("127.0.0.1", proxy.server.server_port, timeout=10)
    connection.putrequest("POST", "/v1/chat/completions", skip_accept_encoding=True)
    for name, value in {"Authorization": f"Bearer {proxy.token}", **headers}.items():
        connection.putheader(name, value)
    connection.endheaders(body)
    response = connection.getresponse()
    text = response.read().decode()
    connection.close()
    return response.status, json.loads(text)["error"]["message"]


CHAT = {"model": "m", "messages": [{"role": "system", "content": "You are the worker."}]}


def test_every_route_refuses_a_request_without_the_run_token(proxy: ReplayProxy) -> None:
    base = proxy.base_url
    assert _post(f"{base}/chat/completions", CHAT) == 401
    assert _post(f"{base}/chat/completions", CHAT, token="sk-guess") == 401
    assert _http("GET", f"{base}/models")[0] == 401
    assert _post(proxy.events_url, {"kind": "tool", "agent": "x", "content": "planted"}) == 401
    assert proxy.events == [] and proxy.call_count == 0
    assert _post(f"{base}/chat/completions", CHAT, token=proxy.token) == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"{}", {"Content-Length": "abc"}, 400, "Content-Length 'abc' is not a number"),
        (b"{}", {"Content-Length": "-5"}, 400, "negative"),
        (b'{"model": "\xff\xfe"}', {}, 400, "not UTF-8"),
        (b"[1, 2]", {}, 400, "not a JSON object"),
        (b'{"messages": "hi"}', {}, 400, "'messages' must be a non-empty array"),
        (json.dumps({**CHAT, "temperature": "hot"}).encode(), {}, 400, "'temperature' must be a number"),
        (json.dumps({**CHAT, "stream": 1}).encode(), {}, 400, "'stream' must be a boolean"),
        (b"[" * 100_000 + b"]" * 100_000, {}, 400, "nested too deeply"),
        # issue 18, item 11: past Python's 4,300-digit limit the proxy used to answer nothing
        (b'{"messages": [], "seed": ' + b"9" * 5000 + b"}", {}, 400, "a number of 5000 digits"),
    ],
)  # fmt: skip
def test_a_malformed_request_gets_a_400_with_its_reason(
    proxy: ReplayProxy, body: bytes, headers: dict, status: int, reason: str
) -> None:
    headers = {"Content-Length": str(len(body)), **headers}
    got, message = _raw(proxy, body, headers)
    assert got == status and reason in message
    assert _post(f"{proxy.base_url}/chat/completions", CHAT, token=proxy.token) == 200  # still up


def test_unknown_fields_travel_in_the_body_never_as_sdk_arguments(tmp_path) -> None:
    from agentracer.llm import ConnectionSettings
    from agentracer.replay.upstream import OpenAIUpstream
    from tests.llm.loopback import ScriptedServer

    with ScriptedServer() as model:
        upstream = OpenAIUpstream("scripted", ConnectionSettings(base_url=model.base_url))
        server = ReplayProxy(
            LivePolicy(upstream), EventLog(tmp_path / "events.jsonl"), model_name="m"
        ).start()
        try:
            body = {**CHAT, "top_k": 5, "extra_headers": {"X-Evil": "1"}, "temperature": 0.2}
            assert _post(f"{server.base_url}/chat/completions", body, token=server.token) == 200
        finally:
            server.stop()
    sent = model.requests[0]
    assert sent["top_k"] == 5 and sent["temperature"] == 0.2 and sent["model"] == "scripted"
    assert sent["extra_headers"] == {"X-Evil": "1"}  # a body field, not headers


def test_a_failed_call_leaves_no_hole_in_the_indices(proxy: ReplayProxy, upstream) -> None:
    client = openai.OpenAI(base_url=proxy.base_url, api_key=proxy.token, max_retries=0)
    messages = [{"role": "system", "content": "You are the worker."}]
    client.chat.completions.create(model="m", messages=messages)
    upstream.fail = True
    with pytest.raises(openai.APIStatusError):
        client.chat.completions.create(model="m", messages=messages)
    upstream.fail = False
    client.chat.completions.create(model="m", messages=messages)
    assert [e.index for e in proxy.events] == [0, 1]
