"""`fast-hazard` fitted on the benchmark it is scored on, honestly: cross-validation grouped by
question.

The labelled runs are dealt into k folds so that all runs of one question land in one fold.
A run of fold i is forecast by a fast model trained on the other folds only, with a threshold
chosen on those other folds only (out-of-fold hazards inside them, see `hazard.py`). No test
label is ever used to train or to tune; its own cut copy ("no alarm yet") uses the same fold's
model.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from agentracer.errors import AgenTracerError
from agentracer.forecast.hazard import Choice, HazardForecaster, Rows, choose_threshold
from agentracer.forecast.hazard import out_of_fold_hazards as _oof
from agentracer.tracers.fast.model import TrainSettings, train
from agentracer.trajectory import Trajectory


def question_of(trajectory: Trajectory) -> str:
    """The question a run answers (Who&When's `question_ID`; else the run itself)."""
    return str(trajectory.metadata.get("question_ID") or trajectory.id)


def grouped_folds(trajectories: Sequence[Trajectory], k: int, seed: int) -> list[list[int]]:
    """Positions of `trajectories` in k folds; all runs of one question land in one fold
    (GroupKFold with the groups shuffled by `seed`, then dealt to the smallest fold, largest
    group first)."""
    groups: dict[str, list[int]] = {}
    for position, trajectory in enumerate(trajectories):
        groups.setdefault(question_of(trajectory), []).append(position)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    folds: list[list[int]] = [[] for _ in range(k)]
    for key in sorted(keys, key=lambda q: -len(groups[q])):  # stable: shuffled order within size
        min(folds, key=len).extend(groups[key])
    return folds


class CrossValidatedHazard:
    """`fast-hazard` whose model and threshold for a run come from the folds without it.

    Fold models are trained when first needed. `choices` records each fold's threshold and its
    accuracy on the training folds (for the run directory and the docs)."""

    def __init__(self, labelled: Sequence[Trajectory], *, folds: int = 5, seed: int = 0) -> None:
        if folds < 2:
            raise ValueError("cross-validation needs at least two folds")
        self.name = f"fast-hazard ({folds}-fold CV by question)"
        self.labelled = [t for t in labelled if t.label is not None]
        self.settings = TrainSettings(seed=seed)
        self.fold_of: dict[str, int] = {}
        self.folds = grouped_folds(self.labelled, folds, seed)
        for fold, positions in enumerate(self.folds):
            for position in positions:
                self.fold_of[self.labelled[position].id] = fold
        self.rows: dict[str, Rows] = {}
        self.forecasters: dict[int, HazardForecaster] = {}
        self.choices: dict[int, Choice] = {}

    def _fold_forecaster(self, fold: int) -> HazardForecaster:
        if fold not in self.forecasters:
            held = set(self.folds[fold])
            training = [t for i, t in enumerate(self.labelled) if i not in held]
            model = train(training, self.settings, calibrate=False)
            choice = choose_threshold(_oof(training, self.settings, rows=self.rows))
            self.choices[fold] = choice
            self.forecasters[fold] = HazardForecaster(model, choice.threshold, name=self.name)
        return self.forecasters[fold]

    async def alarm(self, prefix: Trajectory) -> int | None:
        base = prefix.id.split("#")[0]
        fold = self.fold_of.get(base)
        if fold is None:
            raise AgenTracerError(
                f"{base} is not one of the labelled runs this cross-validation was dealt"
            )
        return await self._fold_forecaster(fold).alarm(prefix)
