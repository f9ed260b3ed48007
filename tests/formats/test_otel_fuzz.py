"""Fuzzing the OpenTelemetry importers: cut, malformed, orphaned, unknown and mixed input gives
a named one-line error or trajectories with notes, never a traceback or a silently lost step."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentracer.errors import TraceFormatError
from agentracer.formats import load_file
from agentracer.formats.otel import is_model_span, is_tool_span
from agentracer.formats.otlp import spans_from_otlp_json
from agentracer.trajectory import Trajectory
from tests.formats.otel_helpers import GENAI, OPENINFERENCE, attribute, raw_spans

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
GENAI_SPANS = raw_spans(GENAI)
OI_SPANS = raw_spans(OPENINFERENCE)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _document(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def _read(path: Path) -> list[Trajectory] | TraceFormatError:
    """What a user gets: trajectories, or one named error (anything else fails the test)."""
    try:
        return load_file(path)
    except TraceFormatError as error:
        assert "\n" not in error.one_line()
        return error


@FUZZ
@given(cut=st.integers(min_value=1, max_value=len(GENAI.read_bytes()) - 1))
def test_a_cut_export_is_read_up_to_the_cut_or_refused_by_name(tmp_path_factory, cut: int) -> None:
    folder = tmp_path_factory.mktemp("cut")
    data = GENAI.read_bytes()[:cut]
    for name, text in (
        ("cut.jsonl", data),
        ("cut.json", json.dumps(_document(GENAI_SPANS)).encode()[:cut]),
    ):
        path = folder / name
        path.write_bytes(text)
        result = _read(path)
        if isinstance(result, list) and name == "cut.jsonl" and not data.endswith(b"\n"):
            # A cut last line is skipped and said, never silently.
            last = data.rsplit(b"\n", 1)[-1]
            if last.strip() and not _is_json(last):
                assert all(any("skipped" in n for n in t.notes) for t in result)


@FUZZ
@given(
    keep=st.lists(st.booleans(), min_size=len(GENAI_SPANS), max_size=len(GENAI_SPANS)),
    order=st.randoms(),
)
def test_missing_parents_lose_no_step(tmp_path_factory, keep: list[bool], order) -> None:
    spans = [s for s, k in zip(GENAI_SPANS, keep, strict=True) if k]
    order.shuffle(spans)
    path = tmp_path_factory.mktemp("orphans") / "spans.json"
    path.write_text(json.dumps(_document(spans)))
    result = _read(path)
    decoded = spans_from_otlp_json(_document(spans))
    steps_expected = {s.id for s in decoded if is_model_span(s) or is_tool_span(s)}
    if not steps_expected:
        assert isinstance(result, TraceFormatError)
        return
    assert isinstance(result, list)
    source_ids = {step.source_id for t in result for step in t.steps}
    assert steps_expected <= source_ids
    ids = {s["spanId"] for s in spans}
    orphaned = {
        s["traceId"] for s in spans if s.get("parentSpanId") and s["parentSpanId"] not in ids
    }
    for trajectory in result:  # a trace with an orphan says so (a trace with no step is skipped)
        if trajectory.id in orphaned:
            assert any("not in the file" in n for n in trajectory.notes)


@FUZZ
@given(
    kinds=st.lists(
        st.sampled_from(["LLM", "TOOL", "AGENT", "CHAIN", "EMBEDDING", "WEIRD", "", "llm"]),
        min_size=len(OI_SPANS),
        max_size=len(OI_SPANS),
    )
)
def test_unknown_span_kinds_are_counted_not_fatal(tmp_path_factory, kinds: list[str]) -> None:
    spans = copy.deepcopy(OI_SPANS)
    for span, kind in zip(spans, kinds, strict=True):
        for item in span["attributes"]:
            if item["key"] == "openinference.span.kind":
                item["value"] = {"stringValue": kind}
    path = tmp_path_factory.mktemp("kinds") / "oi.json"
    path.write_text(json.dumps(_document(spans)))
    result = _read(path)
    if isinstance(result, list) and any(
        k.upper() not in ("LLM", "TOOL", "AGENT", "CHAIN") for k in kinds
    ):
        assert any("not steps" in n for t in result for n in t.notes)


@FUZZ
@given(values=st.lists(json_values, min_size=1, max_size=8), data=st.data())
def test_any_attribute_values_are_read_or_refused_by_name(tmp_path_factory, values, data) -> None:
    spans = copy.deepcopy(GENAI_SPANS + OI_SPANS)
    for value in values:
        span = data.draw(st.sampled_from(spans))
        if span.get("attributes"):
            item = data.draw(st.sampled_from(span["attributes"]))
            encoded = value if isinstance(value, str) else json.dumps(value)
            item["value"] = data.draw(
                st.sampled_from(
                    [
                        {"stringValue": encoded},
                        {"intValue": "x"},
                        {},
                        {
                            "kvlistValue": {
                                "values": [{"key": "k", "value": {"stringValue": encoded}}]
                            }
                        },
                    ]
                )
            )
    path = tmp_path_factory.mktemp("values") / "mixed.json"
    path.write_text(json.dumps(_document(spans)))
    _read(path)


@FUZZ
@given(
    field=st.sampled_from(
        ["traceId", "spanId", "startTimeUnixNano", "attributes", "status", "events", "name"]
    ),
    value=json_values,
)
def test_malformed_span_fields(tmp_path_factory, field: str, value: Any) -> None:
    spans = copy.deepcopy(GENAI_SPANS)
    spans[0][field] = value
    path = tmp_path_factory.mktemp("fields") / "bad.jsonl"
    path.write_text(json.dumps(_document(spans)) + "\n" + json.dumps(_document(spans[:1])) + "\n")
    result = _read(path)
    if isinstance(result, list) and field in ("traceId", "spanId") and not value:
        assert any("skipped" in n for t in result for n in t.notes)


def test_mixed_conventions_in_one_file_are_said() -> None:
    """GenAI traces in an OpenInference file are skipped with a note naming them."""
    path_text = json.dumps(_document(GENAI_SPANS + OI_SPANS))
    assert attribute(OI_SPANS[0], "openinference.span.kind")
    from agentracer.formats import parse_document

    trajectories = parse_document(json.loads(path_text))
    assert [t.agents for t in trajectories] == [["Planner", "Researcher", "Writer"]]
    assert any("skipped trace(s)" in n for n in trajectories[0].notes)
