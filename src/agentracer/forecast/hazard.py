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
    false_alarms: float | None = None
    """Share of the runs that must not alarm which did alarm at this threshold (when given)."""


Sequences = Sequence[Sequence[tuple[int, float]]]


def cut_before_label(labelled: Sequence[tuple[Sequence[tuple[int, float]], int]]) -> list:
    """The hazard sequences of the labelled runs cut just before their labelled step (runs
    labelled at step 0 or 1 give none, as `metrics.no_alarm_yet`): a step's hazard reads only
    its prefix, so the cut copy's hazards are the full run's up to the cut."""
    return [[(t, h) for t, h in seq if t < label] for seq, label in labelled if label >= 2]


def choose_threshold(
    labelled: Sequence[tuple[Sequence[tuple[int, float]], int]],
    *,
    negatives: Sequences | None = None,
    max_false_alarms: float | None = None,
) -> Choice:
    """The threshold maximising exact alarm step accuracy over (hazard sequence, label step)
    pairs; ties go to the higher threshold. Never alarming is always a candidate.

    With `max_false_alarms`, only thresholds at which at most that share of `negatives` (hazard
    sequences of runs that must not alarm: successful runs, runs cut before their label) raise
    an alarm are candidates: an alarm people can leave on.
    """
    candidates = sorted({h for sequence, _ in labelled for _, h in sequence} | {NEVER})
    negatives = list(negatives or [])

    def false_alarms(threshold: float) -> float | None:
        if not negatives:
            return None
        return sum(first_alarm(seq, threshold) is not None for seq in negatives) / len(negatives)

    best = Choice(NEVER, 0.0, len(labelled), false_alarms(NEVER))
    for threshold in candidates:
        rate = false_alarms(threshold)
        if max_false_alarms is not None and rate is not None and rate > max_false_alarms:
            continue
        hits = sum(first_alarm(seq, threshold) == label for seq, label in labelled)
        accuracy = hits / len(labelled) if labelled else 0.0
        if accuracy >= best.accuracy:
            best = Choice(threshold, accuracy, len(labelled), rate)
    return best


def out_of_fold_hazards(
    trajectories: Sequence[Trajectory],
    settings: TrainSettings,
    folds: int = 3,
    rows: dict[str, Rows] | None = None,
    features: FeatureSet | None = None,
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
                     calibrate=False, features=features)  # fmt: skip
        for i in sorted(held):
            label = trajectories[i].label
            assert label is not None
            trajectory = trajectories[i]
            if trajectory.id not in rows:
                rows[trajectory.id] = prefix_rows(trajectory, part.features)
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


MAX_FALSE_ALARMS = 0.10
"""The shipped threshold's bound on false alarms (issue 19, item 6: alarms people can leave on)."""


def threshold_record(
    trajectories: Sequence[Trajectory],
    source: str,
    settings: TrainSettings | None = None,
    *,
    features: FeatureSet | None = None,
    successes: Sequence[Trajectory] = (),
    max_false_alarms: float | None = MAX_FALSE_ALARMS,
) -> dict[str, object]:
    """Choose a threshold for a model trained on `trajectories` (out-of-fold hazards, 3 folds)
    and describe how: what `fast_threshold.json` holds for the shipped model. With
    `max_false_alarms`, at most that share of the runs that must not alarm (the labelled runs
    cut before their label, and `successes` scored by a model trained on all the labelled
    runs) may alarm."""
    import hashlib

    settings = settings or TrainSettings()
    labelled = [t for t in trajectories if t.label is not None]
    scored = out_of_fold_hazards(labelled, settings, features=features)
    negatives = cut_before_label(scored)
    if successes:
        model = train(labelled, settings, calibrate=False, features=features)
        negatives += [hazards(model, t) for t in successes]
    choice = choose_threshold(scored, negatives=negatives, max_false_alarms=max_false_alarms)
    bound = (
        f"exact alarm step accuracy among thresholds with at most {max_false_alarms:.0%} false "
        f"alarms on {len(negatives)} runs that must not alarm ({len(successes)} successful, the "
        "rest cut before their label); ties to the higher threshold"
    )
    return {
        "threshold": choice.threshold,
        "chosen_on": f"{source} ({choice.runs} labelled runs, 3-fold out-of-fold hazards)",
        "objective": bound if max_false_alarms is not None else
        "exact alarm step accuracy; ties to the higher threshold",
        "out_of_fold_accuracy": round(choice.accuracy, 4),
        "out_of_fold_false_alarms": None if choice.false_alarms is None else round(choice.false_alarms, 4),
        "ids_sha256": hashlib.sha256("\n".join(t.id for t in labelled).encode()).hexdigest(),
        "settings": dict(vars(settings)),
        "families": list((features or FeatureSet()).families),
    }  # fmt: skip
