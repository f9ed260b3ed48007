"""Decode an OTLP/HTTP trace export request into spans, or refuse it whole with a reason.

The OTLP specification allows binary protobuf (`application/x-protobuf`) and JSON
(`application/json`) bodies, optionally gzip-compressed. Either way every span comes out in the
OTLP/JSON shape the format importers read (lowerCamelCase keys, hex trace and span ids, integer
enums), so the store holds one shape whatever the client sent. A request with any invalid span
is refused as a whole (`OtlpError`): nothing of it is stored.
"""

from __future__ import annotations

import base64
import json
import re
import zlib
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.serve.store import SpanRecord

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
STATUS_ERROR = 2
_HEX = re.compile(r"^[0-9a-fA-F]*$")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
MAX_NANOS = 2**63 - 1  # the store keeps times as SQLite's signed 64-bit integers


class OtlpError(AgenTracerError):
    """A request the receiver refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def decompress(body: bytes, encoding: str | None, *, limit: int) -> bytes:
    """The body without its `Content-Encoding`; more than `limit` bytes once inflated is 413."""
    encoding = (encoding or "identity").strip().lower()
    if encoding == "identity":
        return body
    if encoding != "gzip":
        raise OtlpError(f"unsupported Content-Encoding {encoding!r} (use gzip or none)", status=415)
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise OtlpError(f"the body is not valid gzip ({error})") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise OtlpError(f"the request is over {limit} bytes once decompressed", status=413)
    if not inflater.eof:
        raise OtlpError("the gzip body is truncated")
    return data


def decode_request(body: bytes, content_type: str | None) -> list[SpanRecord]:
    """Every span of an `ExportTraceServiceRequest` body, validated."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == PROTOBUF:
        return _protobuf_spans(body)
    if media == JSON:
        try:
            document = json.loads(body)
        except RecursionError:
            raise OtlpError("the body is nested too deeply") from None
        except ValueError as error:  # also a number of more digits than Python reads
            raise OtlpError(f"the body is not valid JSON ({error})") from None
        if _SURROGATE_ESCAPE.search(body):
            _refuse_lone_surrogates(document)
        return spans_of(document)
    raise OtlpError(
        f"unsupported Content-Type {content_type!r} (use {PROTOBUF} or {JSON})", status=415
    )


def _refuse_lone_surrogates(document: Any) -> None:
    """A `\\ud800` escape with no pair decodes to a string that is not Unicode text: nothing
    can store or print it, so the request is refused."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise OtlpError("the body holds a lone UTF-16 surrogate (\\ud800-\\udfff escape)") from None
    except RecursionError:
        raise OtlpError("the body is nested too deeply") from None


def _protobuf_spans(body: bytes) -> list[SpanRecord]:
    """Spans of a protobuf request, converted field by field to OTLP/JSON (hex ids, integer
    enums, 64-bit integers as strings). protobuf's generic `MessageToDict` gives the same shape
    but with base64 ids and at a third of the speed; it is used for the small, rarely repeated
    resource and scope messages."""
    # Imported here: the receiver's dependencies live in the `serve` extra.
    from google.protobuf.json_format import MessageToDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as error:
        raise OtlpError(f"the body is not a valid OTLP protobuf message ({error})") from None
    records: list[SpanRecord] = []
    for r, resource_spans in enumerate(request.resource_spans):
        resource = MessageToDict(resource_spans.resource)
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = MessageToDict(scope_spans.scope)
            for n, span in enumerate(scope_spans.spans):
                where = f"resourceSpans[{r}].scopeSpans[{s}].spans[{n}]"
                records.append(_proto_span(span, where, resource, scope))
    return records


def _proto_span(
    span: Any, where: str, resource: dict[str, Any], scope: dict[str, Any]
) -> SpanRecord:
    trace_id = _bytes_id(span.trace_id, 16, f"{where}.traceId")
    span_id = _bytes_id(span.span_id, 8, f"{where}.spanId")
    parent_id = (
        _bytes_id(span.parent_span_id, 8, f"{where}.parentSpanId") if span.parent_span_id else None
    )
    body: dict[str, Any] = {"traceId": trace_id, "spanId": span_id}
    if parent_id:
        body["parentSpanId"] = parent_id
    if span.trace_state:
        body["traceState"] = span.trace_state
    if span.flags:
        body["flags"] = span.flags
    body["name"] = span.name
    body["kind"] = span.kind
    for field in ("start_time_unix_nano", "end_time_unix_nano"):
        if getattr(span, field) > MAX_NANOS:
            raise OtlpError(f"{where}.{_camel(field)} is out of range (over {MAX_NANOS})")
    body["startTimeUnixNano"] = str(span.start_time_unix_nano)
    body["endTimeUnixNano"] = str(span.end_time_unix_nano)
    if span.attributes:
        body["attributes"] = _key_values(span.attributes)
    for field in ("dropped_attributes_count", "dropped_events_count", "dropped_links_count"):
        if getattr(span, field):
            body[_camel(field)] = getattr(span, field)
    if span.events:
        body["events"] = [
            {
                "timeUnixNano": str(e.time_unix_nano),
                "name": e.name,
                "attributes": _key_values(e.attributes),
            }
            for e in span.events
        ]
    if span.links:
        body["links"] = [
            {"traceId": link.trace_id.hex(), "spanId": link.span_id.hex(),
             "attributes": _key_values(link.attributes), **({"flags": link.flags} if link.flags else {})}
            for link in span.links
        ]  # fmt: skip
    status: dict[str, Any] = {}
    if span.status.message:
        status["message"] = span.status.message
    if span.status.code:
        status["code"] = span.status.code
    body["status"] = status
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_id=parent_id, name=span.name,
        start_ns=span.start_time_unix_nano, end_ns=span.end_time_unix_nano or None,
        error=span.status.code == STATUS_ERROR, resource=resource, scope=scope, body=body,
    )  # fmt: skip


def _bytes_id(value: bytes, size: int, where: str) -> str:
    if len(value) != size or not any(value):
        raise OtlpError(f"{where} must be {size} bytes, not all zero (got {len(value)} bytes)")
    return value.hex()


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _key_values(items: Any) -> list[dict[str, Any]]:
    return [{"key": kv.key, "value": _any_value(kv.value)} for kv in items]


def _any_value(value: Any) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return {"stringValue": value.string_value}
    if kind == "int_value":
        return {"intValue": str(value.int_value)}
    if kind == "bool_value":
        return {"boolValue": value.bool_value}
    if kind == "double_value":
        return {"doubleValue": value.double_value}
    if kind == "array_value":
        return {"arrayValue": {"values": [_any_value(v) for v in value.array_value.values]}}
    if kind == "kvlist_value":
        return {"kvlistValue": {"values": _key_values(value.kvlist_value.values)}}
    if kind == "bytes_value":
        return {"bytesValue": base64.b64encode(value.bytes_value).decode()}
    return {}


def spans_of(document: Any) -> list[SpanRecord]:
    """Validate an OTLP/JSON document and flatten it into spans (with resource and scope)."""
    if not isinstance(document, dict):
        raise OtlpError(
            f"expected a JSON object with resourceSpans, got a {type(document).__name__}"
        )
    records: list[SpanRecord] = []
    for r, resource_spans in enumerate(_list(document, "resourceSpans", "request")):
        where = f"resourceSpans[{r}]"
        resource = _object(resource_spans, where).get("resource") or {}
        # `instrumentationLibrarySpans` is the pre-1.0 name of `scopeSpans`.
        scopes = resource_spans.get("scopeSpans", resource_spans.get("instrumentationLibrarySpans"))
        for s, scope_spans in enumerate(_list({"scopeSpans": scopes or []}, "scopeSpans", where)):
            swhere = f"{where}.scopeSpans[{s}]"
            scope_spans = _object(scope_spans, swhere)
            scope = scope_spans.get("scope") or scope_spans.get("instrumentationLibrary") or {}
            for n, span in enumerate(_list(scope_spans, "spans", swhere)):
                records.append(
                    _span(
                        _object(span, f"{swhere}.spans[{n}]"),
                        f"{swhere}.spans[{n}]",
                        resource,
                        scope,
                    )
                )
    return records


def _span(span: dict[str, Any], where: str, resource: Any, scope: Any) -> SpanRecord:
    trace_id = _id(span.get("traceId"), 16, f"{where}.traceId")
    span_id = _id(span.get("spanId"), 8, f"{where}.spanId")
    parent = span.get("parentSpanId") or None
    parent_id = None if parent is None else _id(parent, 8, f"{where}.parentSpanId")
    name = span.get("name", "")
    if not isinstance(name, str):
        raise OtlpError(f"{where}.name must be a string")
    start = _nanos(span.get("startTimeUnixNano", 0), f"{where}.startTimeUnixNano")
    end_raw = span.get("endTimeUnixNano")
    end = None if end_raw in (None, "0", 0) else _nanos(end_raw, f"{where}.endTimeUnixNano")
    status = span.get("status") or {}
    if not isinstance(status, dict):
        raise OtlpError(f"{where}.status must be an object")
    code = status.get("code", 0)
    error = code in (STATUS_ERROR, "STATUS_CODE_ERROR")
    if not isinstance(span.get("attributes", []), list):
        raise OtlpError(f"{where}.attributes must be a list of key/value objects")
    body = {**span, "traceId": trace_id, "spanId": span_id}
    if parent_id is not None:
        body["parentSpanId"] = parent_id
    return SpanRecord(
        trace_id=trace_id, span_id=span_id, parent_id=parent_id, name=name, start_ns=start,
        end_ns=end, error=error, resource=resource, scope=scope, body=body,
    )  # fmt: skip


def _list(obj: dict[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    if not isinstance(value, list):
        raise OtlpError(f"{where}.{key} must be a list")
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise OtlpError(f"{where} must be an object")
    return value


def _id(value: Any, size: int, where: str) -> str:
    if not isinstance(value, str) or len(value) != 2 * size or not _HEX.match(value):
        raise OtlpError(f"{where} must be {2 * size} hex characters, got {value!r:.60}")
    if value.strip("0") == "":
        raise OtlpError(f"{where} is all zeros (an invalid id)")
    return value.lower()


def _nanos(value: Any, where: str) -> int:
    # OTLP/JSON writes 64-bit integers as decimal strings; plain numbers are accepted too.
    number: int | None = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():  # not inf or nan
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        digits = value.strip()
        number = int(digits) if len(digits) <= 20 else MAX_NANOS + 1
    if number is None:
        raise OtlpError(f"{where} must be an integer (nanoseconds), got {value!r:.60}")
    if number < 0:
        raise OtlpError(f"{where} must not be negative")
    if number > MAX_NANOS:
        raise OtlpError(f"{where} is out of range (over {MAX_NANOS} ns)")
    return number
