"""The fast tracer as a forecaster: a per-step hazard and a threshold.

The hazard of agent step t is the fast model's raw ranking score for step t when it reads only
the prefix 0..t (the features are computed on the prefix, so nothing after t leaks in). The
forecaster raises the alarm at the first agent step whose hazard reaches the threshold.

The threshold is chosen on training data only (`choose_threshold`): the one that maximises the
exact alarm step accuracy on the training runs (ties: the higher threshold, i.e. fewer alarms).
On runs that fail at their labelled step, alarming exactly there also means no alarm on the
same run cut before it, so this objective already charges false alarms. Hazards for choosing
are taken out of fold (`out_of_fold_hazards`): a model scoring its own training runs is
over-confident and would set the threshold too high.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy

from agentracer.forecast.online import prefix
from agentracer.tracers.fast.families import FeatureSet
from agentracer.tracers.fast.model import FastModel, TrainSettings, train
from agentracer.trajectory import StepKind, Trajectory

NEVER = math.inf  # a threshold no hazard reaches: the forecaster never alarms


Rows = tuple[list[int], numpy.ndarray]
"""The agent steps of a run and, for each step t, its features on the prefix 0..t."""

MemoKey = tuple[str, int, int, tuple[str, ...]]
# Features of step t on the prefix 0..t, by (run id without a `#...` suffix, t, hash of the
# question and the prefix's steps): they do not depend on the model, and computing them for every prefix costs
# O(n²) in a run's length, so a run, its cut copy and every fold's model share one computation.
# A process forecasts a bounded set of runs (a benchmark, one followed trace); the memo lives as
# long as it does.
FEATURE_MEMO: dict[MemoKey, list[float]] = {}


def newest_row(
    prefix: Trajectory,
    memo: dict[MemoKey, list[float]] | None = None,
    features: FeatureSet | None = None,
) -> list[float]:
    """The features (default: the `base` family) of the newest step of `prefix` (an agent's
    step), computed on `prefix`."""
    memo = FEATURE_MEMO if memo is None else memo
    features = features or FeatureSet()
    t = len(prefix.steps) - 1
    seen = (prefix.question, *((s.agent, s.kind, s.content) for s in prefix.steps))
    key = (prefix.id.split("#")[0], t, hash(seen), features.families)
    row = memo.get(key)
    if row is None:
        indices, rows = features.rows(prefix)
        row = memo[key] = rows[indices.index(t)]
    return row


def prefix_rows(trajectory: Trajectory, features: FeatureSet | None = None) -> Rows:
    """Features of each agent step t on the prefix 0..t (see `FEATURE_MEMO`)."""
    steps = [s.index for s in trajectory.steps if s.kind is StepKind.AGENT]
    rows = [newest_row(prefix(trajectory, t), features=features) for t in steps]
    return steps, numpy.asarray(rows, dtype=float)


def hazards(
    model: FastModel, trajectory: Trajectory, rows: Rows | None = None
) -> list[tuple[int, float]]:
    """(t, hazard of step t on the prefix 0..t) for every agent step t of `trajectory`."""
    steps, matrix = rows if rows is not None else prefix_rows(trajectory, model.features)
    if not steps:
        return []
    scores = model.booster.predict(matrix)
    return [(t, float(h)) for t, h in zip(steps, scores, strict=True)]


def first_alarm(sequence: Sequence[tuple[int, float]], threshold: float) -> int | None:
    """The first step whose hazard reaches `threshold`; None if none does."""
    return next((t for t, h in sequence if h >= threshold), None)


@dataclass(frozen=True)
class Choice:
    """A chosen threshold and how it did on the runs it was chosen on."""

    threshold: float
    accuracy: float
    runs: int


def choose_threshold(labelled: Sequence[tuple[Sequence[tuple[int, float]], int]]) -> Choice:
    """The threshold maximising exact alarm step accuracy over (hazard sequence, label step)
    pairs; ties go to the higher threshold. Never alarming is always a candidate."""
    candidates = sorted({h for sequence, _ in labelled for _, h in sequence} | {NEVER})
    best = Choice(NEVER, 0.0, len(labelled))
    for threshold in candidates:
        hits = sum(first_alarm(seq, threshold) == label for seq, label in labelled)
        accuracy = hits / len(labelled) if labelled else 0.0
        if accuracy >= best.accuracy:
            best = Choice(threshold, accuracy, len(labelled))
    return best


def out_of_fold_hazards(
    trajectories: Sequence[Trajectory],
    settings: TrainSettings,
    folds: int = 3,
    rows: dict[str, Rows] | None = None,
) -> list[tuple[list[tuple[int, float]], int]]:
    """Hazard sequences of labelled `trajectories`, each scored by a model trained on the other
    folds (folds dealt by position after a shuffle seeded by `settings.seed`). `rows` caches
    `prefix_rows` by trajectory id."""
    rows = {} if rows is None else rows
    order = list(range(len(trajectories)))
    random.Random(settings.seed).shuffle(order)
    scored: list[tuple[list[tuple[int, float]], int]] = []
    for fold in range(folds):
        held = {order[i] for i in range(fold, len(order), folds)}
        part = train([t for i, t in enumerate(trajectories) if i not in held], settings,
                     calibrate=False)  # fmt: skip
        for i in sorted(held):
            label = trajectories[i].label
            assert label is not None
            trajectory = trajectories[i]
            if trajectory.id not in rows:
                rows[trajectory.id] = prefix_rows(trajectory)
            scored.append((hazards(part, trajectory, rows[trajectory.id]), label.step))
    return scored


class HazardForecaster:
    """Alarm at the first agent step whose hazard (the fast model's score on the prefix 0..t)
    reaches `threshold`."""

    def __init__(
        self,
        model: FastModel,
        threshold: float,
        *,
        name: str = "fast-hazard",
        memo: dict[MemoKey, list[float]] | None = None,
    ) -> None:
        self.model, self.threshold, self.name = model, threshold, name
        self.memo = memo

    def hazard(self, prefix: Trajectory) -> float | None:
        """The hazard of the newest step of `prefix`; None when an agent did not take it."""
        if not prefix.steps or prefix.steps[-1].kind is not StepKind.AGENT:
            return None
        row = newest_row(prefix, self.memo, self.model.features)
        return float(self.model.booster.predict(numpy.asarray([row], dtype=float))[0])

    async def alarm(self, prefix: Trajectory) -> int | None:
        score = self.hazard(prefix)
        return None if score is None or score < self.threshold else len(prefix.steps) - 1


def threshold_record(
    trajectories: Sequence[Trajectory], source: str, settings: TrainSettings | None = None
) -> dict[str, object]:
    """Choose a threshold for a model trained on `trajectories` (out-of-fold hazards, 3 folds)
    and describe how: what `fast_threshold.json` holds for the shipped model."""
    import hashlib

    settings = settings or TrainSettings()
    labelled = [t for t in trajectories if t.label is not None]
    choice = choose_threshold(out_of_fold_hazards(labelled, settings))
    return {
        "threshold": choice.threshold,
        "chosen_on": f"{source} only ({choice.runs} labelled runs, 3-fold out-of-fold hazards)",
        "objective": "exact alarm step accuracy; ties to the higher threshold",
        "out_of_fold_accuracy": round(choice.accuracy, 4),
        "ids_sha256": hashlib.sha256("\n".join(t.id for t in labelled).encode()).hexdigest(),
        "settings": dict(vars(settings)),
    }
