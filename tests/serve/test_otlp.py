from __future__ import annotations

import gzip
import json

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode

from agentracer.serve.otlp import JSON, PROTOBUF, OtlpError, decode_request, decompress


def sdk_spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("child") as child:
            child.set_attribute("gen_ai.agent.name", "Solver")
        root.set_status(Status(StatusCode.ERROR, "wrong answer"))
    return exporter.get_finished_spans()


def test_protobuf_from_the_sdk_becomes_otlp_json_with_hex_ids() -> None:
    spans = sdk_spans()
    body = encode_spans(spans).SerializeToString()
    records = decode_request(body, PROTOBUF)
    by_name = {r.name: r for r in records}
    root, child = by_name["root"], by_name["child"]
    assert root.trace_id == format(spans[0].context.trace_id, "032x")
    assert child.parent_id == root.span_id == format(spans[1].context.span_id, "016x")
    assert root.error and not child.error and root.parent_id is None
    assert root.body["status"]["code"] == 2  # integer enums, as OTLP/JSON wants
    assert child.body["attributes"] == [
        {"key": "gen_ai.agent.name", "value": {"stringValue": "Solver"}}
    ]
    assert root.resource["attributes"]  # service.name and the SDK's own attributes


def test_json_bodies_are_read_as_the_spec_writes_them() -> None:
    document = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"scope": {"name": "x"}, "spans": [
        {"traceId": "AB" * 16, "spanId": "cd" * 8, "name": "n",
         "startTimeUnixNano": "5", "endTimeUnixNano": 6}]}]}]}  # fmt: skip
    (record,) = decode_request(json.dumps(document).encode(), "application/json; charset=utf-8")
    assert record.trace_id == "ab" * 16 and record.start_ns == 5 and record.end_ns == 6


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\xff\xff\xff", PROTOBUF, "not a valid OTLP protobuf"),
        (b'{"resourceSpans": [', JSON, "not valid JSON"),
        (b"[]", JSON, "expected a JSON object"),
        (b'{"resourceSpans": {}}', JSON, "resourceSpans must be a list"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "1"}]}]}]}',
         JSON, "traceId must be 32 hex characters"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "' + b"0" * 32
         + b'", "spanId": "1111111111111111"}]}]}]}', JSON, "all zeros"),
        (b"{}", "text/plain", "unsupported Content-Type"),
    ],
)  # fmt: skip
def test_malformed_requests_are_refused_with_a_reason(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(OtlpError, match=reason):
        decode_request(body, content_type)


def test_a_protobuf_span_without_ids_is_refused() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    request.resource_spans.add().scope_spans.add().spans.add(name="no ids")
    with pytest.raises(OtlpError, match="traceId"):
        decode_request(request.SerializeToString(), PROTOBUF)


def test_gzip_is_inflated_within_the_limit() -> None:
    assert decompress(gzip.compress(b"x" * 100), "gzip", limit=100) == b"x" * 100
    with pytest.raises(OtlpError, match="over 100 bytes") as caught:
        decompress(gzip.compress(b"x" * 101), "gzip", limit=100)  # a small bomb
    assert caught.value.status == 413
    with pytest.raises(OtlpError, match="not valid gzip"):
        decompress(b"not gzip", "gzip", limit=100)
    with pytest.raises(OtlpError, match="truncated"):
        decompress(gzip.compress(b"x" * 50)[:-10], "gzip", limit=100)
    with pytest.raises(OtlpError, match="Content-Encoding"):
        decompress(b"", "br", limit=100)


def test_the_fast_protobuf_path_matches_protobufs_own_json_mapping() -> None:
    import base64

    from google.protobuf.json_format import MessageToDict

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("linked") as other:
        pass
    with tracer.start_as_current_span("all kinds", links=[trace_api_link(other)]) as span:
        span.set_attributes(
            {"s": "x", "i": 7, "f": 1.5, "b": True, "list": ["a", "b"], "ints": [1, 2]}
        )
        span.add_event("retry", {"attempt": 2})
        span.set_status(Status(StatusCode.ERROR, "boom"))
    request = encode_spans(exporter.get_finished_spans())
    expected = MessageToDict(request, use_integers_for_enums=True)
    records = decode_request(request.SerializeToString(), PROTOBUF)
    spans = expected["resourceSpans"][0]["scopeSpans"][0]["spans"]
    for record, mapped in zip(records, spans, strict=True):
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in mapped:
                mapped[key] = base64.b64decode(mapped[key]).hex()
        for link in mapped.get("links", []):
            link["traceId"] = base64.b64decode(link["traceId"]).hex()
            link["spanId"] = base64.b64decode(link["spanId"]).hex()
        record.body.setdefault("status", {})
        mapped.setdefault("status", {})
        assert record.body == mapped
    assert records[0].resource == expected["resourceSpans"][0]["resource"]


def trace_api_link(span):
    from opentelemetry.trace import Link

    return Link(span.get_span_context(), {"why": "follows"})
