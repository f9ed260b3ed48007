"""Verdicts as OpenTelemetry GenAI evaluation events, sent to any OTLP/HTTP endpoint.

Each verdict is one `gen_ai.evaluation.result` event (the GenAI semantic conventions: a log
record with that event name), parented to the blamed step's span when the run came from a
trace, so a tracing backend shows it on that span:

- `gen_ai.evaluation.name`: `agentracer.blame`;
- `gen_ai.evaluation.score.value`: the verdict's confidence (absent when the tracer gives none);
- `gen_ai.evaluation.score.label`: `blamed` (or `no_verdict` when no step was named);
- `gen_ai.evaluation.explanation`: the reason, the evidence quotes and the suggested fix;
- ours: `agentracer.agent`, `agentracer.step`, `agentracer.category`,
  `agentracer.suggested_fix`, `agentracer.tracer`, `agentracer.model`,
  `agentracer.trajectory.id`, `agentracer.step.source_id`.

The records go through the SDK's own `BatchLogRecordProcessor` and `OTLPLogExporter`
(`opentelemetry-exporter-otlp-proto-http`): exporting happens on the SDK's thread, with the
SDK's retries; `close` flushes within a time limit and reports what was not delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, cast
from urllib.parse import urlsplit

from agentracer.errors import ExportError, install_hint
from agentracer.export.base import Delivery
from agentracer.export.blame import EVALUATION_NAME, Blame, blame_of
from agentracer.trajectory import Trajectory, Verdict

EVENT_NAME = "gen_ai.evaluation.result"
LOGS_PATH = "/v1/logs"
INSTALL_HINT = install_hint("export")


def logs_endpoint(url: str) -> str:
    """The OTLP/HTTP logs URL for a base endpoint (`http://host:4318` -> `.../v1/logs`), as
    `OTEL_EXPORTER_OTLP_ENDPOINT` is read; a URL already ending in `/v1/logs` is kept."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ExportError(f"{url!r} is not an http(s) URL of an OTLP endpoint")
    if parts.path.rstrip("/").endswith(LOGS_PATH):
        return url
    return url.rstrip("/") + LOGS_PATH


def event_attributes(blame: Blame) -> dict[str, Any]:
    """The event's attributes: the conventions' evaluation fields, then ours (no empty ones)."""
    attributes: dict[str, Any] = {
        "gen_ai.evaluation.name": EVALUATION_NAME,
        "gen_ai.evaluation.score.value": blame.score,
        "gen_ai.evaluation.score.label": blame.label,
        "gen_ai.evaluation.explanation": blame.explanation,
        "agentracer.agent": blame.agent,
        "agentracer.step": blame.step,
        "agentracer.category": blame.category,
        "agentracer.suggested_fix": blame.suggested_fix,
        "agentracer.tracer": blame.tracer,
        "agentracer.model": blame.model,
        "agentracer.trajectory.id": blame.trajectory_id,
        "agentracer.step.source_id": blame.source_id,
    }
    return {key: value for key, value in attributes.items() if value not in (None, "")}


class OtlpSink:
    """Sends each verdict as a `gen_ai.evaluation.result` event to one OTLP/HTTP endpoint
    (`None`: the endpoint of the standard `OTEL_EXPORTER_OTLP_*` variables)."""

    def __init__(self, url: str | None, *, model: str | None = None) -> None:
        try:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
            from opentelemetry.sdk._logs import LoggerProvider
            from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
            from opentelemetry.sdk.resources import Resource
        except ImportError as error:
            raise ExportError(
                f"sending verdicts over OTLP needs the OpenTelemetry SDK ({error.name} is "
                f"missing): {INSTALL_HINT}"
            ) from None
        exporter = OTLPLogExporter(endpoint=None if url is None else logs_endpoint(url))
        self.destination = f"OTLP {exporter._endpoint}"
        self.model = model
        self._counter = _CountingExporter(exporter, self.destination)
        self._provider = LoggerProvider(
            resource=Resource.create({"service.name": "agentracer"}), shutdown_on_exit=False
        )
        # duck-typed as the SDK's LogRecordExporter, which is imported only when one is made
        self._provider.add_log_record_processor(BatchLogRecordProcessor(cast(Any, self._counter)))
        self._logger = self._provider.get_logger("agentracer", _version())

    def send(self, trajectory: Trajectory, verdict: Verdict) -> None:
        """Queue the verdict's event; the SDK exports it in the background."""
        blame = blame_of(trajectory, verdict, model=self.model)
        try:
            self._logger.emit(
                event_name=EVENT_NAME,
                context=_span_context(blame),
                body=blame.explanation,
                attributes=event_attributes(blame),
            )
        except Exception as error:  # exporting must never fail an attribution
            self._counter.delivery.fail(f"{type(error).__name__}: {error}")

    def close(self, timeout: float = 10.0) -> Delivery:
        """Flush within `timeout` seconds and stop; what did not arrive is counted as failed."""
        flushed = self._provider.force_flush(int(timeout * 1000))
        self._provider.shutdown()
        delivery = self._counter.delivery
        if not flushed:
            delivery.errors = [*delivery.errors, f"not all sent within {timeout:g} s"]
        return delivery


def _span_context(blame: Blame) -> Any:
    """A context whose current span is the blamed step's span (remote, sampled), or None."""
    if not blame.parented:
        return None
    from opentelemetry import trace

    assert blame.trace_id is not None and blame.span_id is not None
    parent = trace.SpanContext(
        trace_id=int(blame.trace_id, 16),
        span_id=int(blame.span_id, 16),
        is_remote=True,
        trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(parent))


class _CountingExporter:
    """The SDK's exporter, counting what each export delivered (the SDK only logs it)."""

    def __init__(self, exporter: Any, destination: str) -> None:
        self._exporter = exporter
        self.delivery = Delivery(destination)
        self._errors = _ErrorCapture()

    def export(self, batch: Sequence[Any]) -> Any:
        from opentelemetry.sdk._logs.export import LogRecordExportResult

        with self._errors:
            try:
                result = self._exporter.export(batch)
            except Exception as error:  # a broken exporter must not end the SDK's thread
                self._errors.messages.append(f"{type(error).__name__}: {error}")
                result = LogRecordExportResult.FAILURE
        if result == LogRecordExportResult.SUCCESS:
            self.delivery.sent += len(batch)
        else:
            reason = self._errors.last() or "the endpoint refused the events"
            for _ in batch:
                self.delivery.fail(reason)
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return bool(self._exporter.force_flush(timeout_millis))


class _ErrorCapture(logging.Handler):
    """Collects what the OTLP exporter logs while it exports (the reason a batch failed)."""

    _LOGGER = "opentelemetry.exporter.otlp"

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(" ".join(record.getMessage().split()))

    def last(self) -> str:
        return self.messages[-1] if self.messages else ""

    def __enter__(self) -> _ErrorCapture:
        self.messages = []
        logging.getLogger(self._LOGGER).addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logging.getLogger(self._LOGGER).removeHandler(self)


def _version() -> str:
    from agentracer import __version__

    return __version__
