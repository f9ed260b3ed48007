"""The receiver against hostile or broken HTTP clients (issue 18 items 6, 7 and 9): every
request gets an answer with a status, nothing bad is stored, slow clients hold no ingest slot,
and only requests that name this server in `Host` are served."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable

from agentracer.serve.app import Service

SPAN = {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "root"}
BODY = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [SPAN]}]}]}).encode()


def raw(service: Service, request: bytes, *, timeout: float = 10.0) -> bytes:
    """Send `request` as is and read the answer until the server closes or 0.5 s pass after
    its headers."""
    host, port = service.httpd.server_address[:2]
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            answer += chunk
            if b"\r\n\r\n" in answer:
                sock.settimeout(0.5)
        return answer


def status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


def post(length: str | None, body: bytes = BODY, host: str = "127.0.0.1") -> bytes:
    head = f"POST /v1/traces HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
    if length is not None:
        head += f"Content-Length: {length}\r\n"
    return head.encode() + b"\r\n" + body


def test_a_bad_content_length_is_refused_without_reading(
    start_service: Callable[..., Service],
) -> None:
    service = start_service()
    started = time.monotonic()
    for length in ("-1", "abc", "1e3", "+5", "٣"):
        answer = raw(service, post(length))  # the client keeps its side open
        assert status(answer) == 400, length
        assert b"Content-Length must be one non-negative number" in answer
    assert time.monotonic() - started < 8  # answered at once, not when the client gave up
    assert status(raw(service, post(None, b""))) == 411
    two = post(str(len(BODY))).replace(b"\r\n\r\n", b"\r\nContent-Length: 3\r\n\r\n", 1)
    assert status(raw(service, two)) == 400
    assert service.store.list_traces() == []
    assert status(raw(service, post(str(len(BODY))))) == 200


def test_a_slow_body_times_out(start_service: Callable[..., Service]) -> None:
    service = start_service(body_grace=0.5, min_body_rate=1000)
    started = time.monotonic()
    answer = raw(service, post(str(len(BODY)))[: -len(BODY) // 2])  # half the body, then stalls
    assert status(answer) == 408 and time.monotonic() - started < 5
    assert service.store.list_traces() == []


def test_slow_clients_cannot_take_the_ingest_slots(start_service: Callable[..., Service]) -> None:
    service = start_service(max_concurrent=2, body_grace=60)
    host, port = service.httpd.server_address[:2]
    slow = []
    for _ in range(6):  # more than the slots: each announces a body and sends a byte of it
        sock = socket.create_connection((host, port), timeout=10)
        sock.sendall(post("1000")[: -len(BODY)] + b"{")
        slow.append(sock)
    try:
        time.sleep(0.3)
        started = time.monotonic()
        assert status(raw(service, post(str(len(BODY))))) == 200
        assert time.monotonic() - started < 5
        assert [t.trace_id for t in service.store.list_traces()] == ["ab" * 16]
    finally:
        for sock in slow:
            sock.close()


def get(service: Service, host: str, path: str = "/") -> bytes:
    return raw(
        service, f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
    )


def test_dns_rebinding_is_refused(start_service: Callable[..., Service]) -> None:
    service = start_service()
    port = service.httpd.server_address[1]
    service.store.put_spans([])
    for host in (f"evil.example:{port}", "evil.example", "127.0.0.1.evil.example", "[::2]"):
        answer = get(service, host, "/api/traces")
        assert status(answer) == 403 and b"--allow-host" in answer, host
    answer = raw(service, post(str(len(BODY)), host=f"evil.example:{port}"))
    assert status(answer) == 403 and service.store.list_traces() == []
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"[::1]:{port}"):
        assert status(get(service, host, "/api/traces")) == 200, host
    page = get(service, "localhost", "/")
    assert b"Content-Security-Policy" in page  # the strict CSP is still there


def test_allow_host_adds_names(start_service: Callable[..., Service]) -> None:
    service = start_service(allow_hosts=("traces.internal",))
    assert status(get(service, "traces.internal:4318", "/api/traces")) == 200
    assert status(get(service, "evil.example", "/api/traces")) == 403


def json_post(body: bytes) -> bytes:
    return post(str(len(body)), body)


def span_body(span_json: str) -> bytes:
    return ('{"resourceSpans":[{"scopeSpans":[{"spans":[' + span_json + "]}]}]}").encode()


ID = f'"traceId":"{"ab" * 16}","spanId":"{"cd" * 8}"'
BAD_BODIES = {
    "lone surrogate": span_body("{" + ID + ',"name":"\\ud800"}'),
    "lone surrogate in a key": span_body("{" + ID + ',"name":"x","\\udc00":1}'),
    "start time 1e27": span_body("{" + ID + ',"name":"x","startTimeUnixNano":1e27}'),
    "start time as a string over 64 bits": span_body(
        "{" + ID + ',"name":"x","startTimeUnixNano":"' + "9" * 30 + '"}'
    ),
    "start time Infinity": span_body("{" + ID + ',"name":"x","startTimeUnixNano":Infinity}'),
    "end time -Infinity": span_body("{" + ID + ',"name":"x","endTimeUnixNano":-Infinity}'),
    "5,000-digit number": span_body("{" + ID + ',"name":"x","flags":' + "7" * 5000 + "}"),
    "3,000-deep nesting": span_body("{" + ID + ',"name":"x","a":' + "[" * 3000 + "]" * 3000 + "}"),
}


def test_bad_bodies_get_400_not_a_reset(start_service: Callable[..., Service]) -> None:
    service = start_service()
    for what, body in BAD_BODIES.items():
        answer = raw(service, json_post(body))
        assert status(answer) == 400, (what, answer[:300])
        message = json.loads(answer.split(b"\r\n\r\n", 1)[1])["message"]
        assert "\n" not in message and message, what
    assert service.store.list_traces() == []
    good = span_body("{" + ID + ',"name":"\\ud83d\\ude00 paired","startTimeUnixNano":"5"}')
    assert status(raw(service, json_post(good))) == 200


def test_a_full_disk_or_deleted_store_is_503(
    start_service: Callable[..., Service], monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    service = start_service()
    store = service.store
    connect = store._connection

    def tiny(self=store):  # type: ignore[no-untyped-def]
        db = connect()
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count={pages}")  # as if the disk were full
        return db

    monkeypatch.setattr(store, "_connection", tiny)
    big = span_body("{" + ID + ',"name":"' + "x" * 200_000 + '"}')
    answer = raw(service, json_post(big))
    assert status(answer) == 503 and b"full" in answer and b"Retry-After: 5" in answer
    monkeypatch.undo()
    assert store.list_traces() == []
    assert status(raw(service, json_post(BODY))) == 200  # the next request is stored again
    store.path.unlink()  # the store deleted under a running server
    answer = raw(service, json_post(span_body("{" + ID.replace("cd", "ef") + ',"name":"x"}')))
    assert status(answer) == 503 and b"deleted" in answer
