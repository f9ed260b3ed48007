"""The fast tracer's model: a LightGBM ranking model over a trajectory's agent steps.

Training treats each labelled trajectory as one query whose documents are its agent steps;
the gold step is the one relevant document (LambdaRank). At attribution the step with the
highest score is blamed, and a softmax of the scores over the trajectory's agent steps, at a
temperature fitted on the training data, is reported as the confidence.

A model is one JSON file: the feature names (checked at load), the softmax temperature, the
training settings and data description, and LightGBM's own text dump of the booster.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.tracers.fast.features import FEATURES, step_features
from agentracer.trajectory import StepKind, Trajectory

FORMAT_VERSION = 1
TEMPERATURES = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0)


def _lightgbm() -> Any:
    try:
        import lightgbm
    except ImportError:  # pragma: no cover - lightgbm is a core dependency
        raise AgenTracerError(
            "the fast tracer needs LightGBM: pip install lightgbm (it is in agentracer's core "
            "dependencies; reinstall agentracer)"
        ) from None
    return lightgbm


@dataclass
class TrainSettings:
    """LightGBM LambdaRank settings: common small-data choices, set a priori and never tuned on
    Who&When."""

    n_estimators: int = 300
    learning_rate: float = 0.05
    num_leaves: int = 15
    min_child_samples: int = 5
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class FastModel:
    """A trained ranking model with its softmax temperature and description."""

    booster: Any
    temperature: float = 1.0
    meta: dict[str, Any] = field(default_factory=dict)

    def scores(self, trajectory: Trajectory) -> tuple[list[int], list[float]]:
        """Agent-step indices and their raw ranking scores."""
        indices, rows = step_features(trajectory)
        if not rows:
            return [], []
        import numpy  # here, not at import: registering the tracers must stay cheap

        return indices, [float(x) for x in self.booster.predict(numpy.asarray(rows, dtype=float))]

    def probabilities(self, trajectory: Trajectory) -> tuple[list[int], list[float]]:
        """Agent-step indices and the softmax of their scores at the fitted temperature."""
        indices, raw = self.scores(trajectory)
        return indices, softmax(raw, self.temperature)

    def save(self, path: Path) -> None:
        """Write the model as one JSON file (LightGBM's text dump inside)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "format": "agentracer-fast",
            "version": FORMAT_VERSION,
            "features": list(FEATURES),
            "temperature": self.temperature,
            "meta": self.meta,
            "booster": self.booster.model_to_string(),
        }
        path.write_text(json.dumps(document) + "\n", encoding="utf-8")


def softmax(scores: Sequence[float], temperature: float = 1.0) -> list[float]:
    if not scores:
        return []
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def load_model(path: Path) -> FastModel:
    """Read a model written by `FastModel.save`; a file of another kind or an older feature set
    is refused with a message saying what to do."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgenTracerError(
            f"no fast-tracer model at {path}; train one with `agentracer train-fast`"
        ) from None
    except (OSError, json.JSONDecodeError) as error:
        raise AgenTracerError(f"cannot read the fast-tracer model {path}: {error}") from None
    if not isinstance(document, dict) or document.get("format") != "agentracer-fast":
        raise AgenTracerError(
            f"{path} is not a fast-tracer model (agentracer train-fast writes one)"
        )
    if document.get("features") != list(FEATURES):
        raise AgenTracerError(
            f"{path} was trained on other features than this version computes; retrain it with "
            "`agentracer train-fast`"
        )
    booster = _lightgbm().Booster(model_str=document["booster"])
    return FastModel(booster, float(document.get("temperature", 1.0)), document.get("meta", {}))


def training_rows(
    trajectories: Sequence[Trajectory],
) -> tuple[list[list[float]], list[int], list[int], list[Trajectory]]:
    """Features, relevance labels and query sizes of every trajectory whose gold step is an
    agent step (others cannot be ranked), and the trajectories used."""
    rows: list[list[float]] = []
    labels: list[int] = []
    groups: list[int] = []
    used: list[Trajectory] = []
    for trajectory in trajectories:
        label = trajectory.label
        if label is None or trajectory.steps[label.step].kind is not StepKind.AGENT:
            continue
        indices, features = step_features(trajectory)
        if len(indices) < 1:
            continue
        rows.extend(features)
        labels.extend(int(i == label.step) for i in indices)
        groups.append(len(indices))
        used.append(trajectory)
    return rows, labels, groups, used


def _fit_booster(
    trajectories: Sequence[Trajectory], settings: TrainSettings
) -> tuple[Any, list[Trajectory], int]:
    rows, labels, groups, used = training_rows(trajectories)
    if not groups:
        raise AgenTracerError(
            "no trajectory to train on: the fast tracer needs labelled runs whose gold step "
            "was taken by an agent"
        )
    lightgbm = _lightgbm()
    # LightGBM's native API: its scikit-learn wrapper (LGBMRanker) would need scikit-learn.
    params = {
        "objective": "lambdarank",
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_child_samples": settings.min_child_samples,
        "bagging_fraction": settings.subsample,
        "bagging_freq": 1,
        "feature_fraction": settings.colsample_bytree,
        "seed": settings.seed,
        "num_threads": 1,
        "verbose": -1,
        **settings.extra,
    }
    import numpy

    dataset = lightgbm.Dataset(
        numpy.asarray(rows, dtype=float),
        label=numpy.asarray(labels),
        group=groups,
        feature_name=list(FEATURES),
    )
    booster = lightgbm.train(params, dataset, num_boost_round=settings.n_estimators)
    return booster, used, len(rows)


def _out_of_fold_temperature(
    used: Sequence[Trajectory], settings: TrainSettings, folds: int = 3
) -> float:
    """The temperature fitted on out-of-fold scores: a model scores the trajectories it was
    not trained on, so the confidence is not that of a model judging its own training data."""
    scored: list[tuple[list[float], int]] = []
    for fold in range(folds):
        train_part = [t for i, t in enumerate(used) if i % folds != fold]
        held = [t for i, t in enumerate(used) if i % folds == fold]
        booster, _, _ = _fit_booster(train_part, settings)
        part = FastModel(booster)
        for trajectory in held:
            indices, raw = part.scores(trajectory)
            assert trajectory.label is not None
            scored.append((raw, indices.index(trajectory.label.step)))

    def nll(temperature: float) -> float:
        return -sum(math.log(max(softmax(raw, temperature)[g], 1e-12)) for raw, g in scored)

    return min(TEMPERATURES, key=nll)


def train(
    trajectories: Sequence[Trajectory],
    settings: TrainSettings | None = None,
    meta: dict[str, Any] | None = None,
    *,
    calibrate: bool = True,
) -> FastModel:
    """Fit a LambdaRank model on the labelled `trajectories` (one query per trajectory).

    With `calibrate` the softmax temperature is fitted on 3-fold out-of-fold scores of the
    training data (three more fits); without it the temperature is 1 (accuracy is unchanged:
    the temperature only scales the confidence).
    """
    settings = settings or TrainSettings()
    booster, used, n_rows = _fit_booster(trajectories, settings)
    temperature = 1.0
    if calibrate and len(used) >= 6:
        temperature = _out_of_fold_temperature(used, settings)
    model = FastModel(booster, temperature, dict(meta or {}))
    model.meta.update(
        {
            "trajectories": len(used),
            "skipped": len(trajectories) - len(used),
            "agent_steps": n_rows,
            "settings": dict(vars(settings)),
            "temperature": "fitted on 3-fold out-of-fold scores of the training data"
            if calibrate
            else "1 (not calibrated)",
        }
    )
    return model
