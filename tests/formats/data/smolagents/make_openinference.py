"""Write `smolagents/openinference_managed.json` with real smolagents (1.26) instrumented by
`openinference-instrumentation-smolagents`, against the scripted loopback server.

A `manager` ToolCallingAgent plans first (once, before its first step), then gives a task to its
managed agent `researcher`. The researcher's tool `get_population` fails (the census service is
down), so the researcher guesses "about 3 million" and returns it; the manager passes it on as
its final answer. After the run, the harness makes one more model call outside any agent (an
answer-extraction call, as benchmark harnesses do) to pull the number out of the answer.

Spans are collected in memory and written as one OTLP/JSON document, encoded by the SDK's own
OTLP encoder (`otlp_json_from_sdk_spans`). The harness wraps the run and the extraction in one
`CHAIN` span (one trace), which, as a harness's span often does, has no `input.value`: the
task is only in the top agent span's input (`{"task": ...}`).

Run from the repository root: `python -m tests.formats.data.smolagents.make_openinference`.
"""

from __future__ import annotations

import json
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from smolagents import (
    ChatMessage,
    LogLevel,
    MessageRole,
    OpenAIServerModel,
    ToolCallingAgent,
    tool,
)

from agentracer.formats.otlp import otlp_json_from_sdk_spans
from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("openinference_managed.json")
TASK = "What is the population of Paris?"
PLAN = "1. Ask the researcher for the population of Paris.\n2. Report it."
WRONG = "about 3 million"
EXTRACTED = "3000000"


def script() -> list:  # type: ignore[type-arg]
    """The model's replies, in the order the run asks for them."""
    return [
        text(PLAN),  # the manager's planning step
        tool_call("researcher", {"task": "Find the population of Paris."}, "call_task_1"),
        tool_call("get_population", {"city": "Paris"}, "call_pop_1"),  # fails
        tool_call("final_answer", {"answer": WRONG}, "call_final_1"),
        tool_call("final_answer", {"answer": f"Paris has {WRONG} inhabitants."}, "call_final_2"),
        text(EXTRACTED),  # the harness's answer extraction, after the run
    ]


@tool
def get_population(city: str) -> str:
    """The population of a city, from the census service.

    Args:
        city: the city's name.
    """
    raise ConnectionError(f"the census service is down; no figure for {city}")


def run(base_url: str) -> tuple[list[ReadableSpan], str]:
    """Run the instrumented agents against `base_url`: their spans, and the extracted answer."""
    from openinference.instrumentation.smolagents import SmolagentsInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = SmolagentsInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with provider.get_tracer("harness").start_as_current_span("harness run") as span:
            span.set_attribute("openinference.span.kind", "CHAIN")
            extracted = _run_and_extract(base_url)
    finally:
        instrumentor.uninstrument()
    provider.shutdown()
    return list(exporter.get_finished_spans()), extracted


def _run_and_extract(base_url: str) -> str:
    model = OpenAIServerModel(model_id="scripted", api_base=base_url, api_key="test")
    quiet = LogLevel.OFF  # no console panels
    researcher = ToolCallingAgent(
        tools=[get_population], model=model, name="researcher",
        description="Looks up facts with its tools.", max_steps=4, verbosity_level=quiet,
    )  # fmt: skip
    manager = ToolCallingAgent(
        tools=[], model=model, managed_agents=[researcher], name="manager", max_steps=4,
        planning_interval=10, verbosity_level=quiet,  # one plan, before the first step
    )  # fmt: skip
    answer = manager.run(TASK)
    prompt = f"Extract the number from: {answer}"
    message = ChatMessage(role=MessageRole.USER, content=[{"type": "text", "text": prompt}])
    return str(model.generate([message]).content)


def write(out: Path = OUT) -> None:
    with ScriptedServer() as server:
        server.script = script()
        spans, extracted = run(server.base_url)
    print("extracted:", extracted)
    document = otlp_json_from_sdk_spans(spans)
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main() -> None:
    write()


if __name__ == "__main__":
    main()
