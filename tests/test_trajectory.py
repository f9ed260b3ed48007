import pytest
from pydantic import ValidationError

from agentracer.formats import Benchmark
from agentracer.trajectory import AnnotatedFailure, Label, Step, Trajectory, Usage, Verdict


def _steps(n: int) -> list[Step]:
    return [Step(index=i, agent="A", speaker="A", content=f"s{i}") for i in range(n)]


def test_json_round_trip_is_lossless_for_every_benchmark_record(
    who_and_when: Benchmark, tracertraj: Benchmark
) -> None:
    for bench in (who_and_when, tracertraj):
        for _, trajectory in bench.trajectories():
            again = Trajectory.model_validate_json(trajectory.model_dump_json())
            assert again == trajectory


def test_verdict_round_trip_keeps_every_field() -> None:
    verdict = Verdict(
        agent="WebSurfer",
        step=3,
        reason="clicked the wrong link",
        candidates=[3, 5],
        tracer="all-at-once",
        raw_output="Agent Name: WebSurfer\nStep Number: 3",
        parse_status="parsed",
        usage=Usage(calls=1, prompt_tokens=100, completion_tokens=20, seconds=1.5),
        notes=["truncated"],
    )
    assert Verdict.model_validate_json(verdict.model_dump_json()) == verdict


def test_zero_steps_is_rejected() -> None:
    with pytest.raises(ValidationError, match="zero steps"):
        Trajectory(id="t", steps=[])


def test_step_indices_must_be_contiguous_from_zero() -> None:
    steps = _steps(3)
    steps[2].index = 5
    with pytest.raises(ValidationError, match="position 2 has index 5"):
        Trajectory(id="t", steps=steps)


def test_label_outside_history_is_rejected() -> None:
    with pytest.raises(ValidationError, match="outside the history"):
        Trajectory(id="t", steps=_steps(2), label=Label(agent="A", step=2))


def test_match_agent_returns_the_trajectorys_spelling() -> None:
    trajectory = Trajectory(id="t", steps=_steps(1), agents=["Verification_Expert"])
    assert trajectory.match_agent("verification expert") == "Verification_Expert"
    assert trajectory.match_agent("Planner") is None


def test_usage_adds_up() -> None:
    total = Usage(calls=1, prompt_tokens=2, completion_tokens=3, seconds=0.5) + Usage(
        calls=2, seconds=1
    )
    assert total == Usage(calls=3, prompt_tokens=2, completion_tokens=3, seconds=1.5)


def test_several_annotated_failures_round_trip_and_are_checked_against_the_history() -> None:
    label = Label(
        agent="A",
        step=1,
        failures=[
            AnnotatedFailure(agent="A", step=3, category="FM-2.6"),
            AnnotatedFailure(agent="A", step=1),
        ],
    )
    trajectory = Trajectory(
        id="t", steps=_steps(4), context="You are a shop assistant.", label=label
    )
    assert trajectory.label is not None and trajectory.label.failure_steps() == [1, 3]
    assert Trajectory.model_validate_json(trajectory.model_dump_json()) == trajectory
    with pytest.raises(ValidationError, match="labelled step 3 is outside"):
        Trajectory(id="t", steps=_steps(3), label=label)
