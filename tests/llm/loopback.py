"""A scripted OpenAI-compatible HTTP server on 127.0.0.1, for the failure cases a real model
server will not produce on demand (429 storms, 5xx, hangs, wrong keys, garbage answers).

Each request pops the next scripted reply; when the script is empty it answers with
`default`. Every request body is recorded, so tests can count what reached the server.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(text: str, prompt_tokens: int = 10, completion_tokens: int = 5) -> dict[str, Any]:
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 0,
        "model": "scripted",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of `body` (HTML pages, invalid JSON)
    content_type: str = "application/json"
    cut: bool = False  # announce the whole payload, send half of it, close the connection


Responder = Callable[[dict[str, Any]], Reply]


class ScriptedServer:
    def __init__(self, default: Reply | Responder | None = None, key: str | None = None) -> None:
        self.script: list[Reply] = []
        self.default = default or Reply(body=completion("ok"))
        self.requests: list[dict[str, Any]] = []
        self.key = key  # when given, a request without `Authorization: Bearer <key>` gets a 401
        self.authorizations: list[str] = []  # the Authorization header of every POST
        self._lock = threading.Lock()
        handler = self._handler_class()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        return self.default(body) if callable(self.default) else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # /v1/models
                self._send(
                    Reply(body={"object": "list", "data": [{"id": "scripted", "object": "model"}]})
                )

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                authorization = self.headers.get("Authorization", "")
                server.authorizations.append(authorization)
                if server.key is not None and authorization != f"Bearer {server.key}":
                    self._send(error(401, "Incorrect API key provided"))
                    return
                self._send(server._next(body))

            def _send(self, reply: Reply) -> None:
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw
                if payload is None:
                    payload = json.dumps(reply.body if reply.body is not None else {}).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", reply.content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    if reply.cut:
                        self.wfile.write(payload[: len(payload) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests)

        return Handler

    def __enter__(self) -> ScriptedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def shared_length(a: str, b: str) -> int:
    """Characters at the start of `a` and `b` that are the same (a prompt cache's reach)."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class PrefixCache:
    """A responder that answers like a server with a prompt cache of one slot (llama.cpp's):
    it keeps the last prompt and reports, as OpenAI does
    (`usage.prompt_tokens_details.cached_tokens`), how much of the new prompt it shares with
    the last one, at 4 characters a token. `answer(body)` gives the text."""

    def __init__(self, answer: Callable[[dict[str, Any]], str]) -> None:
        self.answer = answer
        self.last = ""
        self._lock = threading.Lock()

    def __call__(self, body: dict[str, Any]) -> Reply:
        prompt = "".join(m.get("content") or "" for m in body.get("messages", []))
        with self._lock:
            shared = shared_length(self.last, prompt)
            self.last = prompt
        reply = completion(self.answer(body), prompt_tokens=len(prompt) // 4)
        reply["usage"]["prompt_tokens_details"] = {"cached_tokens": shared // 4}
        return Reply(body=reply)


HTML_PAGE = b"<!doctype html><html><body><h1>502 Bad Gateway</h1></body></html>"


def garbage(kind: str) -> Reply:
    """A 200 that is not a usable chat completion: `html`, `invalid-json`, `number-content`,
    `null-content`, or `cut` (the connection closes halfway through the answer)."""
    if kind == "html":
        return Reply(raw=HTML_PAGE, content_type="text/html")
    if kind == "invalid-json":
        return Reply(raw=b'{"id": "x", "choices": [', content_type="application/json")
    if kind == "cut":
        return Reply(body=completion("this answer never arrives whole " * 20), cut=True)
    body = completion("")
    body["choices"][0]["message"]["content"] = 42 if kind == "number-content" else None
    return Reply(body=body)


def error(status: int, message: str, **extra: Any) -> Reply:
    return Reply(
        status=status,
        body={"error": {"message": message, **extra}},
        headers={"retry-after-ms": "10"},
    )
