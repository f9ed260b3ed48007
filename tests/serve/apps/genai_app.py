"""A small two-agent 'team' instrumented by hand with the OpenTelemetry SDK, following the GenAI
semantic conventions (invoke_agent / chat / execute_tool spans). It exports with the OTLP/HTTP
exporter configured only by OTEL_EXPORTER_OTLP_ENDPOINT, as a user's app would, and fails: the
Solver's arithmetic is wrong, so the root span ends with an error status.

    OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python genai_app.py
"""

from __future__ import annotations

import json

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

QUESTION = "A train leaves at 09:40 and arrives at 13:15. How many minutes is the journey?"


def messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "genai-team"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("genai-team")
    with tracer.start_as_current_span("invoke_agent team") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "team")
        for agent, answer in (
            ("Planner", "Plan: Solver computes the minutes from 09:40 to 13:15."),
            ("Solver", "From 09:40 to 13:15 is 3 h 25 min = 205 minutes."),
        ):
            with tracer.start_as_current_span(f"invoke_agent {agent}") as span:
                span.set_attribute("gen_ai.operation.name", "invoke_agent")
                span.set_attribute("gen_ai.agent.name", agent)
                with tracer.start_as_current_span("chat scripted", kind=SpanKind.CLIENT) as chat:
                    chat.set_attribute("gen_ai.operation.name", "chat")
                    chat.set_attribute("gen_ai.request.model", "scripted")
                    chat.set_attribute("gen_ai.input.messages", messages("user", QUESTION))
                    chat.set_attribute("gen_ai.output.messages", messages("assistant", answer))
        root.set_status(Status(StatusCode.ERROR, "wrong answer: 205, expected 215"))
    provider.shutdown()  # flushes the batch span processor


if __name__ == "__main__":
    main()
