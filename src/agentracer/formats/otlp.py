"""OTLP/JSON -> `spans.Span`: the decoding shared by every OpenTelemetry importer.

OTLP/JSON (the OpenTelemetry protocol's JSON encoding, what the collector's file exporter and
`otlp/http` with JSON write) nests spans as `resourceSpans[].scopeSpans[].spans[]`. Real files
differ in ways the decoder accepts all of:

- trace and span ids in hex (the spec) or base64 (protobuf's own JSON mapping, e.g.
  `MessageToDict` of a received protobuf request);
- times in nanoseconds as strings (the spec: 64-bit integers are strings) or numbers;
- enums (span kind, status code) as integers (the spec) or names (`STATUS_CODE_ERROR`);
- keys in lowerCamelCase (the spec) or snake_case (`preserving_proto_field_name=True`);
- attribute values as `AnyValue` (`stringValue`, `intValue`, `arrayValue`, `kvlistValue`, ...).

`spans_from_otlp_json(document)` is the public entry point, also used by the live receiver.
`otlp_json_from_sdk_spans` encodes the OpenTelemetry SDK's finished spans the way the spec
wants (hex ids, integer enums), for tests and the import benchmark.
"""

from __future__ import annotations

import base64
import binascii
import functools
import gc
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import Probe
from agentracer.formats.spans import Span, SpanEvent

STATUS_OK = 1
STATUS_ERROR = 2
STATUS_KEY = "otel.status_code"
_STATUS_NAMES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_STATUS_NAMES.update({"UNSET": 0, "OK": 1, "ERROR": 2})

AttributeFilter = Callable[[str], bool] | tuple[str, ...]
"""Which attributes to keep: a test on the key, or the key prefixes to keep (faster)."""
_HEX_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    value = obj.get(camel)
    return obj.get(snake) if value is None else value


def is_otlp_json(obj: object) -> bool:
    """True when `obj` is an OTLP/JSON trace document (`{"resourceSpans": [...]}`)."""
    return isinstance(obj, dict) and isinstance(_get(obj, "resourceSpans", "resource_spans"), list)


def decode_id(value: object) -> str | None:
    """A trace or span id as lowercase hex, from hex or base64; None when empty."""
    if not value:
        return None
    text = str(value)
    if _HEX_ID.fullmatch(text):
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text  # neither: keep it verbatim, it still links parent and child
    return raw.hex() if len(raw) in (8, 16) else text


def nanos_to_seconds(value: object) -> float:
    """Seconds since the epoch from OTLP's nanoseconds (a string or a number); 0 when absent."""
    if value in (None, ""):
        return 0.0
    try:
        return int(value) / 1e9  # type: ignore[call-overload]
    except (TypeError, ValueError):
        try:
            return float(value) / 1e9  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TraceFormatError(f"time {value!r} is not a number of nanoseconds") from None


def any_value(value: object) -> Any:
    """The Python value of an OTLP `AnyValue` (`{"stringValue": "x"}` -> "x")."""
    if not isinstance(value, dict):
        return value
    if "stringValue" in value:  # nearly every attribute: the fast path
        return value["stringValue"]
    for key in ("stringValue", "string_value"):
        if key in value:
            return value[key]
    for key in ("intValue", "int_value"):
        if key in value:
            try:
                return int(value[key])
            except (TypeError, ValueError):
                return value[key]
    for key in ("boolValue", "bool_value"):
        if key in value:
            return bool(value[key])
    for key in ("doubleValue", "double_value"):
        if key in value:
            try:
                return float(value[key])
            except (TypeError, ValueError):
                return value[key]
    array = _get(value, "arrayValue", "array_value")
    if isinstance(array, dict):
        return [any_value(item) for item in array.get("values") or []]
    kvlist = _get(value, "kvlistValue", "kvlist_value")
    if isinstance(kvlist, dict):
        return attributes(kvlist.get("values") or [])
    for key in ("bytesValue", "bytes_value"):
        if key in value:
            return value[key]
    return None  # an empty AnyValue is a legal "no value"


def attributes(items: object, keep: AttributeFilter | None = None) -> dict[str, Any]:
    """`[{"key": k, "value": AnyValue}]` as a dict (keys interned: they repeat on every span)."""
    result: dict[str, Any] = {}
    if not isinstance(items, list):
        return result
    intern = sys.intern
    prefixes = keep if isinstance(keep, tuple) else None
    for item in items:
        if type(item) is not dict:
            continue
        key = item.get("key")
        if type(key) is not str:
            continue
        if prefixes is not None:
            if not key.startswith(prefixes):
                continue
        elif keep is not None and not keep(key):  # type: ignore[operator]
            continue
        value = item.get("value")
        if type(value) is dict and "stringValue" in value:  # the common case, inlined
            result[intern(key)] = value["stringValue"]
        else:
            result[intern(key)] = any_value(value)
    return result


def _status(span: dict[str, Any]) -> tuple[int, str]:
    status = span.get("status")
    if not isinstance(status, dict):
        return 0, ""
    code = status.get("code", 0)
    if isinstance(code, str):
        code = _STATUS_NAMES.get(code.upper(), int(code) if code.isdigit() else 0)
    return int(code or 0), str(status.get("message") or "")


def _events(span: dict[str, Any], keep: AttributeFilter | None) -> list[SpanEvent]:
    events = []
    raw = span.get("events")
    for event in raw if isinstance(raw, list) else []:
        if isinstance(event, dict):
            events.append(
                SpanEvent(
                    name=str(event.get("name") or ""),
                    time=nanos_to_seconds(_get(event, "timeUnixNano", "time_unix_nano")),
                    attributes=attributes(event.get("attributes"), keep),
                )
            )
    return events


def _error(code: int, message: str, events: list[SpanEvent]) -> str | None:
    for event in events:
        if event.name == "exception":
            kind = event.attributes.get("exception.type") or "exception"
            text = event.attributes.get("exception.message") or ""
            return f"{kind}: {text}".rstrip(": ") if text else str(kind)
    if code == STATUS_ERROR:
        return message or "error status"
    return None


def span_from_otlp(
    span: dict[str, Any], resource: dict[str, Any], keep: AttributeFilter | None = None
) -> Span:
    """One OTLP/JSON span; a span without an id or trace id, or with a field of the wrong
    type, is a `TraceFormatError`."""
    try:
        return _span(span, resource, keep)
    except (TypeError, ValueError, AttributeError) as error:
        name = span.get("name")
        raise TraceFormatError(
            f"span {name if isinstance(name, str) else '?'!r} is malformed ({error})"
        ) from None


def _span(span: dict[str, Any], resource: dict[str, Any], keep: AttributeFilter | None) -> Span:
    span_id = decode_id(_get(span, "spanId", "span_id"))
    trace_id = decode_id(_get(span, "traceId", "trace_id"))
    if trace_id is not None:
        trace_id = sys.intern(trace_id)  # shared by every span of the trace
    if span_id is None or trace_id is None:
        raise TraceFormatError(f"span {span.get('name', '?')!r} has no spanId or traceId")
    start = nanos_to_seconds(_get(span, "startTimeUnixNano", "start_time_unix_nano"))
    end_raw = _get(span, "endTimeUnixNano", "end_time_unix_nano")
    events = _events(span, keep)
    code, message = _status(span)
    kept = attributes(span.get("attributes"), keep)
    if code == STATUS_OK:
        kept[STATUS_KEY] = "OK"  # the name OpenTelemetry's non-OTLP exporters give it
    return Span(
        id=span_id,
        trace_id=trace_id,
        name=str(span.get("name") or ""),
        parent_id=decode_id(_get(span, "parentSpanId", "parent_span_id")),
        start=start,
        end=None if end_raw in (None, "", 0, "0") else nanos_to_seconds(end_raw),
        attributes=kept,
        error=_error(code, message, events),
        events=events,
        resource=resource,
    )


def iter_otlp_spans(
    document: object,
    keep: AttributeFilter | None = None,
    on_error: Callable[[TraceFormatError], None] | None = None,
) -> Iterator[Span]:
    """Every span of an OTLP/JSON document, in file order.

    `keep` limits the attributes kept (a test on the key), to save memory on big exports.
    A document that is not OTLP/JSON is a `TraceFormatError`; so is a malformed span (no ids,
    not an object, a bad time), unless `on_error` is given: then it is reported there and
    skipped, and the other spans are read.
    """
    if not is_otlp_json(document):
        raise TraceFormatError("not an OTLP/JSON trace document: no 'resourceSpans' list")
    assert isinstance(document, dict)

    def problem(error: TraceFormatError) -> None:
        if on_error is None:
            raise error
        on_error(error)

    for position, resource_spans in enumerate(_get(document, "resourceSpans", "resource_spans")):
        if not isinstance(resource_spans, dict):
            problem(TraceFormatError(f"resourceSpans[{position}] is not an object"))
            continue
        resource = resource_spans.get("resource")
        resource_attributes = attributes(
            resource.get("attributes") if isinstance(resource, dict) else None
        )
        scopes = _get(resource_spans, "scopeSpans", "scope_spans")
        for scope_spans in scopes if isinstance(scopes, list) else []:
            spans = scope_spans.get("spans") if isinstance(scope_spans, dict) else None
            for span in spans if isinstance(spans, list) else []:
                if not isinstance(span, dict):
                    problem(TraceFormatError(f"resourceSpans[{position}]: a span is not an object"))
                    continue
                try:
                    yield span_from_otlp(span, resource_attributes, keep)
                except TraceFormatError as error:
                    problem(TraceFormatError(f"resourceSpans[{position}]: {error.message}"))


def spans_from_otlp_json(document: object, keep: AttributeFilter | None = None) -> list[Span]:
    """Every span of an OTLP/JSON document (`{"resourceSpans": [...]}`) as a `Span`.

    Accepts hex or base64 ids, nanosecond times as strings or numbers, enums as integers or
    names, camelCase or snake_case keys. Raises `TraceFormatError` for a malformed document.
    """
    return list(iter_otlp_spans(document, keep))


def otlp_json_from_sdk_spans(spans: Iterable[Any]) -> dict[str, Any]:
    """The OpenTelemetry SDK's finished spans (`ReadableSpan`) as an OTLP/JSON document.

    Encoded by the SDK's own OTLP encoder, turned into JSON by protobuf's `MessageToDict`, then
    made spec-conformant: hex trace and span ids (protobuf's JSON mapping writes base64) and
    integer enums. Needs `opentelemetry-exporter-otlp-proto-common` (the `frameworks` extra).
    """
    try:
        from google.protobuf.json_format import MessageToDict
        from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    except ImportError:
        raise TraceFormatError(
            "encoding OTLP/JSON needs opentelemetry-exporter-otlp-proto-common: "
            "pip install 'opentelemetry-sdk' 'opentelemetry-exporter-otlp-proto-common'"
        ) from None
    document = MessageToDict(encode_spans(list(spans)), use_integers_for_enums=True)
    for resource_spans in document.get("resourceSpans", []):
        for scope_spans in resource_spans.get("scopeSpans", []):
            for span in scope_spans.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
                for link in span.get("links", []):
                    for key in ("traceId", "spanId"):
                        if link.get(key):
                            link[key] = base64.b64decode(link[key]).hex()
    return document


# --- OTLP/JSON files: which flavour of attributes they carry, and all their spans -------------

GENAI = "gen_ai"
OPENINFERENCE = "openinference"
OPENINFERENCE_KIND = "openinference.span.kind"
_FLAVOUR_BUDGET = 5000  # spans looked at to decide the flavour of a file


def _span_keys(record: object) -> Iterator[set[str]]:
    if not is_otlp_json(record):
        return
    assert isinstance(record, dict)
    for resource_spans in _get(record, "resourceSpans", "resource_spans") or []:
        if not isinstance(resource_spans, dict):
            continue
        for scope_spans in _get(resource_spans, "scopeSpans", "scope_spans") or []:
            if not isinstance(scope_spans, dict):
                continue
            for span in scope_spans.get("spans") or []:
                if isinstance(span, dict) and isinstance(span.get("attributes"), list):
                    # Only string keys: a list or dict key (a malformed file) is unhashable,
                    # and `attributes()` skips it anyway.
                    yield {
                        a["key"]
                        for a in span["attributes"]
                        if isinstance(a, dict) and isinstance(a.get("key"), str)
                    }


def otlp_flavour(probe: Probe) -> str | None:
    """`openinference`, `gen_ai`, `plain` (OTLP/JSON with neither) or None (not OTLP/JSON).

    Decided by attributes, never by file name: a span with `openinference.span.kind` makes the
    file OpenInference (its instrumentations never write that key otherwise), else a span with
    a `gen_ai.*` key makes it GenAI semantic conventions. Looks at the first few thousand
    spans; cached on the probe so both detectors share one look.
    """
    if "otlp-flavour" in probe.cache:
        return probe.cache["otlp-flavour"]  # type: ignore[no-any-return]
    flavour: str | None = None
    if is_otlp_json(probe.first()):
        flavour, seen = "plain", 0
        for _, record in probe.iter_records(on_error=lambda error: None):
            for keys in _span_keys(record):
                seen += 1
                if OPENINFERENCE_KIND in keys:
                    flavour = OPENINFERENCE
                    break
                if flavour == "plain" and any(str(k).startswith("gen_ai.") for k in keys):
                    flavour = GENAI
            # A whole record (a batch, often a trace) with GenAI spans and no OpenInference
            # kind decides it: the two conventions are not mixed within one program.
            if flavour != "plain" or seen >= _FLAVOUR_BUDGET:
                break
    probe.cache["otlp-flavour"] = flavour
    return flavour


def read_otlp_spans(
    probe: Probe, keep: AttributeFilter | None = None
) -> tuple[list[Span], list[str]]:
    """Every span of an OTLP/JSON file (one document, a list of them, or JSON Lines), and notes
    on what was skipped: lines that are not JSON (a cut last line), records that are not
    OTLP/JSON, spans without ids. Streams JSON Lines, keeping only `keep` attributes."""
    spans: list[Span] = []
    skipped: list[str] = []

    def note(at: str, error: TraceFormatError) -> None:
        skipped.append(f"{at}: {error.message}")

    for key, record in probe.iter_records(on_error=lambda error: skipped.append(error.message)):
        where = key or "the document"
        try:
            spans.extend(iter_otlp_spans(record, keep, functools.partial(note, where)))
        except TraceFormatError as error:
            skipped.append(f"{where}: {error.message}")
    notes = []
    if skipped:
        shown = "; ".join(skipped[:3]) + (
            f"; and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        )
        notes.append(f"skipped {len(skipped)} unreadable part(s) of the file: {shown}")
    return spans, notes


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a large export is turned into objects.

    Importing allocates hundreds of thousands of small, acyclic objects; each allocation burst
    triggers collections that rescan all of them (a quarter of the import time on a 100 MB
    export). Nothing made here forms cycles, so pausing loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
