"""Write the OpenTelemetry test traces with the real libraries, against a scripted loopback
OpenAI-compatible server (tests/llm/loopback.py).

    python tests/formats/data/make_otel_traces.py [OUT_DIR]   # default: beside this script

- `otel_genai.jsonl`: a three-agent program (Planner, Researcher with a tool, Writer) traced by
  the OpenTelemetry SDK with the GenAI semantic conventions (`invoke_agent`, `chat`,
  `execute_tool` spans; `gen_ai.input.messages` / `gen_ai.output.messages`), each model call made
  by the real `openai` SDK; then a second run in the older conventions (`gen_ai.prompt.N.*` /
  `gen_ai.completion.N.*`, and `gen_ai.prompt`/`gen_ai.completion` JSON), one model span of which
  names no agent. Exported one batch per line as the collector's file exporter writes, encoded
  with the SDK's OTLP encoder (`otlp_json_from_sdk_spans`), so children come before parents.
- `openinference_openai.json`: the real `openai` SDK instrumented by
  `openinference-instrumentation-openai` (LLM spans written by the instrumentation), inside AGENT
  and TOOL spans made with the OpenInference semantic conventions, as one OTLP/JSON document.

The Writer's answer (21.0 million) is the decisive mistake in both runs; tests look for it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repository root, for tests.*

import openai

from agentracer.formats.otlp import otlp_json_from_sdk_spans
from tests.llm.loopback import Reply, ScriptedServer, completion

TASK = "What is the population of the capital of France, in millions?"
PLAN = "Plan: Researcher looks up the capital's population; Writer states it in millions."
FOUND = "Paris has 2,102,650 inhabitants (city proper, 2023)."
WRONG = "The capital of France, Paris, has about 21.0 million inhabitants."
TOOL_RESULT = "2102650"


def tool_call_completion(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    body = completion("")
    body["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(arguments)},
            }
        ],
    }
    body["choices"][0]["finish_reason"] = "tool_calls"
    return body


class JsonLinesExporter(SpanExporter):
    """Appends each export batch as one OTLP/JSON line, like the collector's file exporter."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.write_text("", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(otlp_json_from_sdk_spans(spans)) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


def _parts_message(role: str, text: str | None = None, **extra: Any) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if text:
        parts.append({"type": "text", "content": text})
    if "tool_call" in extra:
        parts.append({"type": "tool_call", **extra["tool_call"]})
    if "tool_call_response" in extra:
        parts.append({"type": "tool_call_response", **extra["tool_call_response"]})
    message: dict[str, Any] = {"role": role, "parts": parts}
    if role == "assistant":
        message["finish_reason"] = "tool_call" if "tool_call" in extra else "stop"
    return message


def _output_message(choice: Any) -> dict[str, Any]:
    message = choice.message
    if message.tool_calls:
        call = message.tool_calls[0]
        return _parts_message(
            "assistant",
            message.content,
            tool_call={
                "id": call.id,
                "name": call.function.name,
                "arguments": json.loads(call.function.arguments),
            },
        )
    return _parts_message("assistant", message.content)


def genai_program(base_url: str, out: Path) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(out)))
    tracer = provider.get_tracer("multi_agent_demo")
    client = openai.OpenAI(base_url=base_url, api_key="loopback", max_retries=0)

    def chat(agent: str | None, messages: list[dict[str, Any]]) -> Any:
        with tracer.start_as_current_span("chat scripted") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", "scripted")
            if agent:
                span.set_attribute("gen_ai.agent.name", agent)
            span.set_attribute("gen_ai.input.messages", json.dumps(messages))
            plain = [_plain(m) for m in messages]
            response = client.chat.completions.create(model="scripted", messages=plain)  # type: ignore[arg-type]
            span.set_attribute("gen_ai.response.model", response.model)
            span.set_attribute("gen_ai.response.id", response.id)
            span.set_attribute(
                "gen_ai.output.messages", json.dumps([_output_message(response.choices[0])])
            )
            return response.choices[0].message

    with tracer.start_as_current_span("invoke_agent TripTeam") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "TripTeam")
        user = _parts_message("user", TASK)
        root.set_attribute("gen_ai.input.messages", json.dumps([user]))
        with tracer.start_as_current_span("invoke_agent Planner") as span:
            span.set_attribute("gen_ai.operation.name", "invoke_agent")
            span.set_attribute("gen_ai.agent.name", "Planner")
            plan = chat(None, [user]).content
        with tracer.start_as_current_span("invoke_agent Researcher") as span:
            span.set_attribute("gen_ai.operation.name", "invoke_agent")
            span.set_attribute("gen_ai.agent.name", "Researcher")
            history = [user, _parts_message("assistant", plan)]
            call = chat(None, history).tool_calls[0]
            arguments = json.loads(call.function.arguments)
            with tracer.start_as_current_span(f"execute_tool {call.function.name}") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_attribute("gen_ai.tool.name", call.function.name)
                tool.set_attribute("gen_ai.tool.call.id", call.id)
                tool.set_attribute("gen_ai.tool.type", "function")
                tool.set_attribute("gen_ai.tool.call.arguments", json.dumps(arguments))
                tool.set_attribute("gen_ai.tool.call.result", TOOL_RESULT)
            history += [
                _parts_message(
                    "assistant",
                    tool_call={"id": call.id, "name": call.function.name, "arguments": arguments},
                ),
                _parts_message("tool", tool_call_response={"id": call.id, "response": TOOL_RESULT}),
            ]
            found = chat(None, history).content
        with tracer.start_as_current_span("invoke_agent Writer") as span:
            span.set_attribute("gen_ai.operation.name", "invoke_agent")
            span.set_attribute("gen_ai.agent.name", "Writer")
            answer = chat(None, [user, _parts_message("user", found)]).content
        if "2.1" not in answer:
            error = ValueError(f"wrong answer: {answer}")
            root.record_exception(error)
            root.set_status(Status(StatusCode.ERROR, "the answer failed the check"))

    # The second run: older conventions, agents on the model spans, one span with no agent.
    with tracer.start_as_current_span("workflow") as root:
        with tracer.start_as_current_span("chat scripted") as span:
            span.set_attribute("gen_ai.system", "openai")
            span.set_attribute("gen_ai.agent.name", "Coder")
            span.set_attribute("gen_ai.prompt.0.role", "user")
            span.set_attribute("gen_ai.prompt.0.content", "Write add(a, b).")
            text = client.chat.completions.create(
                model="scripted", messages=[{"role": "user", "content": "Write add(a, b)."}]
            )
            span.set_attribute("gen_ai.completion.0.role", "assistant")
            span.set_attribute("gen_ai.completion.0.content", text.choices[0].message.content or "")
        with tracer.start_as_current_span("chat scripted") as span:
            span.set_attribute("gen_ai.system", "openai")
            span.set_attribute("gen_ai.agent.name", "Reviewer")
            prompt = [{"role": "user", "content": "Review add(a, b)."}]
            span.set_attribute("gen_ai.prompt", json.dumps(prompt))
            text = client.chat.completions.create(model="scripted", messages=prompt)  # type: ignore[arg-type]
            reply = [{"role": "assistant", "content": text.choices[0].message.content}]
            span.set_attribute("gen_ai.completion", json.dumps(reply))
        with tracer.start_as_current_span("summarise") as step:
            step.set_attribute("workflow.step", "summarise")
            with tracer.start_as_current_span("chat scripted") as span:
                span.set_attribute("gen_ai.system", "openai")
                span.set_attribute("gen_ai.request.model", "scripted")
                span.set_attribute("gen_ai.prompt.0.role", "user")
                span.set_attribute("gen_ai.prompt.0.content", "Summarise the review.")
                text = client.chat.completions.create(
                    model="scripted", messages=[{"role": "user", "content": "Summarise."}]
                )
                span.set_attribute("gen_ai.completion.0.role", "assistant")
                span.set_attribute(
                    "gen_ai.completion.0.content", text.choices[0].message.content or ""
                )
        root.set_status(Status(StatusCode.OK))
    provider.shutdown()


def _plain(message: dict[str, Any]) -> dict[str, Any]:
    """A parts message as a chat-completions message (what the SDK is sent)."""
    text = " ".join(p.get("content", "") for p in message["parts"] if p["type"] == "text")
    for part in message["parts"]:
        if part["type"] == "tool_call_response":
            return {"role": "tool", "tool_call_id": part["id"], "content": str(part["response"])}
        if part["type"] == "tool_call":
            return {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": part["id"],
                        "type": "function",
                        "function": {
                            "name": part["name"],
                            "arguments": json.dumps(part["arguments"]),
                        },
                    }
                ],
            }
    return {"role": message["role"], "content": text}


def openinference_program(base_url: str, out: Path, exporter: SpanExporter | None = None) -> None:
    """`exporter`, when given, also receives every span (e.g. an OTLP exporter to Phoenix)."""
    from openinference.instrumentation.openai import OpenAIInstrumentor
    from openinference.semconv.trace import (
        OpenInferenceSpanKindValues,
        SpanAttributes,
        ToolCallAttributes,
    )

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    tracer = provider.get_tracer("openinference_demo")
    kind = SpanAttributes.OPENINFERENCE_SPAN_KIND
    try:
        client = openai.OpenAI(base_url=base_url, api_key="loopback", max_retries=0)
        with tracer.start_as_current_span("team") as root:
            root.set_attribute(kind, OpenInferenceSpanKindValues.CHAIN.value)
            root.set_attribute(SpanAttributes.INPUT_VALUE, TASK)
            with tracer.start_as_current_span("Planner") as span:
                span.set_attribute(kind, OpenInferenceSpanKindValues.AGENT.value)
                span.set_attribute(SpanAttributes.AGENT_NAME, "Planner")
                client.chat.completions.create(
                    model="scripted", messages=[{"role": "user", "content": TASK}]
                )
            with tracer.start_as_current_span("Researcher") as span:
                span.set_attribute(kind, OpenInferenceSpanKindValues.AGENT.value)
                span.set_attribute(SpanAttributes.AGENT_NAME, "Researcher")
                messages: list[Any] = [{"role": "user", "content": TASK}]
                tools = [
                    {
                        "type": "function",
                        "function": {
                            "name": "lookup_population",
                            "parameters": {
                                "type": "object",
                                "properties": {"city": {"type": "string"}},
                            },
                        },
                    }
                ]
                reply = client.chat.completions.create(
                    model="scripted",
                    messages=messages,
                    tools=tools,  # type: ignore[arg-type]
                )
                call = reply.choices[0].message.tool_calls[0]  # type: ignore[index]
                with tracer.start_as_current_span("lookup_population") as tool:
                    tool.set_attribute(kind, OpenInferenceSpanKindValues.TOOL.value)
                    tool.set_attribute(SpanAttributes.TOOL_NAME, call.function.name)
                    tool.set_attribute(ToolCallAttributes.TOOL_CALL_ID, call.id)
                    tool.set_attribute(SpanAttributes.INPUT_VALUE, call.function.arguments)
                    tool.set_attribute(SpanAttributes.OUTPUT_VALUE, TOOL_RESULT)
                messages += [
                    reply.choices[0].message.model_dump(exclude_none=True),
                    {"role": "tool", "tool_call_id": call.id, "content": TOOL_RESULT},
                ]
                client.chat.completions.create(model="scripted", messages=messages)
            with tracer.start_as_current_span("Writer") as span:
                span.set_attribute(kind, OpenInferenceSpanKindValues.AGENT.value)
                span.set_attribute(SpanAttributes.AGENT_NAME, "Writer")
                client.chat.completions.create(
                    model="scripted", messages=[{"role": "user", "content": FOUND}]
                )
            root.set_status(Status(StatusCode.ERROR, "the answer failed the check"))
    finally:
        instrumentor.uninstrument()
    provider.shutdown()
    document = otlp_json_from_sdk_spans(memory.get_finished_spans())
    out.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")


def script() -> list[Reply]:
    """The scripted model's answers, in the order both programs ask."""
    tool_call = tool_call_completion("call_pop_1", "lookup_population", {"city": "Paris"})
    return [
        Reply(body=completion(PLAN)),
        Reply(body=tool_call),
        Reply(body=completion(FOUND)),
        Reply(body=completion(WRONG)),
    ]


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with ScriptedServer() as server:
        server.script = [
            *script(),
            Reply(body=completion("def add(a, b):\n    return a - b")),
            Reply(body=completion("Looks correct to me.")),
            Reply(body=completion("Approved: add is correct.")),
        ]
        genai_program(server.base_url, out_dir / "otel_genai.jsonl")
        server.script = script()
        openinference_program(server.base_url, out_dir / "openinference_openai.json")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent)
