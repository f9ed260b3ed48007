import pytest

from agentracer.formats import Benchmark, load_one
from agentracer.tracers import prompts
from agentracer.training.data import (
    TrainingDataError,
    build_examples,
    question_key,
    split_by_question,
)
from tests.conftest import EXAMPLE


def test_examples_use_the_agentracer_prompt_and_gold_columns() -> None:
    trajectory = load_one(EXAMPLE)
    [example] = build_examples([trajectory], with_ground_truth=True)
    contents = [s.content for s in trajectory.steps]
    assert example["prompt"] == prompts.agentracer(trajectory, contents, with_ground_truth=True)
    assert (example["gold_agent"], example["gold_step"], example["truncated"]) == (
        "Time_Expert",
        1,
        0,
    )
    [without] = build_examples([trajectory], with_ground_truth=False)
    assert "190" not in without["prompt"][-1]["content"]


def test_truncation_keeps_every_step_number(who_and_when: Benchmark) -> None:
    longest = max(
        (t for _, t in who_and_when.trajectories()),
        key=lambda t: sum(len(s.content) for s in t.steps),
    )
    [example] = build_examples([longest], max_prompt_chars=20_000)
    text = example["prompt"][-1]["content"]
    assert (
        example["truncated"] > 0
        and sum(len(m["content"]) for m in example["prompt"]) <= 20_000 + 200
    )
    assert all(f"Step {i} - " in text for i in range(len(longest.steps)))


def test_no_question_is_on_both_sides(who_and_when: Benchmark, tracertraj: Benchmark) -> None:
    trajectories = [t for _, t in who_and_when.trajectories()] + [
        t for _, t in tracertraj.trajectories()
    ]
    examples = build_examples(trajectories, max_prompt_chars=4000)
    train, validation = split_by_question(examples, validation_fraction=0.2, seed=1)
    assert len(train) + len(validation) == len(examples) and validation and train
    assert not {question_key(e["question"]) for e in train} & {
        question_key(e["question"]) for e in validation
    }
    # Some questions do repeat across records (the same task run twice): they stay together.
    keys = [question_key(e["question"]) for e in examples]
    assert len(set(keys)) < len(keys)
    assert split_by_question(examples, 0.2, seed=1) == (train, validation)  # stable


def test_unlabelled_or_empty_data_is_refused_up_front() -> None:
    trajectory = load_one(EXAMPLE)
    unlabelled = trajectory.model_copy(update={"label": None, "id": "no-label"})
    with pytest.raises(
        TrainingDataError, match="1 of 2 trajectories have no gold label \\(first: no-label\\)"
    ):
        build_examples([trajectory, unlabelled])
    with pytest.raises(TrainingDataError, match="holds no trajectories"):
        build_examples([])
    with pytest.raises(TrainingDataError, match="validation fraction"):
        split_by_question([], 1.5)
