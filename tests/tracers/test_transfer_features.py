"""Features relative to the run (issue 19, item 3) and feature families of the fast tracer."""

import pytest

from agentracer.errors import AgenTracerError
from agentracer.formats import load_one
from agentracer.tracers.fast.families import FeatureSet, feature_set
from agentracer.tracers.fast.features import FEATURES, step_features
from agentracer.tracers.fast.transfer import TRANSFER_FEATURES, percentiles, transfer_features
from agentracer.trajectory import Step, StepKind, Trajectory
from tests.conftest import EXAMPLE

EX = load_one(EXAMPLE)


def _value(rows: list[list[float]], rank: int, name: str) -> float:
    return rows[rank][TRANSFER_FEATURES.index(name)]


def test_percentiles_are_within_the_run_and_share_ties() -> None:
    assert percentiles([3.0, 1.0, 2.0]) == [1.0, 0.0, 0.5]
    assert percentiles([5.0, 5.0, 1.0]) == [0.75, 0.75, 0.0]
    assert percentiles([7.0]) == [0.5] and percentiles([]) == []


def test_transfer_rows_follow_the_agent_steps_and_read_the_hand_off() -> None:
    rows = transfer_features(EX)
    assert len(rows) == len(step_features(EX)[0])
    assert all(len(r) == len(TRANSFER_FEATURES) for r in rows)
    # Planner, then Time_Expert: the second agent step is the first hand-off.
    assert _value(rows, 1, "at_first_hand_off") == 1.0 and _value(rows, 1, "hand_off_offset") == 0
    assert _value(rows, 0, "hand_off_offset") == -1 and _value(rows, 0, "before_first_hand_off")
    unlabelled = EX.model_copy(update={"label": None, "ground_truth": None})
    assert transfer_features(unlabelled) == rows  # never reads the label or the answer


def _run(contents: list[tuple[str, StepKind, str]]) -> Trajectory:
    steps = [
        Step(index=i, agent=agent, speaker=agent, kind=kind, content=text)
        for i, (agent, kind, text) in enumerate(contents)
    ]
    agents = list(dict.fromkeys(s.agent for s in steps if s.kind is StepKind.AGENT))
    return Trajectory(id="t", question="how many widgets", steps=steps, agents=agents)


def test_tool_errors_and_contested_content_are_seen() -> None:
    run = _run([
        ("Planner", StepKind.AGENT, "plan: count the widgets"),
        ("Coder", StepKind.AGENT, "the inventory spreadsheet says 4213 widgets"),
        ("terminal", StepKind.TOOL, "Traceback: FileNotFoundError inventory.xlsx"),
        ("Checker", StepKind.AGENT, "that is wrong: the inventory spreadsheet was never opened"),
        ("Coder", StepKind.AGENT, "final answer 4213"),
    ])  # fmt: skip
    rows = transfer_features(run)
    assert _value(rows, 1, "tool_error_after") == 1.0 and _value(rows, 1, "first_error_after")
    assert _value(rows, 0, "before_first_error") == 1.0
    assert _value(rows, 1, "contradicted_later") > 0.5  # "spreadsheet", "inventory" contested
    assert _value(rows, 0, "contradicted_later") == 0.0
    assert _value(rows, 1, "corrected_by_other") == 1.0


def test_feature_sets_compose_families_in_order_and_refuse_unknown_ones() -> None:
    both = feature_set("base,transfer", memo={})
    assert both.names == [*FEATURES, *TRANSFER_FEATURES]
    indices, rows = both.rows(EX)
    assert indices == step_features(EX)[0]
    assert rows[1] == step_features(EX)[1][1] + transfer_features(EX)[1]
    assert len(set(both.names)) == len(both.names)  # LightGBM needs distinct names
    with pytest.raises(AgenTracerError, match="unknown feature family 'nope'"):
        FeatureSet(("base", "nope"))


def test_a_tool_error_belongs_to_the_step_that_ran_the_tool_not_an_earlier_one() -> None:
    from agentracer.tracers.fast.anchor import rule_ranking

    run = _run([
        ("Planner", StepKind.AGENT, "plan"),
        ("Coder", StepKind.AGENT, "I will look at the data first"),
        ("Runner", StepKind.AGENT, "running the script"),
        ("terminal", StepKind.TOOL, "Traceback: ValueError"),
    ])  # fmt: skip
    # The first hand-off is Coder's step; the error follows Runner's, so the rule blames Runner.
    assert rule_ranking("tool-error-near-hand-off", run)[0] == 2
    assert rule_ranking("first-hand-off", run)[0] == 1
    rows = transfer_features(run)
    assert [_value(rows, r, "tool_error_after") for r in range(3)] == [0.0, 0.0, 1.0]
