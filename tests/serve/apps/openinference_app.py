"""A two-agent app calling an OpenAI-compatible server through the openai SDK, instrumented by
openinference-instrumentation-openai (LLM spans written by the instrumentor itself) under
AGENT spans, exported with OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT. The final answer is
checked and the run fails: the root CHAIN span ends with an error status.

    OPENAI_BASE_URL=... OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 python openinference_app.py
"""

from __future__ import annotations

from openai import OpenAI
from openinference.instrumentation.openai import OpenAIInstrumentor
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode

QUESTION = "A train leaves at 09:40 and arrives at 13:15. How many minutes is the journey?"


def main() -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "openinference-team"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    OpenAIInstrumentor().instrument(tracer_provider=provider)
    tracer = provider.get_tracer("openinference-team")
    client = OpenAI(api_key="not-needed")
    with tracer.start_as_current_span("team") as root:
        root.set_attribute("openinference.span.kind", "CHAIN")
        root.set_attribute("input.value", QUESTION)
        text = QUESTION
        for agent in ("Planner", "Solver"):
            with tracer.start_as_current_span(agent) as span:
                span.set_attribute("openinference.span.kind", "AGENT")
                span.set_attribute("agent.name", agent)
                reply = client.chat.completions.create(
                    model="scripted",
                    messages=[{"role": "system", "content": f"You are the {agent}."},
                              {"role": "user", "content": text}],
                )  # fmt: skip
                text = reply.choices[0].message.content or ""
        if "215" not in text:
            root.set_status(Status(StatusCode.ERROR, f"wrong answer: {text}"))
    provider.shutdown()


if __name__ == "__main__":
    main()
