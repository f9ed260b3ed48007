"""The trajectory builder's fast path builds exactly what validation builds."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agentracer.formats.build import TrajectoryBuilder, tool_call
from agentracer.trajectory import Step, StepKind, ToolCall, Trajectory


def test_fast_steps_equal_validated_ones() -> None:
    builder = TrajectoryBuilder(id="t", format="test")
    call = tool_call("c1", "search", {"q": "x"})
    assert call == ToolCall(id="c1", name="search", arguments='{"q": "x"}')
    step = builder.add(agent="A", content="hi", tool_calls=[call], source_id="s1")
    validated = Step(
        index=0, agent="A", speaker="A", content="hi", tool_calls=[call], source_id="s1"
    )
    assert step == validated
    assert step.model_dump_json() == validated.model_dump_json()
    trajectory = builder.build()
    assert Trajectory.model_validate_json(trajectory.model_dump_json()) == trajectory
    step.content = "changed"  # assignment still works on a fast-built step
    assert trajectory.steps[0].content == "changed"


def test_loosely_typed_input_is_validated() -> None:
    builder = TrajectoryBuilder(id="t", format="test")
    step = builder.add(agent="A", kind="tool", content="x")  # type: ignore[arg-type]
    assert step.kind is StepKind.TOOL
    with pytest.raises(ValidationError):
        builder.add(agent="A", content=["not", "text"])  # type: ignore[arg-type]
    assert tool_call(7, None, "{}") == ToolCall(id="7", name="", arguments="{}")
