from agentracer.formats import Benchmark, to_record
from agentracer.formats.tracertraj import FLAG_INJECTION_LEAK, FLAG_PROMPT_DUMP


def test_sample_loads_with_unique_ids(tracertraj: Benchmark) -> None:
    trajectories = [t for _, t in tracertraj.trajectories()]
    assert len(trajectories) == 127
    assert tracertraj.problems() == []
    assert len({t.id for t in trajectories}) == 127
    assert all(t.label is not None for t in trajectories)


def test_history_step_field_equals_index(tracertraj: Benchmark) -> None:
    for _, trajectory in tracertraj.trajectories():
        assert trajectory.source is not None and trajectory.source.raw is not None
        raw_steps = [entry["step"] for entry in trajectory.source.raw["history"]]
        assert raw_steps == [s.index for s in trajectory.steps]


def test_known_flaws_are_flagged_with_published_counts(tracertraj: Benchmark) -> None:
    flags = [t.flags for _, t in tracertraj.trajectories()]
    assert sum(FLAG_PROMPT_DUMP in f for f in flags) == 74
    assert sum(FLAG_INJECTION_LEAK in f for f in flags) == 68


def test_engineer_is_the_majority_gold_agent(tracertraj: Benchmark) -> None:
    # The sample's known bias: always answering "Engineer" gets 72% agent accuracy.
    golds = [t.label.agent for _, t in tracertraj.trajectories() if t.label]
    assert round(100 * golds.count("Engineer") / len(golds)) == 72


def test_export_gives_back_every_row(tracertraj: Benchmark) -> None:
    for _, trajectory in tracertraj.trajectories():
        assert trajectory.source is not None
        assert to_record(trajectory, step_numbers=True) == trajectory.source.raw
