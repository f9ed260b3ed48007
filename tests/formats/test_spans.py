"""The span tree every tracing importer uses, and the trajectory builder."""

from __future__ import annotations

import pytest

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.spans import Span, SpanTree, group_traces
from agentracer.trajectory import StepKind


def test_tree_walks_in_execution_order_whatever_the_file_order() -> None:
    spans = [
        Span("c", "t", parent_id="a", start=2),
        Span("a", "t", start=1),
        Span("b", "t", parent_id="a", start=1.5),
        Span("d", "t", parent_id="b", start=1.6),
    ]
    tree = SpanTree(spans)
    assert [s.id for s in tree.walk()] == ["a", "b", "d", "c"]
    assert tree.ancestor(spans[3], lambda s: s.id == "a") is spans[1]
    assert tree.ancestor(spans[1], lambda s: True) is None


def test_orphans_and_cycles_are_kept_not_dropped() -> None:
    spans = [
        Span("a", "t", start=1),
        Span("o", "t", parent_id="missing", start=0.5),
        Span("x", "t", parent_id="y", start=9),
        Span("y", "t", parent_id="x", start=8),
    ]
    tree = SpanTree(spans)
    assert [s.id for s in tree.orphans] == ["o"]
    assert [s.id for s in tree.walk()] == ["o", "a", "y", "x"]
    assert tree.ancestor(spans[2], lambda s: False) is None  # the cycle ends


def test_group_traces_orders_traces_by_first_start() -> None:
    spans = [Span("1", "late", start=5), Span("2", "early", start=1), Span("3", "late", start=2)]
    assert list(group_traces(spans)) == ["early", "late"]


def test_builder_numbers_steps_and_lists_agents_in_order_of_first_action() -> None:
    builder = TrajectoryBuilder(id="run", format="test", path="f.json", record="3")
    builder.add(agent="user", kind=StepKind.USER, content="task")
    builder.add(agent="Planner", content="plan", source_id="span-1")
    builder.add(agent="search", kind=StepKind.TOOL, content="result")
    builder.add(agent="Coder", content="code")
    builder.add(agent="Planner", content="again")
    builder.note("agent inferred")
    builder.note("agent inferred")
    trajectory = builder.build()
    assert [s.index for s in trajectory.steps] == [0, 1, 2, 3, 4]
    assert trajectory.agents == ["Planner", "Coder"]
    assert trajectory.steps[1].source_id == "span-1"
    assert trajectory.notes == ["agent inferred"]
    assert trajectory.source is not None and trajectory.source.record == "3"


def test_builder_refuses_an_empty_run_by_name() -> None:
    with pytest.raises(TraceFormatError, match=r"f.json#3: run 'run' has no steps"):
        TrajectoryBuilder(id="run", format="test", path="f.json", record="3").build()
