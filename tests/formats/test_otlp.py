"""OTLP/JSON decoding (`formats.otlp`): every shape the OpenTelemetry SDK's protobuf can be
turned into JSON in, as the live receiver will hand it over."""

from __future__ import annotations

import json

import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agentracer.errors import TraceFormatError
from agentracer.formats import parse_document
from agentracer.formats.otlp import (
    any_value,
    decode_id,
    otlp_json_from_sdk_spans,
    spans_from_otlp_json,
)
from agentracer.trajectory import Outcome


@pytest.fixture
def sdk_spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent Remote") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", "Remote")
        agent.set_attribute(
            "gen_ai.output.messages",
            json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "done"}]}]),
        )
        with tracer.start_as_current_span("chat m") as chat:
            chat.set_attribute("gen_ai.system", "openai")
            chat.set_attribute("gen_ai.agent.name", "Caller")
            chat.add_event(
                "gen_ai.content.prompt",
                {"gen_ai.prompt": json.dumps([{"role": "user", "content": "hi"}])},
            )
            chat.add_event(
                "gen_ai.content.completion",
                {"gen_ai.completion": json.dumps([{"role": "assistant", "content": "hello"}])},
            )
            chat.set_attribute("tags", ["a", "b"])
            chat.set_attribute("count", 3)
        agent.set_status(Status(StatusCode.ERROR, "boom"))
    provider.shutdown()
    return exporter.get_finished_spans()


def test_every_protobuf_json_mapping_decodes_to_the_same_spans(sdk_spans) -> None:
    spec = spans_from_otlp_json(otlp_json_from_sdk_spans(sdk_spans))
    message = encode_spans(sdk_spans)
    for document in (
        MessageToDict(message),  # base64 ids, enum names, camelCase
        MessageToDict(message, preserving_proto_field_name=True),  # snake_case
        MessageToDict(message, use_integers_for_enums=True),
    ):
        decoded = spans_from_otlp_json(document)
        assert [(s.id, s.parent_id, s.trace_id, s.start, s.error) for s in decoded] == [
            (s.id, s.parent_id, s.trace_id, s.start, s.error) for s in spec
        ]
    assert all(len(s.id) == 16 and len(s.trace_id) == 32 for s in spec)
    chat = next(s for s in spec if s.name == "chat m")
    assert chat.attributes["tags"] == ["a", "b"] and chat.attributes["count"] == 3
    assert [e.name for e in chat.events] == ["gen_ai.content.prompt", "gen_ai.content.completion"]


def test_prompt_events_and_an_agent_answering_without_a_model_span(sdk_spans) -> None:
    (trajectory,) = parse_document(otlp_json_from_sdk_spans(sdk_spans))
    assert trajectory.question == "hi"
    assert [(s.agent, s.content) for s in trajectory.steps] == [("user", "hi"), ("Caller", "hello")]
    assert trajectory.outcome is Outcome.FAILURE
    assert trajectory.metadata["errors"][0]["error"] == "boom"


def test_a_remote_agent_with_an_answer_and_no_model_span_is_a_step() -> None:
    span = {
        "traceId": "1" * 32, "spanId": "2" * 16, "name": "invoke_agent Remote",
        "startTimeUnixNano": "1", "endTimeUnixNano": 2,
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
            {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "42"}]}])}},
        ],
        "status": {"code": "STATUS_CODE_OK"},
    }  # fmt: skip
    (trajectory,) = parse_document({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})
    assert [(s.agent, s.content, s.source_id) for s in trajectory.steps] == [
        ("Remote", "42", "2" * 16)
    ]
    assert trajectory.outcome is Outcome.SUCCESS


def test_a_list_of_documents_is_read_as_one_file() -> None:
    span = {
        "traceId": "1" * 32, "spanId": "3" * 16, "name": "chat",
        "attributes": [{"key": "gen_ai.completion.0.content", "value": {"stringValue": "x"}}],
    }  # fmt: skip
    document = {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}
    trajectories = parse_document([document, document])
    assert len(trajectories) == 1  # the same span twice is one step
    assert [s.content for s in trajectories[0].steps] == ["x"]


def test_values_and_ids() -> None:
    assert decode_id("AAECAwQFBgc=") == "0001020304050607"
    assert decode_id("0001020304050607") == "0001020304050607"
    assert decode_id("") is None
    assert any_value({"kvlistValue": {"values": [{"key": "k", "value": {"intValue": "7"}}]}}) == {
        "k": 7
    }
    assert any_value({"arrayValue": {"values": [{"boolValue": True}, {"doubleValue": 1.5}]}}) == [
        True,
        1.5,
    ]
    with pytest.raises(TraceFormatError, match="no 'resourceSpans'"):
        spans_from_otlp_json({"spans": []})
    with pytest.raises(TraceFormatError, match="no spanId"):
        spans_from_otlp_json({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x"}]}]}]})
