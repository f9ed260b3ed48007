"""The record/replay proxy: an OpenAI-compatible HTTP server on 127.0.0.1 between a
multi-agent program and its model.

It serves `POST /v1/chat/completions` (plain JSON, or server-sent events when the program asks
to stream), `GET /v1/models`, and `POST /agentracer/events`, where a program may report tool
results and its task. Every call is numbered in order of arrival, answered by the policy
(live, recorded or substituted), and appended to the event log at once. It binds to loopback
only and never sees the real API key (the upstream holds it).

Every route answers only requests carrying the run's own random token
(`Authorization: Bearer <token>`, the placeholder key the program is given): another local
process cannot spend the key behind the proxy, list its model, or plant events in the
recording; it gets a 401. A call that fails (the model is down, the request diverged) gives
its index back, so the next call takes it and a recording's calls are numbered without holes.
"""

from __future__ import annotations

import heapq
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from agentracer.errors import LLMError
from agentracer.replay.agents import identify_agent
from agentracer.replay.policy import DivergenceError, Policy
from agentracer.replay.recording import EventLog, ModelCall, Task, ToolEvent
from agentracer.replay.wire import BadRequest, check_chat_request, read_json_body

HOST = "127.0.0.1"
TOKEN_PREFIX = "agentracer-run-"
# A program that opens a connection and never finishes its request does not hold a thread forever.
REQUEST_TIMEOUT = 60.0


def new_token() -> str:
    """A fresh random token for one run: the only key the proxy accepts."""
    return TOKEN_PREFIX + secrets.token_urlsafe(24)


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
        token: str | None = None,
    ) -> None:
        self.token = token or new_token()
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
        self._returned: list[int] = []  # indices given back by failed calls, smallest first
        self._recorded = 0
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
        """Model calls answered (and recorded) so far."""
        return self._recorded

    def authorized(self, headers: Any) -> bool:
        """Whether a request carries this run's token (`Authorization: Bearer <token>`)."""
        scheme, _, credential = str(headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credential.strip().encode(), self.token.encode())

    def _take_index(self) -> int:
        with self._lock:
            if self._returned:
                return heapq.heappop(self._returned)
            index = self._next_index
            self._next_index += 1
            return index

    def _give_back(self, index: int) -> None:
        with self._lock:
            heapq.heappush(self._returned, index)

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
            if isinstance(event, ModelCall):
                self._recorded += 1

    def handle_call(
        self, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Answer one chat completion: (HTTP status, JSON body)."""
        try:
            check_chat_request(body)
        except BadRequest as error:
            return error.status, {"error": {"message": error.reason, "type": "invalid_request"}}
        agent, source = identify_agent(headers, body, self.patterns)
        index = self._take_index()
        started = time.perf_counter()
        try:
            response, origin, diverged = self.policy.respond(index, body)
        except DivergenceError as error:
            self._give_back(index)
            self.divergences.append(error.message)
            return 409, {"error": {"message": error.message, "type": "agentracer_divergence"}}
        except Exception as error:  # the model failed, or answered nothing usable
            self._give_back(index)
            message = (
                error.one_line()
                if isinstance(error, LLMError)
                else (f"upstream failed ({type(error).__name__}: {error})")
            )
            self.errors.append(message)
            return 502, {"error": {"message": message, "type": "agentracer_upstream"}}
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
            timeout = REQUEST_TIMEOUT

            def log_message(self, *args: Any) -> None:  # the program's output stays clean
                pass

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

            def _refuse_unauthorized(self) -> bool:
                if proxy.authorized(self.headers):
                    return False
                self._send_json(
                    401,
                    {"error": {
                        "message": "this proxy answers only its own run: send the OPENAI_API_KEY "
                        "it gave the program as 'Authorization: Bearer <key>'",
                        "type": "invalid_api_key",
                    }},
                )  # fmt: skip
                return True

            def do_GET(self) -> None:
                if self._refuse_unauthorized():
                    return
                if self.path.rstrip("/").endswith("/models"):
                    model = {"id": proxy.model_name, "object": "model", "owned_by": "agentracer"}
                    self._send_json(200, {"object": "list", "data": [model]})
                else:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})

            def do_POST(self) -> None:
                if self._refuse_unauthorized():  # before reading a stranger's body
                    self.close_connection = True
                    return
                try:
                    body = read_json_body(self.headers, self.rfile)
                except BadRequest as error:
                    self.close_connection = True  # what is left of the body cannot be trusted
                    self._send_json(error.status, {"error": {"message": error.reason}})
                    return
                except OSError:  # the program hung up, or never sent its body
                    self.close_connection = True
                    return
                if self.path.rstrip("/").endswith("/chat/completions"):
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
