"""The model-free baselines scored beside every evaluation, on the same trajectories.

A tracer's score means little alone: Who&When's labels sit on a few positions, so simple
positional rules score well above chance. `eval` therefore scores the fixed set
`agentracer.tracers.baselines.BASELINES` on exactly the trajectories the tracer was scored on
(the random one analytically, as its expected accuracy) and stores them in `summary.json`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from agentracer.evaluation.metrics import Score, accuracy, score_verdict
from agentracer.formats.who_and_when import FLAG_GOLD_NOT_BLAMABLE
from agentracer.tracers import create_tracer
from agentracer.tracers.baselines import BASELINES
from agentracer.trajectory import Label, Trajectory

RANDOM_ANALYTIC = "random (analytic)"
RANDOM_PAPER = "random, Who&When paper (analytic)"


def _figures(scores: Sequence[Score], tolerances: Sequence[int]) -> dict[str, Any]:
    return {
        "n": len(scores),
        "agent_accuracy": accuracy([s.agent for s in scores]).value,
        "step_accuracy": accuracy([s.step for s in scores]).value,
        "step_top3_accuracy": accuracy([s.step_top3 for s in scores]).value,
        "any_failure_accuracy": accuracy([s.any_failure for s in scores]).value,
        "step_accuracy_within": {
            str(k): accuracy([s.step_within[str(k)] for s in scores]).value for k in tolerances
        },
    }


def _random_analytic(trajectories: Sequence[Trajectory], paper: bool) -> dict[str, Any]:
    """Mean expected accuracy of the `random` tracer, or (`paper`) of the Who&When paper's
    random baseline: a draw among raw speaker strings and a uniform draw over all steps."""
    tracer = create_tracer("random")
    expectations = [tracer.expectation(t) or {} for t in trajectories]
    n = len(expectations)
    suffix = "_paper" if paper else ""

    def mean(metric: str) -> float | None:
        return sum(e.get(metric + suffix, 0.0) for e in expectations) / n if n else None

    return {
        "n": n,
        "agent_accuracy": mean("agent_accuracy"),
        "step_accuracy": mean("step_accuracy"),
        "step_accuracy_within": {},
    }


def score_baselines(
    items: Iterable[tuple[str, Trajectory]],
    subsets: Sequence[str],
    tolerances: Sequence[int],
    *,
    with_ground_truth: bool = True,
) -> dict[str, dict[str, Any]]:
    """Per baseline, per subset (and `all`): n, agent and step accuracy, step within ±k.

    `items` are (subset, trajectory) pairs with gold labels: the ones the tracer was scored on.
    The random baseline is reported by its analytic expectation, as `random (analytic)`, and
    beside it the Who&When paper's random baseline (agents drawn among raw speaker strings,
    steps uniformly over the whole log), which published tables quote.
    """
    # A run whose gold agent cannot be blamed is not scored (the tracer's figures leave it out too)
    labelled = [
        (s, t) for s, t in items if t.label is not None and FLAG_GOLD_NOT_BLAMABLE not in t.flags
    ]
    groups = {name: [t for s, t in labelled if s == name] for name in subsets}
    groups["all"] = [t for _, t in labelled]

    async def verdicts(name: str) -> dict[str, Score]:
        tracer = create_tracer(name)
        scored = {}
        for _, trajectory in labelled:
            verdict = await tracer.attribute(trajectory, with_ground_truth=with_ground_truth)
            label: Label = trajectory.label  # type: ignore[assignment]
            scored[trajectory.id] = score_verdict(verdict, label, tolerances)
        return scored

    out: dict[str, dict[str, Any]] = {
        RANDOM_ANALYTIC: {g: _random_analytic(ts, paper=False) for g, ts in groups.items()},
        RANDOM_PAPER: {g: _random_analytic(ts, paper=True) for g, ts in groups.items()},
    }
    for name in BASELINES:
        if name == "random":
            continue
        scored = asyncio.run(verdicts(name))
        out[name] = {
            g: _figures([scored[t.id] for t in ts], tolerances) for g, ts in groups.items()
        }
    return out


def best_baseline(baselines: dict[str, dict[str, Any]], subset: str, metric: str) -> str | None:
    """The baseline with the highest `metric` on `subset` (the first listed on a tie)."""
    scored = [
        (name, figures[subset][metric])
        for name, figures in baselines.items()
        if subset in figures and figures[subset].get(metric) is not None
    ]
    if not scored:
        return None
    return max(scored, key=lambda pair: pair[1])[0]
