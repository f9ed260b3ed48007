"""The record/replay proxy: an OpenAI-compatible HTTP server on 127.0.0.1 between a
multi-agent program and its model.

It serves `POST /v1/chat/completions` (plain JSON, or server-sent events when the program asks
to stream), `GET /v1/models`, and `POST /agentracer/events`, where a program may report tool
results and its task. Every call is numbered in order of arrival, answered by the policy
(live, recorded or substituted), and appended to the event log at once. It binds to loopback
only and never sees the real API key (the upstream holds it).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentracer.errors import LLMError
from agentracer.replay.agents import identify_agent
from agentracer.replay.policy import DivergenceError, Policy
from agentracer.replay.recording import EventLog, ModelCall, Task, ToolEvent

HOST = "127.0.0.1"


def encode(obj: Any) -> bytes:
    """The one JSON encoding the proxy sends, so a recorded answer replays byte for byte."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def stream_chunks(response: dict[str, Any], include_usage: bool) -> list[dict[str, Any]]:
    """A complete chat.completion as the chunks of a stream: the message, then the finish."""
    base = {
        "id": response.get("id", "chatcmpl-agentracer"),
        "object": "chat.completion.chunk",
        "created": response.get("created", int(time.time())),
        "model": response.get("model", ""),
    }
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    delta: dict[str, Any] = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("tool_calls"):
        delta["tool_calls"] = [{**call, "index": i} for i, call in enumerate(message["tool_calls"])]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]},
        {
            **base,
            "choices": [
                {"index": 0, "delta": {}, "finish_reason": choice.get("finish_reason", "stop")}
            ],
        },
    ]
    if include_usage and response.get("usage"):
        chunks.append({**base, "choices": [], "usage": response["usage"]})
    return chunks


class ReplayProxy:
    """Start with `start()`, point the program at `base_url`, stop with `stop()`."""

    def __init__(
        self,
        policy: Policy,
        log: EventLog,
        *,
        model_name: str,
        patterns: Sequence[tuple[re.Pattern[str], str]] = (),
    ) -> None:
        self.policy = policy
        self.log = log
        self.model_name = model_name
        self.patterns = patterns
        self.events: list[ModelCall | ToolEvent] = []
        self.task = Task()
        self.errors: list[str] = []  # upstream failures
        self.divergences: list[str] = []  # frozen calls refused because the request changed
        self._lock = threading.Lock()
        self._next_index = 0
        self.server = ThreadingHTTPServer((HOST, 0), self._handler())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.server.server_port}/v1"

    @property
    def events_url(self) -> str:
        return f"http://{HOST}:{self.server.server_port}/agentracer/events"

    @property
    def call_count(self) -> int:
        return self._next_index

    def start(self) -> ReplayProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _record(self, event: ModelCall | ToolEvent) -> None:
        with self._lock:
            self.events.append(event)
            self.log.append(event.model_dump(mode="json"))

    def handle_call(
        self, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one chat completion: (HTTP status, JSON body)."""
        agent, source = identify_agent(headers, body, self.patterns)
        with self._lock:
            index = self._next_index
            self._next_index += 1
        started = time.perf_counter()
        try:
            response, origin, diverged = self.policy.respond(index, body)
        except DivergenceError as error:
            self.divergences.append(error.message)
            return 409, {"error": {"message": error.message, "type": "agentracer_divergence"}}
        except LLMError as error:
            self.errors.append(error.one_line())
            return 502, {"error": {"message": error.one_line(), "type": "agentracer_upstream"}}
        call = ModelCall(
            index=index,
            agent=agent,
            agent_source=source,
            request=body,
            response=response,
            stream=bool(body.get("stream")),
            origin=origin,
            diverged=diverged,
            seconds=time.perf_counter() - started,
        )
        self._record(call)
        return 200, response

    def handle_event(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """A program's report: `{"kind": "tool", "agent", "content"}` or `{"kind": "task", ...}`."""
        kind = body.get("kind")
        if kind == "task":
            self.task = Task(
                question=str(body.get("question", "")), ground_truth=body.get("ground_truth")
            )
            with self._lock:
                self.log.append({"kind": "task", **self.task.model_dump()})
            return 200, {"ok": True}
        if kind == "tool":
            self._record(
                ToolEvent(
                    agent=str(body.get("agent") or "tool"),
                    content=str(body.get("content", "")),
                    after_call=self.call_count,
                )
            )
            return 200, {"ok": True}
        return 400, {"error": {"message": "an event needs kind 'tool' or 'task'"}}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # the program's output stays clean
                pass

            def _body(self) -> dict[str, Any] | None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    return None
                return body if isinstance(body, dict) else None

            def _send_json(self, status: int, payload: Any) -> None:
                data = encode(payload)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _send_stream(self, response: dict[str, Any], include_usage: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in stream_chunks(response, include_usage):
                    self.wfile.write(b"data: " + encode(chunk) + b"\n\n")
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    model = {"id": proxy.model_name, "object": "model", "owned_by": "agentracer"}
                    self._send_json(200, {"object": "list", "data": [model]})
                else:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                body = self._body()
                if body is None:
                    self._send_json(
                        400, {"error": {"message": "the request body is not a JSON object"}}
                    )
                elif self.path.rstrip("/").endswith("/chat/completions"):
                    status, payload = proxy.handle_call(dict(self.headers.items()), body)
                    if status == 200 and body.get("stream"):
                        include_usage = bool(
                            (body.get("stream_options") or {}).get("include_usage")
                        )
                        self._send_stream(payload, include_usage)
                    else:
                        self._send_json(status, payload)
                elif self.path.rstrip("/").endswith("/agentracer/events"):
                    self._send_json(*proxy.handle_event(body))
                else:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})

        return Handler
