import json
from pathlib import Path

import pytest

from agentracer.errors import TraceFormatError
from agentracer.formats import Benchmark, parse_record, to_record
from agentracer.formats.who_and_when import FLAG_AGENT_STEP_MISMATCH
from agentracer.trajectory import StepKind


def _get(bench: Benchmark, trajectory_id: str):
    return next(t for _, t in bench.trajectories() if t.id == trajectory_id)


def test_both_subsets_load_completely(who_and_when: Benchmark) -> None:
    assert {k: len(v) for k, v in who_and_when.subsets.items()} == {
        "hand-crafted": 58,
        "algorithm-generated": 126,
    }
    assert who_and_when.problems() == []
    ids = [t.id for _, t in who_and_when.trajectories()]
    assert ids[:3] == ["hand-crafted/1", "hand-crafted/2", "hand-crafted/3"]  # numeric, not lexical
    assert len(set(ids)) == 184


def test_hand_crafted_speaker_rules(who_and_when: Benchmark) -> None:
    trajectory = _get(who_and_when, "hand-crafted/1")
    first = trajectory.steps[0]
    assert (first.speaker, first.agent, first.kind) == ("human", "human", StepKind.USER)
    channels = {s.speaker for s in trajectory.steps if s.agent == "Orchestrator"}
    assert {"Orchestrator (thought)", "Orchestrator (-> WebSurfer)"} <= channels
    assert trajectory.agents == ["Orchestrator", "WebSurfer"]
    assert all(s.role is None for s in trajectory.steps)  # the speaker came from `role`


def test_magentic_one_computer_terminal_is_a_tool(who_and_when: Benchmark) -> None:
    with_terminal = [
        t
        for _, t in who_and_when.trajectories()
        if any(s.speaker == "ComputerTerminal" for s in t.steps)
    ]
    assert with_terminal
    for trajectory in with_terminal:
        assert "ComputerTerminal" not in trajectory.agents
        assert all(
            s.kind is StepKind.TOOL for s in trajectory.steps if s.speaker == "ComputerTerminal"
        )


def test_algorithm_generated_speaker_rules(who_and_when: Benchmark) -> None:
    trajectory = _get(who_and_when, "algorithm-generated/1")
    assert [s.speaker for s in trajectory.steps[:3]] == [
        "Excel_Expert",
        "Computer_terminal",
        "BusinessLogic_Expert",
    ]
    assert trajectory.steps[0].role == "assistant"  # the chat role is kept beside the speaker
    assert trajectory.steps[1].kind is StepKind.TOOL
    assert "Computer_terminal" not in trajectory.agents
    assert trajectory.metadata["system_prompt"]  # nothing of the record is dropped


def test_mistake_step_is_a_zero_based_index(who_and_when: Benchmark) -> None:
    trajectory = _get(who_and_when, "hand-crafted/1")
    assert trajectory.label is not None
    assert trajectory.label.step == 12  # stored as the string "12"
    assert trajectory.steps[12].agent == trajectory.label.agent == "WebSurfer"
    assert trajectory.label.provenance.method == "human-annotation"


def test_exactly_the_six_known_mismatches_are_flagged(who_and_when: Benchmark) -> None:
    flagged = sorted(
        t.id for _, t in who_and_when.trajectories() if FLAG_AGENT_STEP_MISMATCH in t.flags
    )
    assert flagged == sorted(
        [
            "hand-crafted/20",
            "hand-crafted/22",
            "hand-crafted/49",
            "algorithm-generated/14",
            "algorithm-generated/15",
            "algorithm-generated/59",
        ]
    )


def test_export_gives_back_every_original_record(who_and_when: Benchmark, data_dir: Path) -> None:
    folders = {"hand-crafted": "Hand-Crafted", "algorithm-generated": "Algorithm-Generated"}
    for subset, trajectory in who_and_when.trajectories():
        stem = trajectory.id.split("/")[1]
        original = json.loads(
            (data_dir / "who_and_when" / folders[subset] / f"{stem}.json").read_text()
        )
        assert to_record(trajectory) == original
        assert trajectory.source is not None and trajectory.source.raw == original


def _record(**overrides):
    record = {
        "question": "q",
        "ground_truth": "a",
        "history": [
            {"content": "hi", "role": "human"},
            {"content": "plan", "role": "Orchestrator (thought)"},
        ],
        "mistake_agent": "Orchestrator",
        "mistake_step": "1",
        "mistake_reason": "bad plan",
    }
    record.update(overrides)
    return record


def test_mistake_step_outside_history_is_a_clear_error() -> None:
    with pytest.raises(
        TraceFormatError, match=r"mistake_step 2 is outside the history \(steps 0..1\)"
    ):
        parse_record(_record(mistake_step="2"), path="x.json")


def test_non_integer_mistake_step_is_a_clear_error() -> None:
    with pytest.raises(TraceFormatError, match="'two' is not an integer"):
        parse_record(_record(mistake_step="two"), path="x.json")


def test_zero_steps_is_a_clear_error() -> None:
    with pytest.raises(TraceFormatError, match="zero steps") as caught:
        parse_record(_record(history=[]), path="x.json")
    assert caught.value.path == "x.json"


def test_entry_without_speaker_is_a_clear_error() -> None:
    with pytest.raises(TraceFormatError, match=r"history\[1\] names no speaker"):
        parse_record(_record(history=[{"content": "a", "role": "human"}, {"content": "b"}]))


def test_unlabelled_record_loads_without_label() -> None:
    record = _record()
    for key in ("mistake_agent", "mistake_step", "mistake_reason"):
        del record[key]
    trajectory = parse_record(record)
    assert trajectory.label is None and trajectory.flags == []


def test_hub_style_groundtruth_key_is_read() -> None:
    record = _record()
    record["groundtruth"] = record.pop("ground_truth")
    assert parse_record(record).ground_truth == "a"
