"""`agentracer serve`: the OTLP/HTTP trace receiver and the web UI on one port.

`POST /v1/traces` takes an OTLP export request (protobuf or JSON, optionally gzip), validates
all of it, commits its spans to the store and only then answers 200, so an acknowledged span
survives a crash. A body over the size limit is 413, a malformed one 400 with the reason, and
in both cases nothing of it is stored. The same server renders the UI (`GET /`, `GET
/traces/ID`) and hands out trajectories (`GET /traces/ID/trajectory.json`).

Each connection has a thread (stdlib `ThreadingHTTPServer`). A body must come with a valid
`Content-Length` (a negative or non-numeric one is 400, none 411) and arrive in time: after a
grace period it must keep up a minimum rate, else 408 and the connection is closed. At most
`4 x max_concurrent` bodies are read at once, and only a body that is wholly in takes one of the
`max_concurrent` ingest slots (decode and commit): a slow client can hold a reader for a bounded
time, never an ingest slot. Under load a new export waits with its body still in the socket
instead of piling up in memory: the back-pressure an exporter's retry logic expects.

Every request must name this server in its `Host` header (the bound address, `localhost`,
`127.0.0.1`, `[::1]`, or a name given with `--allow-host`), else 403: a web page that rebinds
its own DNS name to 127.0.0.1 cannot read the traces or send spans.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from agentracer.serve.otlp import JSON, PROTOBUF, OtlpError, decode_request, decompress
from agentracer.serve.pages import render, render_trace, trace_page
from agentracer.serve.store import StoreError, TraceStore

log = logging.getLogger("agentracer.serve")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4318  # the OTLP/HTTP port
DEFAULT_MAX_BODY = 16 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass
class ServerSettings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_body: int = DEFAULT_MAX_BODY
    max_concurrent: int = 16
    allow_hosts: tuple[str, ...] = ()
    """More names the `Host` header may give (`*`: any), besides the bound address's."""
    body_grace: float = 10.0
    """Seconds any body may take to arrive, before the minimum rate applies."""
    min_body_rate: int = 64 * 1024
    """Bytes per second a body must average beyond the grace period (else 408)."""


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


WILDCARD = ("", "0.0.0.0", "::")


def address_family(host: str, port: int) -> socket.AddressFamily:
    """IPv6 for an IPv6 address or a name that resolves only to one (the stdlib server is
    IPv4-only: `--host ::` failed)."""
    if _is_ip_literal(host):
        return socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        families = {info[0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}
    except socket.gaierror:
        return socket.AF_INET  # binding then fails with the resolver's reason
    return socket.AF_INET if socket.AF_INET in families or not families else socket.AF_INET6


def host_names(bound: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    """The names a request's `Host` may give (without port, lower case, IPv6 in brackets)."""
    names = {"127.0.0.1", "localhost", "[::1]", *(_bare(name) for name in extra)}
    names.add(_bare(f"[{bound}]" if ":" in bound else bound))
    if bound in WILDCARD:  # every address of this machine: its name, and IP literals (below)
        names.add(socket.gethostname().lower())
    return frozenset(names)


def _bare(host: str) -> str:
    """`Host` without its port: `[::1]:4318` -> `[::1]`, `localhost:4318` -> `localhost`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class TraceServer(ThreadingHTTPServer):
    """The HTTP server; `store` is shared by the handler threads."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, settings: ServerSettings, store: TraceStore) -> None:
        self.settings = settings
        self.store = store
        self.slots = threading.BoundedSemaphore(settings.max_concurrent)
        self.readers = threading.BoundedSemaphore(4 * settings.max_concurrent)
        self.host_names = host_names(settings.host, settings.allow_hosts)
        self.received = 0  # spans accepted (new or duplicate) since start
        self._count_lock = threading.Lock()
        # The listen backlog: the stdlib's 5 dropped connections when 200 clients came at once.
        # Connections are accepted by one thread and handed to their own at once, so the
        # backlog need only hold a burst; it scales with the slots (the kernel caps it at
        # net.core.somaxconn).
        self.request_queue_size = 64 * settings.max_concurrent
        self.address_family = address_family(settings.host, settings.port)
        super().__init__((settings.host, settings.port), _Handler)

    @property
    def endpoint(self) -> str:
        address, port = self.server_address[:2]
        host = address.decode() if isinstance(address, bytes) else str(address)
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}"

    def count(self, n: int) -> None:
        with self._count_lock:
            self.received += n

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (reset, broken pipe, timeout) is routine, not a traceback on
        the console; anything else is logged with its traceback, once."""
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            log.debug("client %s went away: %s", client_address[0], error)
        else:
            log.error("request from %s failed", client_address[0], exc_info=error)

    def host_allowed(self, host: str | None) -> bool:
        """Whether a request's `Host` names this server (DNS rebinding gives another name).
        No `Host` at all (HTTP/1.0 clients) is allowed: a browser always sends one."""
        if host is None or "*" in self.host_names:
            return True
        bare = _bare(host)
        if bare in self.host_names:
            return True
        # Bound to every address: an IP literal reaches it only if it is this machine's; DNS
        # rebinding needs a name, so any literal is safe to accept.
        return self.settings.host in WILDCARD and _is_ip_literal(bare)


class _Handler(BaseHTTPRequestHandler):
    server: TraceServer
    protocol_version = "HTTP/1.1"  # keep-alive, as OTLP exporters expect
    timeout = 120  # an idle keep-alive connection is closed after this many seconds

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    # -- OTLP --------------------------------------------------------------------------------

    def do_POST(self) -> None:
        if not self._host_checked():
            return
        if urlsplit(self.path).path != "/v1/traces":
            self._drain()
            self._send_text(HTTPStatus.NOT_FOUND, "only POST /v1/traces is served here")
            return
        limit = self.server.settings.max_body
        length = self._content_length()
        if length is None:
            return
        if length > limit:
            self.close_connection = True  # do not read a body we refuse
            self._otlp_error(OtlpError(f"the request is over {limit} bytes", status=413))
            return
        content_type = self.headers.get("Content-Type")
        # Reading is bounded (count and time); the ingest slots are taken only once the whole
        # body is in, so a slow client never holds one.
        with self.server.readers:
            body = self._read_body(length)
        if body is None:
            self.close_connection = True
            self._send_text(HTTPStatus.REQUEST_TIMEOUT, "the request body did not arrive in time")
            return
        # Back-pressure: at most `max_concurrent` bodies are decoded and committed at once.
        with self.server.slots:
            try:
                data = decompress(body, self.headers.get("Content-Encoding"), limit=limit)
                spans = decode_request(data, content_type)
                # Commit before acknowledging: when the 200 leaves, the spans are on disk.
                self.server.store.put_spans(spans)
            except OtlpError as error:
                self._otlp_error(error)
                return
            except StoreError as error:  # disk full, store deleted: retryable, nothing stored
                log.error("%s", error.one_line())
                self._otlp_error(OtlpError(error.one_line(), status=503), retry_after=5)
                return
            except Exception as error:  # a bug: an answer, not a dropped connection
                log.exception("export request failed")
                self._otlp_error(OtlpError(f"internal error ({type(error).__name__})", status=500))
                return
        self.server.count(len(spans))
        if (content_type or "").startswith(PROTOBUF):
            self._send(HTTPStatus.OK, b"", PROTOBUF)  # an empty ExportTraceServiceResponse
        else:
            self._send(HTTPStatus.OK, b"{}", JSON)

    def _content_length(self) -> int | None:
        """The body's length, or None after answering 411 (none given) or 400 (not a
        non-negative decimal number: a `-1` would otherwise be read until the client closes)."""
        raw = self.headers.get_all("Content-Length") or []
        keep_alive = not self.close_connection
        self.close_connection = True  # until the length is known, the stream cannot be reused
        if not raw:
            self._send_text(HTTPStatus.LENGTH_REQUIRED, "a Content-Length header is required")
            return None
        values = {value.strip() for value in raw}
        value = values.pop()
        if values or not value.isascii() or not value.isdigit() or len(value) > 18:
            self._send_text(
                HTTPStatus.BAD_REQUEST,
                f"Content-Length must be one non-negative number of bytes, got {', '.join(raw)!r:.80}",
            )
            return None
        self.close_connection = not keep_alive
        return int(value)

    def _read_body(self, length: int) -> bytes | None:
        """`length` bytes of body, or None when the client closes or is too slow: the body
        must arrive within the grace period plus `length / min_body_rate` seconds."""
        settings = self.server.settings
        deadline = time.monotonic() + settings.body_grace + length / settings.min_body_rate
        chunks: list[bytes] = []
        remaining = length
        try:
            while remaining:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.connection.settimeout(left)
                chunk = self.rfile.read1(min(remaining, 1 << 20))
                if not chunk:
                    return None
                chunks.append(chunk)
                remaining -= len(chunk)
        except (TimeoutError, OSError):
            return None
        finally:
            self.connection.settimeout(self.timeout)
        return b"".join(chunks)

    def _host_checked(self) -> bool:
        """True if the `Host` header names this server; else answers 403 and returns False."""
        host = self.headers.get("Host")
        if self.server.host_allowed(host):
            return True
        self.close_connection = True
        self._send_text(
            HTTPStatus.FORBIDDEN,
            f"Host {host!r:.100} is not a name of this server (a page using DNS rebinding?); "
            "if it is yours, start `agentracer serve --allow-host NAME`",
        )
        return False

    def _otlp_error(self, error: OtlpError, *, retry_after: int | None = None) -> None:
        # OTLP asks for a google.rpc.Status; its JSON form carries the message for people too.
        code = 14 if error.status == 503 else 13 if error.status == 500 else 3  # UNAVAILABLE..
        payload = json.dumps({"code": code, "message": error.one_line()}).encode()
        extra = {} if retry_after is None else {"Retry-After": str(retry_after)}
        self._send(HTTPStatus(error.status), payload, JSON, extra)

    def _drain(self) -> None:
        raw = (self.headers.get("Content-Length") or "0").strip()
        length = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else -1
        if 0 < length <= self.server.settings.max_body and self._read_body(length) is not None:
            return
        if length:
            self.close_connection = True

    # -- UI ----------------------------------------------------------------------------------

    def do_GET(self) -> None:
        if not self._host_checked():
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        parts = [p for p in url.path.split("/") if p]
        routes: dict[tuple[str, ...], Callable[[], None]] = {
            (): lambda: self._list(query),
            ("api", "traces"): lambda: self._api_list(query),
            ("healthz",): lambda: self._send_text(HTTPStatus.OK, "ok"),
        }
        try:
            if tuple(parts) in routes:
                routes[tuple(parts)]()
            elif len(parts) == 2 and parts[0] == "traces":
                self._trace(parts[1])
            elif len(parts) == 3 and parts[0] == "traces" and parts[2] == "trajectory.json":
                self._trajectory(parts[1])
            else:
                self._send_text(HTTPStatus.NOT_FOUND, "not found")
        except (StoreError, sqlite3.Error) as error:  # the store is gone or broken
            reason = error.one_line() if isinstance(error, StoreError) else str(error)
            self._send_text(HTTPStatus.SERVICE_UNAVAILABLE, f"cannot read the store ({reason})")

    def _list(self, query: dict[str, str]) -> None:
        show = query.get("show", "all")
        failed = {"failed": True, "ok": False}.get(show)
        traces = self.server.store.list_traces(failed=failed)
        html = render(
            "list.html", traces=traces, show=show, live=True,
            store_path=str(self.server.store.path), endpoint=self.server.endpoint,
        )  # fmt: skip
        self._send(HTTPStatus.OK, html.encode(), "text/html; charset=utf-8")

    def _api_list(self, query: dict[str, str]) -> None:
        failed = {"1": True, "true": True, "0": False, "false": False}.get(query.get("failed", ""))
        rows = [summary_json(t) for t in self.server.store.list_traces(failed=failed)]
        self._send(HTTPStatus.OK, json.dumps(rows).encode(), JSON)

    def _trace(self, trace_id: str) -> None:
        stored = self.server.store.get_trace(trace_id)
        if stored is None:
            self._send_text(HTTPStatus.NOT_FOUND, f"no trace {trace_id!r} in this store")
            return
        summary = stored.summary
        facts = [
            ("trace id", summary.trace_id),
            ("spans", str(summary.n_spans)),
            ("state", summary.state),
        ]
        if stored.trajectory is None:
            html = render("pending.html", summary=summary, spans=stored.spans, live=True)
        else:
            reasons = stored.trajectory.metadata.get("failed_because") or []
            facts += [("failed because", "; ".join(map(str, reasons)))] if reasons else []
            page = trace_page(
                stored.trajectory, summary.verdicts, title=summary.root_name or trace_id,
                facts=facts, problems=[summary.problem] if summary.problem else [],
            )  # fmt: skip
            html = render_trace(page, live=True)
        self._send(HTTPStatus.OK, html.encode(), "text/html; charset=utf-8")

    def _trajectory(self, trace_id: str) -> None:
        stored = self.server.store.get_trace(trace_id)
        if stored is None or stored.trajectory is None:
            self._send_text(HTTPStatus.NOT_FOUND, f"trace {trace_id!r} has no trajectory yet")
            return
        self._send(HTTPStatus.OK, stored.trajectory.model_dump_json(indent=2).encode(), JSON)

    # -- plumbing ----------------------------------------------------------------------------

    def _send_text(self, status: HTTPStatus, text: str) -> None:
        self._send(status, text.encode(), "text/plain; charset=utf-8")

    def _send(
        self, status: HTTPStatus, payload: bytes, content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)


def summary_json(summary: Any) -> dict[str, Any]:
    """A trace summary as JSON (for `/api/traces` and `traces list --json`)."""
    verdict = summary.verdict
    return {
        "trace_id": summary.trace_id,
        "root": summary.root_name,
        "state": summary.state,
        "failed": summary.failed,
        "agents": summary.agents,
        "steps": summary.n_steps,
        "spans": summary.n_spans,
        "first_seen": summary.first_seen,
        "last_seen": summary.last_seen,
        "problem": summary.problem,
        "attempts": summary.attempts,
        "verdict": None if verdict is None else verdict.model_dump(mode="json"),
    }
