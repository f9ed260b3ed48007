"""Fuzzing the span tree (issue 18 item 4): loops of parent ids (a span under itself, A under B
under A), missing parents, and attribute keys and values of any JSON type. Reading such a file
ends quickly with trajectories (the loop cut and said in a note) or one named error; it never
hangs and never raises anything else.

Each reading runs under an alarm, so a hang fails the example instead of stopping the suite.
"""

from __future__ import annotations

import copy
import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentracer.errors import TraceFormatError
from agentracer.formats import load_file
from agentracer.formats.otel import is_model_span, is_tool_span
from agentracer.formats.otlp import spans_from_otlp_json
from agentracer.formats.registry import Probe, decode_json_records, parse_probe
from agentracer.formats.spans import Span, SpanTree
from agentracer.trajectory import Trajectory
from tests.formats.otel_helpers import GENAI, OPENINFERENCE, raw_spans
from tests.formats.samples import DATA

FUZZ = settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
GENAI_SPANS = raw_spans(GENAI)
OI_SPANS = raw_spans(OPENINFERENCE)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)
ODD_KEYS = st.one_of(
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.integers(),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
)


@contextmanager
def _within(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the body runs longer than `seconds`."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s: a hang")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _read(path: Path) -> list[Trajectory] | TraceFormatError:
    """What a user gets: trajectories, or one named one-line error (anything else fails)."""
    with _within(20):
        try:
            result = load_file(path)
        except TraceFormatError as error:
            assert "\n" not in error.one_line()
            return error
    for trajectory in result:
        json.loads(trajectory.model_dump_json())  # a valid, serialisable trajectory
    return result


def _document(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}


# --- the tree itself -------------------------------------------------------------------------


def _spans(parents: list[int | None]) -> list[Span]:
    """Span i's parent is span `parents[i]`; -1 names a span that is not in the list."""
    return [
        Span(
            id=f"s{i}",
            trace_id="t",
            name=f"n{i}",
            parent_id=None if p is None else ("missing" if p < 0 else f"s{p}"),
            start=float(i % 3),
        )
        for i, p in enumerate(parents)
    ]


def _check_tree(tree: SpanTree, spans: list[Span]) -> None:
    walked = list(tree.walk())
    assert sorted(s.id for s in walked) == sorted(s.id for s in spans)  # each span once
    position = {s.id: i for i, s in enumerate(walked)}
    for span in spans:
        parent = tree.parent(span)
        if parent is not None:
            assert position[parent.id] < position[span.id]  # parents before children
        depth, node = 0, span
        while (node := tree.parent(node)) is not None:  # every climb ends at a root
            depth += 1
            assert depth <= len(spans)
        assert tree.ancestor(span, lambda s: False) is None
    assert {s.id for s in tree.roots} == {s.id for s in spans if tree.parent(s) is None}


@pytest.mark.parametrize(
    ("parents", "cut"),
    [
        ([0], ["s0"]),  # a span that is its own parent
        ([1, 0], ["s0"]),  # A under B under A: cut at the earliest
        ([None, 2, 3, 1], ["s3"]),  # a loop beside a root (s3 starts first)
        ([1, 2, 0, 0, 3], ["s0"]),  # a loop with a tail hanging under it
        ([-1, 0, 1], []),  # a missing parent: an orphan, not a loop
        ([1, 0, 3, 2, 2], ["s0", "s3"]),  # two loops
    ],
)
def test_loops_of_parent_ids_are_cut_once_at_their_earliest_span(
    parents: list[int | None], cut: list[str]
) -> None:
    spans = _spans(parents)
    tree = SpanTree(spans)
    assert [s.id for s in tree.cut] == cut
    _check_tree(tree, spans)


@settings(max_examples=300, deadline=None)
@given(
    parents=st.integers(1, 12).flatmap(
        lambda n: st.lists(st.none() | st.integers(-1, n - 1), min_size=n, max_size=n)
    )
)
def test_any_parent_ids_give_a_tree(parents: list[int | None]) -> None:
    spans = _spans(parents)
    with _within(5):
        tree = SpanTree(spans)
        _check_tree(tree, spans)


def test_a_long_chain_and_a_long_loop_are_linear() -> None:
    """100,000 spans in one chain, then in one loop: built and walked in well under a second
    each (a quadratic climb would take minutes)."""
    n = 100_000
    chain = _spans([None, *range(n - 1)])
    loop = _spans([n - 1, *range(n - 1)])
    with _within(10):
        for spans in (chain, loop):
            tree = SpanTree(spans)
            assert sum(1 for _ in tree.walk()) == n
            assert tree.ancestor(spans[-1], lambda s: s.id == "s0") is spans[0]
    assert [s.id for s in SpanTree(loop).cut] == ["s0"]


# --- whole files: GenAI and OpenInference ------------------------------------------------------

SOURCES = {"genai": GENAI_SPANS, "openinference": OI_SPANS}


@FUZZ
@given(source=st.sampled_from(sorted(SOURCES)), data=st.data())
def test_rewired_parents_lose_no_step_and_never_hang(tmp_path_factory, source: str, data) -> None:
    spans = copy.deepcopy(SOURCES[source])
    ids = [s["spanId"] for s in spans]
    for span in spans:
        choice = data.draw(st.sampled_from(["keep", "self", "other", "missing", "none"]))
        if choice == "self":
            span["parentSpanId"] = span["spanId"]
        elif choice == "other":
            span["parentSpanId"] = data.draw(st.sampled_from(ids))
        elif choice == "missing":
            span["parentSpanId"] = "ffffffffffffffff"
        elif choice == "none":
            span.pop("parentSpanId", None)
    path = tmp_path_factory.mktemp("loops") / "spans.json"
    path.write_text(json.dumps(_document(spans)))
    result = _read(path)
    decoded = spans_from_otlp_json(_document(spans))
    if source == "genai":
        expected = {s.id for s in decoded if is_model_span(s) or is_tool_span(s)}
        assert isinstance(result, list)
        assert expected <= {step.source_id for t in result for step in t.steps}
    looped = {
        s.trace_id
        for s in decoded
        if SpanTree([d for d in decoded if d.trace_id == s.trace_id]).cut
    }
    for trajectory in result if isinstance(result, list) else []:
        if trajectory.id in looped:
            assert any("loop(s) of parent ids" in n for n in trajectory.notes)


@FUZZ
@given(
    source=st.sampled_from(sorted(SOURCES)),
    keys=st.lists(ODD_KEYS, min_size=1, max_size=4),
    values=st.lists(JSON, min_size=1, max_size=4),
    data=st.data(),
)
def test_attribute_keys_and_values_of_any_type(
    tmp_path_factory, source: str, keys: list[Any], values: list[Any], data
) -> None:
    """List, dict, number and null keys are skipped; any value reads or is refused by name."""
    spans = copy.deepcopy(SOURCES[source])
    for key in keys:
        span = data.draw(st.sampled_from(spans))
        span.setdefault("attributes", []).append({"key": key, "value": {"stringValue": "x"}})
    for value in values:  # message attributes (the ones parsed deepest) hold any JSON
        span = data.draw(st.sampled_from(spans))
        if span.get("attributes"):
            item = data.draw(st.sampled_from(span["attributes"]))
            item["value"] = data.draw(
                st.sampled_from(
                    [
                        {"stringValue": json.dumps(value)},
                        {"stringValue": json.dumps([value])},
                        {"stringValue": json.dumps({"parts": value, "role": "user"})},
                        {"stringValue": json.dumps({"contents": value, "tool_calls": value})},
                        {"arrayValue": {"values": [{"stringValue": json.dumps(value)}]}},
                        {"kvlistValue": {"values": [{"key": value, "value": {}}]}},
                    ]
                )
            )
    path = tmp_path_factory.mktemp("keys") / "spans.json"
    path.write_text(json.dumps(_document(spans)))
    _read(path)


# --- the other span-tree readers: LangSmith, Langfuse, the Agents SDK --------------------------

TREE_FILES = {
    "langsmith": (DATA / "langsmith" / "runs.jsonl", "parent_run_id"),
    "openai-agents": (DATA / "agents_sdk" / "handoff_trace.jsonl", "parent_id"),
    "langfuse": (DATA / "langfuse" / "observations.json", "parentObservationId"),
}


def _tree_records(path: Path) -> list[Any]:
    return [obj for _, obj in decode_json_records(path.read_text(encoding="utf-8"), path)[0]]


def _nodes(document: Any, field: str) -> list[dict[str, Any]]:
    """The records of a document that carry an id (runs, spans, observations)."""
    if isinstance(document, dict) and isinstance(document.get("data"), list):
        document = document["data"]
    return [r for r in document if isinstance(r, dict) and "id" in r]


@FUZZ
@given(format_name=st.sampled_from(sorted(TREE_FILES)), data=st.data())
def test_framework_span_trees_survive_loops(format_name: str, data) -> None:
    path, field = TREE_FILES[format_name]
    records = _tree_records(path)
    document: Any = copy.deepcopy(records if len(records) > 1 else records[0])
    nodes = _nodes(document, field)
    ids = [n["id"] for n in nodes]
    for node in nodes:
        choice = data.draw(st.sampled_from(["keep", "self", "other", "missing"]))
        if choice == "self":
            node[field] = node["id"]
        elif choice == "other":
            node[field] = data.draw(st.sampled_from(ids))
        elif choice == "missing":
            node[field] = "no-such-parent"
    with _within(20):
        for forced in (None, format_name):
            try:
                for item in parse_probe(Probe.from_object(document), forced):
                    assert isinstance(item, Trajectory | TraceFormatError)
            except TraceFormatError:
                pass
