"""The receiver over HTTP, fed by the real OpenTelemetry SDK exporter."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.trace import Status, StatusCode

from agentracer.serve.app import Service
from agentracer.serve.assemble import FailedIf


def post(
    url: str, body: bytes, content_type: str = "application/json", **headers: str
) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def run_app(provider: Any, *, fail: bool, content: str = "the answer is 42") -> str:
    """A tiny two-agent app instrumented with the SDK in the OpenTelemetry GenAI conventions
    (an agent span per agent, a chat span under it with its output message); returns the trace
    id (hex)."""
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("team run") as root:
        for agent, text in (("Planner", "plan: add the numbers"), ("Solver", content)):
            with tracer.start_as_current_span(f"invoke_agent {agent}") as span:
                span.set_attribute("gen_ai.operation.name", "invoke_agent")
                span.set_attribute("gen_ai.agent.name", agent)
                with tracer.start_as_current_span("chat scripted") as chat:
                    chat.set_attribute("gen_ai.operation.name", "chat")
                    chat.set_attribute("gen_ai.request.model", "scripted")
                    output = [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
                    chat.set_attribute("gen_ai.output.messages", json.dumps(output))
        if fail:
            root.set_status(Status(StatusCode.ERROR, "wrong answer"))
    provider.force_flush()
    return format(root.get_span_context().trace_id, "032x")


def wait_for(condition: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def test_sdk_export_protobuf_and_gzip_is_stored_and_a_failed_run_gets_a_verdict(
    start_service: Callable[..., Service], sdk_provider: Callable[..., Any]
) -> None:
    service = start_service()
    failed = run_app(sdk_provider(service.endpoint, gzip=True), fail=True)
    passed = run_app(sdk_provider(service.endpoint), fail=False)
    stored = wait_for(lambda: (t := service.store.get_trace(failed)) and t.summary.verdict and t)
    assert stored.summary.n_spans == 5 and stored.summary.failed
    verdict = stored.summary.verdict
    assert (verdict.agent, verdict.step, verdict.tracer) == ("Solver", 1, "last-agent-step")
    assert (
        "root span 'team run' has an error status" in stored.trajectory.metadata["failed_because"]
    )
    ok = wait_for(
        lambda: (t := service.store.get_trace(passed)) and t.summary.state == "done" and t
    )
    assert ok.summary.failed is False and ok.summary.verdicts == []
    assert service.httpd.received == 10


def test_json_body_gets_a_json_answer_and_duplicates_are_stored_once(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "root",
         "startTimeUnixNano": "1", "endTimeUnixNano": "2"}]}]}]}  # fmt: skip
    body = json.dumps(document).encode()
    for _ in range(2):  # an exporter retrying a request whose answer it lost
        assert post(f"{service.endpoint}/v1/traces", body) == (200, b"{}")
    assert [t.n_spans for t in service.store.list_traces()] == [1]


def test_over_the_size_limit_is_413_and_malformed_is_400_with_nothing_stored(
    start_service: Callable[..., Service],
) -> None:
    service = start_service(max_body=10_000)
    status, answer = post(f"{service.endpoint}/v1/traces", b"{" + b" " * 20_000 + b"}")
    assert status == 413 and b"over 10000 bytes" in answer
    half_good = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "good"},
        {"traceId": "ab" * 16, "spanId": "nothex!!", "name": "bad"}]}]}]}  # fmt: skip
    status, answer = post(f"{service.endpoint}/v1/traces", json.dumps(half_good).encode())
    assert status == 400
    assert "spans[1].spanId must be 16 hex characters" in json.loads(answer)["message"]
    status, answer = post(f"{service.endpoint}/v1/traces", b"\x0a\xff", "application/x-protobuf")
    assert status == 400 and b"protobuf" in answer
    assert service.store.list_traces() == []  # nothing half-stored
    assert get(f"{service.endpoint}/healthz") == (200, "ok")  # and the server is still up


def test_failed_if_rule_marks_a_run_failed(
    start_service: Callable[..., Service], sdk_provider: Callable[..., Any]
) -> None:
    rule = FailedIf('"wrong" in attributes["gen_ai.output.messages"] and name == "chat scripted"')
    service = start_service(failed_if=rule)
    trace = run_app(sdk_provider(service.endpoint), fail=False, content="a wrong answer")
    stored = wait_for(lambda: (t := service.store.get_trace(trace)) and t.summary.verdict and t)
    assert stored.trajectory.metadata["failed_because"] == [
        "--failed-if is true for span 'chat scripted'"
    ]
    assert stored.trajectory.outcome.value == "failure"


def test_ui_lists_traces_and_escapes_trace_content(
    start_service: Callable[..., Service], sdk_provider: Callable[..., Any]
) -> None:
    service = start_service()
    evil = "<script>alert('x')</script> & <b>bold</b>"
    trace = run_app(sdk_provider(service.endpoint), fail=True, content=evil)
    wait_for(lambda: (t := service.store.get_trace(trace)) and t.summary.verdict)
    status, page = get(f"{service.endpoint}/")
    assert status == 200 and trace in page and "Solver" in page
    status, page = get(f"{service.endpoint}/traces/{trace}")
    assert status == 200
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert 'class="step blamed' in page
    status, body = get(f"{service.endpoint}/traces/{trace}/trajectory.json")
    assert status == 200 and json.loads(body)["steps"][1]["content"] == evil
    assert get(f"{service.endpoint}/traces/{'0' * 32}")[0] == 404
    status, body = get(f"{service.endpoint}/api/traces?failed=1")
    assert [row["trace_id"] for row in json.loads(body)] == [trace]


def test_worker_attributes_with_an_llm_tracer_on_a_loopback_endpoint(
    start_service: Callable[..., Service], sdk_provider: Callable[..., Any], tmp_path: Path
) -> None:
    from agentracer.llm import ConnectionSettings
    from agentracer.tracers import TracerSettings
    from tests.llm.loopback import Reply, ScriptedServer, completion

    answer = "Agent Name: Solver\nStep Number: 1\nReason for Mistake: 41 is not the sum."
    with ScriptedServer(default=Reply(body=completion(answer))) as model:
        settings = TracerSettings(
            model="openai/scripted",
            connection=ConnectionSettings(
                base_url=model.base_url, api_key="x", cache_dir=str(tmp_path / "cache")
            ),
        )
        service = start_service(tracer="all-at-once", tracer_settings=settings)
        provider = sdk_provider(service.endpoint)
        traces = [run_app(provider, fail=True, content=f"the answer is {n}") for n in (41, 43)]
        for trace in traces:  # one event loop and client serve every trace
            stored = wait_for(
                lambda t=trace: (s := service.store.get_trace(t)) and s.summary.verdict and s
            )
            verdict = stored.summary.verdict
            assert (verdict.agent, verdict.step, verdict.parse_status) == ("Solver", 1, "parsed")
            assert verdict.reason == "41 is not the sum." and verdict.usage.calls == 1
        assert len(model.requests) == 2
        assert "the answer is 43" in json.dumps(model.requests[1]["messages"])


def test_idle_keep_alive_connections_do_not_hold_the_export_slots(
    start_service: Callable[..., Service],
) -> None:
    import http.client

    service = start_service(max_concurrent=2)
    host, port = service.httpd.server_address[:2]
    connections = [http.client.HTTPConnection(host, port, timeout=10) for _ in range(6)]
    for n, connection in enumerate(connections):  # each stays open after its request
        span = {"traceId": f"{n + 1:032x}", "spanId": "cd" * 8, "name": "root"}
        body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
        connection.request("POST", "/v1/traces", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert (response.status, response.read()) == (200, b"{}")
    for connection in connections:
        connection.close()
    assert len(service.store.list_traces()) == 6
