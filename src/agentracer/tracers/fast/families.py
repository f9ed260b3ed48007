"""Feature families of the fast tracer: named groups of per-agent-step features, composed.

A model is trained on a tuple of families (`FeatureSet`); its file records them, so the tracer
and the forecaster compute exactly the columns it was trained on. Families:

- `base`: `features.FEATURES` (absolute and relative positions, agent and content cues);
- `transfer`: `transfer.TRANSFER_FEATURES` (relative to the run: hand-off structure,
  within-run percentiles, tool errors, corrections, contested content);
- `surprise`, `embeddings`: model signals (`surprise.py`, `embeddings.py`; computed once per
  run and cached on disk; they need the embedded models).

The model-signal families are imported when used, so a model without them loads no model.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agentracer.errors import AgenTracerError
from agentracer.trajectory import Trajectory

Rows = list[list[float]]


def _base() -> tuple[tuple[str, ...], Callable[[Trajectory], Rows]]:
    from agentracer.tracers.fast.features import FEATURES, step_features

    return FEATURES, lambda t: step_features(t)[1]


def _transfer() -> tuple[tuple[str, ...], Callable[[Trajectory], Rows]]:
    from agentracer.tracers.fast.transfer import TRANSFER_FEATURES, transfer_features

    return TRANSFER_FEATURES, transfer_features


def _surprise() -> tuple[tuple[str, ...], Callable[[Trajectory], Rows]]:
    from agentracer.tracers.fast.surprise import SURPRISE_FEATURES, surprise_features

    return SURPRISE_FEATURES, surprise_features


def _embeddings() -> tuple[tuple[str, ...], Callable[[Trajectory], Rows]]:
    from agentracer.tracers.fast.embeddings import EMBEDDING_FEATURES, embedding_features

    return EMBEDDING_FEATURES, embedding_features


FAMILIES: dict[str, Callable[[], tuple[tuple[str, ...], Callable[[Trajectory], Rows]]]] = {
    "base": _base,
    "transfer": _transfer,
    "surprise": _surprise,
    "embeddings": _embeddings,
}
MODEL_SIGNALS = ("surprise", "embeddings")


def family(name: str) -> tuple[tuple[str, ...], Callable[[Trajectory], Rows]]:
    """The feature names and row function of family `name`."""
    if name not in FAMILIES:
        raise AgenTracerError(f"unknown feature family {name!r}; known: {', '.join(FAMILIES)}")
    return FAMILIES[name]()


@dataclass
class FeatureSet:
    """The columns of a model: the concatenated rows of `families`, one per agent step.

    `memo`, when given, keeps each run's rows by (family, run id) so that a benchmark training
    many models on the same runs computes them once; it must only be shared between runs
    whose ids are unique.
    """

    families: tuple[str, ...] = ("base",)
    memo: dict[tuple[str, str], Rows] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.families:
            raise AgenTracerError("a feature set needs at least one family")
        for name in self.families:
            family(name)

    @property
    def names(self) -> list[str]:
        return [n for f in self.families for n in family(f)[0]]

    def rows(self, trajectory: Trajectory) -> tuple[list[int], Rows]:
        """The agent steps' indices and their rows."""
        indices = [s.index for s in trajectory.agent_steps()]
        if not indices:
            return [], []
        parts = []
        for name in self.families:
            key = (name, trajectory.id)
            if self.memo is not None and key in self.memo:
                parts.append(self.memo[key])
                continue
            rows = family(name)[1](trajectory)
            if self.memo is not None:
                self.memo[key] = rows
            parts.append(rows)
        joined: Rows = [
            functools.reduce(operator.add, columns, []) for columns in zip(*parts, strict=True)
        ]
        return indices, [[float(v) for v in row] for row in joined]


def feature_set(families: Sequence[str] | str, memo: dict | None = None) -> FeatureSet:
    """A `FeatureSet` from a sequence of names or a comma-separated string."""
    names = tuple(families.split(",")) if isinstance(families, str) else tuple(families)
    return FeatureSet(tuple(n.strip() for n in names if n.strip()), memo)
