"""Training data: labelled trajectories (Who&When, TracerTraj, our `annotate` output) as prompts
in the AgenTracer format, with the gold answer columns the reward reads.

The prompt is exactly the one the `agentracer` tracer sends, so a trained model is evaluated on
what it was trained on. Over-long logs are shortened by the LLM layer's strategy (every step
kept with its number, long contents cut in the middle). Train and validation are split by
question, so no task appears on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import partial
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.formats import Benchmark
from agentracer.llm.context import fit_prompt
from agentracer.tracers import prompts
from agentracer.trajectory import Trajectory

DEFAULT_PROMPT_CHARS = 24_000  # about 8k tokens of prompt at 3 characters a token


class TrainingDataError(AgenTracerError):
    """A dataset that cannot be trained on (no labels, empty, ...)."""


def trajectories_of(bench: Benchmark) -> list[Trajectory]:
    """Every trajectory of a loaded dataset; a record that did not load (a label outside its
    run, a malformed history, ...) stops training before it starts, naming the first one."""
    problems = bench.problems()
    if problems:
        raise TrainingDataError(
            f"{len(problems)} record(s) of {bench.location} cannot be trained on; "
            f"first: {problems[0]}"
        )
    return [t for _, t in bench.trajectories()]


def build_examples(
    trajectories: Iterable[Trajectory],
    *,
    with_ground_truth: bool = True,
    max_prompt_chars: int | None = DEFAULT_PROMPT_CHARS,
) -> list[dict[str, Any]]:
    """One example per labelled trajectory: `prompt` (chat messages), `gold_agent`,
    `gold_step`, `question`, `trajectory_id`, `truncated` (step contents cut), `agent_steps`
    ([step, agent] for every step an agent took: the answers a tracer may give).

    Raises `TrainingDataError` before anything is built when a trajectory has no label."""
    trajectories = list(trajectories)
    if not trajectories:
        raise TrainingDataError("the dataset holds no trajectories")
    unlabelled = [t.id for t in trajectories if t.label is None]
    if unlabelled:
        raise TrainingDataError(
            f"{len(unlabelled)} of {len(trajectories)} trajectories have no gold label "
            f"(first: {unlabelled[0]}); label them first, e.g. with `agentracer annotate`"
        )
    examples = []
    for trajectory in trajectories:
        assert trajectory.label is not None
        build = partial(prompts.agentracer, trajectory, with_ground_truth=with_ground_truth)
        messages, truncated = fit_prompt(
            [s.content for s in trajectory.steps], build, max_prompt_chars
        )
        examples.append(
            {
                "prompt": messages,
                "gold_agent": trajectory.label.agent,
                "gold_step": trajectory.label.step,
                "question": trajectory.question,
                "trajectory_id": trajectory.id,
                "truncated": truncated,
                "agent_steps": [[s.index, s.agent] for s in trajectory.agent_steps()],
            }
        )
    return examples


def question_key(question: str) -> str:
    """Questions that differ only in case or spacing are the same question."""
    return " ".join(question.casefold().split())


def split_by_question(
    examples: list[dict[str, Any]], validation_fraction: float = 0.1, seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, validation): each question goes wholly to one side, chosen by a seeded hash, so
    the split is stable as the dataset grows."""
    if not 0.0 <= validation_fraction < 1.0:
        raise TrainingDataError(f"validation fraction must be in [0, 1), got {validation_fraction}")
    train: list[dict[str, Any]] = []
    validation: list[dict[str, Any]] = []
    for example in examples:
        digest = hashlib.sha256(f"{seed}:{question_key(example['question'])}".encode()).digest()
        bucket = int.from_bytes(digest[:8], "big") / 2**64
        (validation if bucket < validation_fraction else train).append(example)
    return train, validation
