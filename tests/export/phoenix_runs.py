"""Runs sent to a real Phoenix by the real OpenTelemetry SDK: the OpenInference-instrumented
OpenAI program of the importer tests (a failed three-agent run, against the scripted loopback
model), and a small successful run."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode

from agentracer.formats import load_file
from tests.formats.data.make_otel_traces import openinference_program, script
from tests.llm.loopback import ScriptedServer

PROJECT = "agents"
PROJECT_ATTRIBUTE = "openinference.project.name"  # how Phoenix routes spans to a project


@dataclass
class SentRuns:
    failed_trace: str
    ok_trace: str
    failed_file: Path  # the failed run as OTLP/JSON, the same ids as in Phoenix
    span_of_step: dict[int, str]  # the failed run's step -> span id


@contextmanager
def _project_resource(project: str):  # type: ignore[no-untyped-def]
    old = os.environ.get("OTEL_RESOURCE_ATTRIBUTES")
    os.environ["OTEL_RESOURCE_ATTRIBUTES"] = f"{PROJECT_ATTRIBUTE}={project}"
    try:
        yield
    finally:
        if old is None:
            del os.environ["OTEL_RESOURCE_ATTRIBUTES"]
        else:
            os.environ["OTEL_RESOURCE_ATTRIBUTES"] = old


def _send_ok_run(url: str, project: str) -> str:
    provider = TracerProvider(resource=Resource.create({PROJECT_ATTRIBUTE: project}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{url}/v1/traces")))
    tracer = provider.get_tracer("ok_run")
    with tracer.start_as_current_span("team") as root:
        root.set_attribute("openinference.span.kind", "CHAIN")
        root.set_attribute("input.value", "What is 2 + 2?")
        with tracer.start_as_current_span("Solver") as agent:
            agent.set_attribute("openinference.span.kind", "AGENT")
            agent.set_attribute("agent.name", "Solver")
            with tracer.start_as_current_span("ChatCompletion") as llm:
                llm.set_attribute("openinference.span.kind", "LLM")
                llm.set_attribute("llm.output_messages.0.message.role", "assistant")
                llm.set_attribute("llm.output_messages.0.message.content", "4")
        root.set_status(Status(StatusCode.OK))
        trace_id = format(root.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


def wait_for_spans(url: str, project: str, trace_id: str, count: int) -> None:
    """Phoenix stores spans asynchronously: wait until all `count` of the trace are there."""
    deadline = time.monotonic() + 60
    while True:
        body = httpx.get(
            f"{url}/v1/projects/{project}/spans/otlpv1",
            params={"trace_id": trace_id, "limit": 1000},
            timeout=10,
        ).json()
        if len(body.get("data", [])) >= count:
            return
        assert time.monotonic() < deadline, f"Phoenix holds {len(body['data'])}/{count} spans"
        time.sleep(0.5)


def send_runs(url: str, directory: Path, project: str = PROJECT) -> SentRuns:
    failed_file = directory / "failed_run.json"
    with ScriptedServer() as model, _project_resource(project):
        model.script = script()
        openinference_program(
            model.base_url, failed_file, OTLPSpanExporter(endpoint=f"{url}/v1/traces")
        )
    [failed] = load_file(failed_file)
    ok_trace = _send_ok_run(url, project)
    n_spans = sum(len(scope["spans"]) for r in _doc(failed_file) for scope in r["scopeSpans"])
    wait_for_spans(url, project, failed.id, n_spans)
    wait_for_spans(url, project, ok_trace, 3)
    spans = {s.index: s.source_id for s in failed.steps if s.source_id}
    return SentRuns(failed.id, ok_trace, failed_file, spans)  # type: ignore[arg-type]


def _doc(path: Path) -> list[dict[str, Any]]:
    import json

    return list(json.loads(path.read_text())["resourceSpans"])


def annotations(url: str, project: str, span_ids: list[str]) -> list[dict[str, Any]]:
    """The span annotations Phoenix's own API returns for these spans."""
    response = httpx.get(
        f"{url}/v1/projects/{project}/span_annotations",
        params={"span_ids": span_ids, "limit": 1000},
        timeout=10,
    )
    response.raise_for_status()
    return list(response.json()["data"])
