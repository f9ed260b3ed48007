"""Fuzzing the framework importers (hypothesis): whatever a damaged export holds, reading it
gives trajectories or named `TraceFormatError`s, never another exception.

Each example starts from a real trace (tests/formats/samples.py) and damages it: values
replaced by arbitrary JSON, keys dropped, records dropped or shuffled.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentracer.errors import TraceFormatError
from agentracer.formats.registry import Probe, decode_json_records, format_spec, parse_probe
from agentracer.trajectory import Trajectory
from tests.formats.samples import SAMPLES

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def _records(sample_index: int) -> list[Any]:
    path = SAMPLES[sample_index].path
    return [obj for _, obj in decode_json_records(path.read_text(encoding="utf-8"), path)[0]]


RECORDS = [_records(i) for i in range(len(SAMPLES))]


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path inside a JSON value."""
    found = [prefix] if prefix else []
    if isinstance(obj, dict):
        for key, value in obj.items():
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found.extend(_paths(value, (*prefix, index)))
    return found


def _damage(data: st.DataObject, document: Any) -> Any:
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(1, 4))):
        paths = _paths(document)
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(JSON)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return document


def _read(probe: Probe, format_name: str | None) -> None:
    try:
        for item in parse_probe(probe, format_name):
            assert isinstance(item, Trajectory | TraceFormatError)
            if isinstance(item, Trajectory):
                json.loads(item.model_dump_json())  # a valid, serialisable trajectory
    except TraceFormatError:
        pass


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), index=st.integers(0, len(SAMPLES) - 1))
def test_damaged_exports_give_trajectories_or_named_errors(data: st.DataObject, index: int) -> None:
    records = RECORDS[index]
    document: Any = records if len(records) > 1 else records[0]
    damaged = _damage(data, document)
    _read(Probe.from_object(damaged), None)  # detected, as a user's file is
    _read(Probe.from_object(damaged), SAMPLES[index].format)  # forced, as --format would


@settings(max_examples=60, deadline=None)
@given(data=st.data(), index=st.integers(0, len(SAMPLES) - 1))
def test_dropped_and_shuffled_records_are_read(data: st.DataObject, index: int) -> None:
    records = RECORDS[index]
    if len(records) < 2:  # one document: drop and shuffle its inner list instead
        document = copy.deepcopy(records[0])
        inner = (
            next((k for k, v in document.items() if isinstance(v, list) and len(v) > 1), None)
            if isinstance(document, dict)
            else None
        )
        if inner is None:
            return
        document[inner] = data.draw(st.permutations(document[inner]))
        document[inner] = document[inner][: data.draw(st.integers(0, len(document[inner])))]
    else:
        shuffled = data.draw(st.permutations(records))
        document = shuffled[: data.draw(st.integers(0, len(shuffled)))]
    _read(Probe.from_object(document), None)
    _read(Probe.from_object(document), SAMPLES[index].format)


def test_every_importer_names_the_problem_of_an_empty_document() -> None:
    for sample in SAMPLES:
        spec = format_spec(sample.format)
        for empty in ([], {}, [{}], [None], "text", 3):
            _read(Probe.from_object(empty), spec.name)
