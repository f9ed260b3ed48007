"""Scoring one verdict against a gold label, and accuracy with a confidence interval.

Primary scoring is exact: the normalised agent names are equal, the step integers are equal.
Beside it we reproduce the official Who&When scorer, which tests *substring containment* of
the gold string in the predicted string (`actual in predicted`): gold step `4` is a hit for a
predicted `14`, gold `WebSurfer` for a predicted `WebSurfer_2`. It over-counts, and is reported
only so our numbers can be set beside published ones. `Score.official_*` apply that test to
our parsed verdict, per record; the summary's `official` figures come from
`evaluation.official`, which replicates the released script exactly (raw text, its regexes,
every record in the denominator).

Beside top-1 on the decisive step: top-3 (the verdict's step, then its `candidates`, three
distinct steps at most; a tracer that gives no candidates has top-3 = top-1), and "hit any
annotated failure" (the verdict's step is one of the steps the annotators marked, when a label
holds several, as AgentRx's do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, Field

from agentracer.naming import same_agent
from agentracer.trajectory import Label, Verdict

Z_95 = 1.959963984540054


class Score(BaseModel):
    """Whether one verdict is right, under each scoring rule."""

    agent: bool
    step: bool
    step_within: dict[str, bool] = Field(description="|step - gold| <= k, keyed by k")
    official_agent: bool
    official_step: bool
    step_top3: bool = Field(
        default=False, description="the gold step is among the verdict's step and candidates (3)"
    )
    any_failure: bool = Field(
        default=False, description="the verdict's step is one of the annotated failures' steps"
    )


def official_agent_hit(predicted: str | None, gold: str) -> bool:
    """The Who&When scorer's agent test: the gold name is a substring of the prediction."""
    return predicted is not None and gold in predicted


def official_step_hit(predicted: int | None, gold: int) -> bool:
    """The Who&When scorer's step test: the gold number's digits occur in the predicted number's."""
    return predicted is not None and str(gold) in str(predicted)


def ranked_steps(verdict: Verdict, k: int = 3) -> list[int]:
    """The verdict's step, then its candidates, without repeats: at most `k` steps."""
    ranked = [] if verdict.step is None else [verdict.step]
    for step in verdict.candidates:
        if step not in ranked:
            ranked.append(step)
    return ranked[:k]


def score_verdict(verdict: Verdict, label: Label, tolerances: Sequence[int] = (1, 3)) -> Score:
    """Score `verdict` against `label`; a missing agent or step is simply wrong."""
    step = verdict.step
    return Score(
        step_top3=label.step in ranked_steps(verdict, 3),
        any_failure=step is not None and step in label.failure_steps(),
        agent=same_agent(verdict.agent, label.agent),
        step=step == label.step,
        step_within={str(k): step is not None and abs(step - label.step) <= k for k in tolerances},
        official_agent=official_agent_hit(verdict.agent, label.agent),
        official_step=official_step_hit(step, label.step),
    )


class Accuracy(BaseModel):
    """A proportion with its 95% Wilson score interval."""

    value: float | None
    low: float | None
    high: float | None
    hits: int
    n: int


def wilson_interval(hits: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; well-behaved at 0 and n (unlike Wald)."""
    if n == 0:
        raise ValueError("an interval needs at least one trial")
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def accuracy(outcomes: Sequence[bool]) -> Accuracy:
    """Share of hits in `outcomes`, with its 95% interval (all None for an empty sequence)."""
    n, hits = len(outcomes), sum(outcomes)
    if n == 0:
        return Accuracy(value=None, low=None, high=None, hits=0, n=0)
    low, high = wilson_interval(hits, n)
    return Accuracy(value=hits / n, low=low, high=high, hits=hits, n=n)
