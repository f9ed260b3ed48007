"""One interface for every place a verdict can go: `send` it (never blocks, never raises) and
`close` (flush, with a time limit, and say what could not be delivered).

A destination is named by a URL, as users name them (`open_sink`):

- `http(s)://HOST:PORT[/v1/logs]`: any OTLP/HTTP endpoint (a collector, Jaeger, Datadog,
  Langfuse, Phoenix's own collector), sent as `gen_ai.evaluation.result` events (`export.otlp`);
- `env`: the same, with the endpoint taken from the standard `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT`
  or `OTEL_EXPORTER_OTLP_ENDPOINT` variables;
- `phoenix+http(s)://HOST:PORT[?project=NAME]`: Arize Phoenix, as a span annotation on the
  blamed span (`export.phoenix`).

Headers, timeouts, compression and certificates of the OTLP exporter always come from the
standard `OTEL_EXPORTER_OTLP_*` variables, which the OpenTelemetry SDK reads itself.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from agentracer.errors import ExportError
from agentracer.trajectory import Trajectory, Verdict

log = logging.getLogger("agentracer.export")


@dataclass
class Delivery:
    """What a destination did with the verdicts it was given."""

    destination: str
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def fail(self, error: str) -> None:
        self.failed += 1
        if error not in self.errors:
            self.errors = [*self.errors, error][-5:]  # the last few distinct reasons

    def summary(self) -> str:
        """One line: how many verdicts reached the destination, and why the others did not."""
        text = f"{self.destination}: {self.sent} sent, {self.failed} not delivered"
        return text + (f" ({'; '.join(self.errors)})" if self.errors else "")


class VerdictSink(Protocol):
    """A destination for verdicts. `send` returns at once; delivery and retries happen on a
    background thread; `close` waits for them, at most `timeout` seconds."""

    destination: str

    def send(self, trajectory: Trajectory, verdict: Verdict) -> None: ...

    def close(self, timeout: float = 10.0) -> Delivery: ...


class BackgroundSender:
    """Delivers items on a daemon thread, retrying each with exponential backoff.

    `deliver(item)` raises to ask for a retry; after `attempts` tries the item is counted as
    failed with the last error. The queue is bounded: when it is full (the destination is down
    and verdicts keep coming), `put` drops the item and counts it, so the caller never waits.
    """

    def __init__(
        self,
        destination: str,
        deliver: Callable[[object], None],
        *,
        attempts: int = 4,
        backoff: float = 0.5,
        capacity: int = 1000,
    ) -> None:
        self.delivery = Delivery(destination)
        self._deliver = deliver
        self._attempts = attempts
        self._backoff = backoff
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=f"export {destination}", daemon=True)
        self._thread.start()

    def put(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            with self._lock:
                self.delivery.fail("the queue of verdicts to send is full")

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            self._send_one(item)

    def _send_one(self, item: object) -> None:
        error = ""
        for attempt in range(self._attempts):
            try:
                self._deliver(item)
            except Exception as failure:  # any failure of a destination is retried, then counted
                error = _reason(failure)
                log.debug("delivery to %s failed: %s", self.delivery.destination, error)
                if attempt + 1 < self._attempts and not self._closing.wait(
                    self._backoff * 2**attempt
                ):
                    continue
                break
            else:
                with self._lock:
                    self.delivery.sent += 1
                return
        with self._lock:
            self.delivery.fail(error)
        log.warning("could not send a verdict to %s: %s", self.delivery.destination, error)

    def close(self, timeout: float) -> Delivery:
        """Deliver what is queued, for at most `timeout` seconds; what is left is failed."""
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):
            self._queue.put(_STOP, timeout=max(0.0, timeout))
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            self._closing.set()  # stop waiting between retries
            self._thread.join(1.0)
        with self._lock:
            left = sum(1 for item in list(self._queue.queue) if item is not _STOP)
            for _ in range(left):
                self.delivery.fail(f"not sent within {timeout:g} s")
            return Delivery(**vars(self.delivery))


_STOP = object()


def _reason(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def open_sink(url: str, *, model: str | None = None) -> VerdictSink:
    """The destination named by `url` (see the module docstring); a bad name is an
    `ExportError` that lists the accepted forms."""
    url = url.strip()
    if url.startswith(("phoenix+http://", "phoenix+https://")):
        from agentracer.export.phoenix import PhoenixSink

        return PhoenixSink.from_url(url.removeprefix("phoenix+"), model=model)
    if url == "env" or url.startswith(("http://", "https://")):
        from agentracer.export.otlp import OtlpSink

        return OtlpSink(None if url == "env" else url, model=model)
    raise ExportError(
        f"cannot send verdicts to {url!r}: give an OTLP/HTTP endpoint (http://HOST:4318), "
        "`env` (the OTEL_EXPORTER_OTLP_* variables), or phoenix+http://HOST:6006"
    )
