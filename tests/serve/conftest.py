"""Fixtures for the receiver: a running service on a free loopback port, and a real
OpenTelemetry SDK tracer provider that exports to it."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.proto", reason="the serve extra is not installed")

from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from agentracer.formats.build import TrajectoryBuilder
from agentracer.serve.app import Service
from agentracer.serve.assemble import attribute_values
from agentracer.serve.server import ServerSettings
from agentracer.serve.worker import WorkerSettings
from agentracer.trajectory import StepKind, Trajectory


def span_assembler(document: dict[str, Any]) -> list[Trajectory]:
    """A stand-in importer for the worker's control-flow tests (restart, retry, refusal): every
    span with a `test.agent` attribute is one step (content `test.content`), in start order.
    Everything else goes through the real importers of the format registry."""
    spans = [
        span
        for resource in document["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    spans.sort(key=lambda s: int(s.get("startTimeUnixNano", 0)))
    builder = TrajectoryBuilder(id=spans[0]["traceId"], format="test-spans")
    for span in spans:
        attributes = attribute_values(span)
        if "test.agent" in attributes:
            builder.add(
                agent=str(attributes["test.agent"]),
                kind=StepKind(attributes.get("test.kind", "agent")),
                content=str(attributes.get("test.content", "")),
                source_id=span["spanId"],
            )
    return [builder.build()]


SERVER_KEYS = ("allow_hosts", "body_grace", "min_body_rate", "host")


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[Callable[..., Service]]:
    services: list[Service] = []

    def start(
        store: Path | None = None,
        *,
        settle: float = 0.2,
        tracer: str = "last-agent-step",
        assembler: Any = None,
        **worker: Any,
    ) -> Service:
        service = Service(
            store or tmp_path / "store",
            ServerSettings(
                port=0,
                max_body=worker.pop("max_body", 1 << 20),
                max_concurrent=worker.pop("max_concurrent", 16),
                **{key: worker.pop(key) for key in SERVER_KEYS if key in worker},
            ),
            WorkerSettings(settle=settle, tracer=tracer, poll=0.05, **worker),
            assembler=assembler,
        )
        service.start()
        services.append(service)
        return service

    yield start
    for service in services:
        service.stop()


@pytest.fixture
def sdk_provider() -> Iterator[Callable[..., TracerProvider]]:
    providers: list[TracerProvider] = []

    def make(endpoint: str, *, gzip: bool = False, **batch: Any) -> TracerProvider:
        exporter = OTLPSpanExporter(
            endpoint=f"{endpoint}/v1/traces",
            compression=Compression.Gzip if gzip else Compression.NoCompression,
        )
        provider = TracerProvider(resource=Resource.create({"service.name": "test-app"}))
        provider.add_span_processor(BatchSpanProcessor(exporter, **batch))
        providers.append(provider)
        return provider

    yield make
    for provider in providers:
        provider.shutdown()


def interruptible() -> None:
    """`preexec_fn` for a server the test stops with SIGINT: a shell that starts the suite in
    the background (`pytest &`) leaves SIGINT ignored, children inherit that, and Python then
    keeps ignoring it, so Ctrl-C would never reach the server."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


from tests.browser import browser, page  # noqa: E402, F401  (the real-browser fixtures)
