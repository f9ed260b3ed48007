"""Consistent, structured verdicts: the resolution rule, the check, evidence and category."""

import json

import pytest

from agentracer.formats import Benchmark, load_one
from agentracer.tracers.structure import (
    consistency_problems,
    evidence_for,
    is_consistent,
    quote,
    resolve,
    structure,
)
from agentracer.tracers.taxonomy import MODES, categorise
from agentracer.trajectory import Evidence, Step, Trajectory, Verdict
from tests.conftest import EXAMPLE

EX = load_one(EXAMPLE)  # 0 Planner, 1 Time_Expert, 2 Verification_Expert, 3 terminal, 4 V_E, 5 P


def test_the_example_has_the_layout_these_tests_assume() -> None:
    assert [s.agent for s in EX.steps] == [
        "Planner", "Time_Expert", "Verification_Expert", "Computer_terminal",
        "Verification_Expert", "Planner",
    ]  # fmt: skip
    assert EX.steps[3].kind.value == "tool"


def test_agent_anchored_rule_keeps_the_agent_and_takes_its_nearest_step() -> None:
    resolved = resolve(Verdict(agent="Planner", step=1), EX)
    assert (resolved.agent, resolved.step) == ("Planner", 0)
    assert "answered Planner at step 1" in resolved.notes[-1]
    assert "agent-anchored" in resolved.notes[-1]
    # a tool step answered with an agent: that agent's nearest step (the earlier on a tie)
    tie = resolve(Verdict(agent="Verification_Expert", step=3), EX)
    assert (tie.agent, tie.step) == ("Verification_Expert", 2)


def test_step_anchored_alternative_names_the_steps_agent() -> None:
    resolved = resolve(Verdict(agent="Planner", step=1), EX, rule="step")
    assert (resolved.agent, resolved.step) == ("Time_Expert", 1)
    tool = resolve(Verdict(agent="Planner", step=3), EX, rule="step")
    assert tool.step in (2, 4) and is_consistent(tool, EX)


def test_consistent_and_partial_verdicts_are_left_alone() -> None:
    same = Verdict(agent="Time_Expert", step=1)
    assert resolve(same, EX) is same
    partial = Verdict(agent="Planner")
    assert resolve(partial, EX) is partial  # never completed by a guess
    step_only = resolve(Verdict(step=1), EX)
    assert (step_only.agent, step_only.step) == ("Time_Expert", 1)  # read from the log


def test_the_check_names_each_problem() -> None:
    assert consistency_problems(Verdict(), EX) == []
    assert consistency_problems(Verdict(agent="Time_Expert", step=1), EX) == []
    assert "taken by Time_Expert" in consistency_problems(Verdict(agent="Planner", step=1), EX)[0]
    assert "(tool)" in consistency_problems(Verdict(agent="Computer_terminal", step=3), EX)[0]
    assert "outside the log" in consistency_problems(Verdict(agent="Planner", step=60), EX)[0]
    bad_quote = Verdict(
        agent="Time_Expert", step=1, evidence=[Evidence(step=1, quote="not in the log")]
    )
    assert "not a quote" in consistency_problems(bad_quote, EX)[0]
    bad_category = Verdict(agent="Time_Expert", step=1, category="FM-9.9")
    assert "MAST" in consistency_problems(bad_category, EX)[0]


def test_structure_adds_verbatim_evidence_a_mast_category_and_a_fix() -> None:
    verdict = structure(Verdict(agent="Time_Expert", step=1, reason="3h35, not 3h25"), EX)
    assert is_consistent(verdict, EX)
    roles = {e.role: e for e in verdict.evidence}
    assert roles["blamed"].step == 1 and "3 hours 25 minutes" in roles["blamed"].quote
    assert roles["failure"].step > 1
    for item in verdict.evidence:
        assert item.quote in EX.steps[item.step].content
    assert verdict.category in MODES
    assert verdict.suggested_fix.startswith("At step 1, Time_Expert:")


def test_verification_step_is_categorised_as_incorrect_verification() -> None:
    # step 4: "The code confirms 205 - 25 = 180 ... The arithmetic checks out."
    assert categorise(EX, 4) == "FM-3.3"


def test_repetition_is_categorised_as_step_repetition() -> None:
    steps = [
        Step(index=0, agent="A", speaker="A", content="search the web for the 2019 report"),
        Step(index=1, agent="B", speaker="B", content="nothing found"),
        Step(index=2, agent="A", speaker="A", content="search the web for the 2019 report"),
    ]
    trajectory = Trajectory(id="rep", steps=steps, agents=["A", "B"])
    assert categorise(trajectory, 2) == "FM-1.3"


def test_quotes_are_short_and_verbatim() -> None:
    text = "intro line\n" + "x" * 300 + " error: boom " + "y" * 300
    import re

    q = quote(text, re.compile("error"))
    assert len(q) <= 160 and "error" in q and q in text


def test_evidence_is_verbatim_on_every_who_and_when_record(who_and_when: Benchmark) -> None:
    for _, trajectory in who_and_when.trajectories():
        for step in trajectory.agent_steps()[:3]:
            for item in evidence_for(trajectory, step.index):
                assert item.quote in trajectory.steps[item.step].content


def test_a_verdict_written_before_the_structured_fields_still_loads() -> None:
    old = {
        "agent": "Planner",
        "step": 0,
        "reason": "r",
        "candidates": [],
        "tracer": "all-at-once",
        "raw_output": "Agent Name: Planner",
        "parse_status": "parsed",
        "usage": {"calls": 1},
        "notes": [],
    }
    verdict = Verdict.model_validate_json(json.dumps(old))
    assert verdict.confidence is None and verdict.evidence == [] and verdict.category is None


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_confidence_is_bounded(bad: float) -> None:
    with pytest.raises(ValueError):
        Verdict(agent="Planner", step=0, confidence=bad)
