"""Scorers: each ranks a run's actions (model calls) by blame for the run's risk.

- `random`: a seeded shuffle (the floor every scorer must beat);
- `leave-one-out`: delete one action (neutral answer, later calls live), `k` replays each;
  blame = risk before - mean risk after. Cost: A x k replays for A actions;
- `leave-one-out-frozen`: the same with every other action's recorded text kept (the
  Shapley value function below, so no model calls); A replays, exact;
- `shapley`: Monte-Carlo Shapley value over actions with `M` random permutations; a coalition's
  value is the risk of the run in which its actions keep their recorded text and every other
  action is neutral (no model calls: the counterfactual holds texts fixed, like the insertion
  variant). Cost: at most M x A + 1 replays (coalitions are cached);
- `tracer:NAME`: any registered tracer reads the run as a trajectory; its verdict step comes
  first, then its candidates, then the blamed agent's other actions nearest the verdict first,
  then everyone else's, nearest first. Cost: the tracer's model calls, no replays.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass

from pydantic import BaseModel, Field

from agentracer.errors import AgenTracerError
from agentracer.faithfulness.subject import Subject, mean_and_spread
from agentracer.replay.convert import call_index, to_trajectory
from agentracer.tracers import TracerSettings
from agentracer.tracers.registry import create_tracer, tracer_spec
from agentracer.trajectory import StepKind, Trajectory, Usage, Verdict


class Ranking(BaseModel):
    """A scorer's ranking of the run's actions, most blamed first, and what it cost."""

    scorer: str
    order: list[int] = Field(description="model-call indices, most blamed first")
    scores: dict[int, float] = Field(default_factory=dict)
    replays: int = Field(default=0, description="simulation replays the scorer needed")
    usage: Usage = Field(default_factory=Usage)
    notes: list[str] = Field(default_factory=list)


class Scorer:
    name = "scorer"

    def rank(self, subject: Subject) -> Ranking:
        raise NotImplementedError


def _by_score(scores: dict[int, float]) -> list[int]:
    return sorted(scores, key=lambda action: (-scores[action], action))


@dataclass
class RandomScorer(Scorer):
    seed: int = 0
    name = "random"

    def rank(self, subject: Subject) -> Ranking:
        order = list(subject.actions)
        random.Random(self.seed).shuffle(order)
        return Ranking(scorer=self.name, order=order)


@dataclass
class LeaveOneOutScorer(Scorer):
    k: int = 1
    name = "leave-one-out"

    def rank(self, subject: Subject) -> Ranking:
        before, start = subject.risk_before, subject.replays
        scores = {}
        for action in subject.actions:
            risks = [
                subject.replay({action: subject.neutral_action}, f"loo-{action}", live=True).risk
                for _ in range(self.k)
            ]
            scores[action] = before - mean_and_spread(risks)[0]
        return Ranking(
            scorer=self.name, order=_by_score(scores), scores=scores,
            replays=subject.replays - start, notes=[f"k={self.k}"],
        )  # fmt: skip


@dataclass
class FrozenLeaveOneOutScorer(Scorer):
    """Leave-one-out under the Shapley scorer's value function: one action neutral, every other
    action keeps its recorded text, so no model is asked (one exact replay per action)."""

    name = "leave-one-out-frozen"

    def rank(self, subject: Subject) -> Ranking:
        before, start = subject.risk_before, subject.replays
        texts = subject.recorded_texts()
        scores = {}
        for action in subject.actions:
            edits = {**texts, action: subject.neutral_action}
            scores[action] = before - subject.replay(edits, f"loof-{action}", live=False).risk
        return Ranking(
            scorer=self.name, order=_by_score(scores), scores=scores,
            replays=subject.replays - start, notes=["texts frozen, no model calls"],
        )  # fmt: skip


@dataclass
class ShapleyScorer(Scorer):
    permutations: int = 4
    seed: int = 0
    name = "shapley"

    def rank(self, subject: Subject) -> Ranking:
        if self.permutations < 1:
            raise AgenTracerError("Shapley needs at least one permutation (M >= 1)")
        actions, start = subject.actions, subject.replays
        texts = subject.recorded_texts()
        values: dict[frozenset[int], float] = {}

        def value(kept: frozenset[int]) -> float:
            if kept not in values:
                edits = {a: texts[a] if a in kept else subject.neutral_action for a in actions}
                values[kept] = subject.replay(edits, "shapley", live=False).risk
            return values[kept]

        rng = random.Random(self.seed)
        phi = dict.fromkeys(actions, 0.0)
        for _ in range(self.permutations):
            order = list(actions)
            rng.shuffle(order)
            kept: frozenset[int] = frozenset()
            previous = value(kept)
            for action in order:
                kept = kept | {action}
                current = value(kept)
                phi[action] += (current - previous) / self.permutations
                previous = current
        return Ranking(
            scorer=self.name, order=_by_score(phi), scores=phi, replays=subject.replays - start,
            notes=[f"M={self.permutations} permutations, {len(values)} distinct coalitions"],
        )  # fmt: skip


def _nearest_first(actions: list[int], anchor: int) -> list[int]:
    return sorted(actions, key=lambda a: (abs(a - anchor), a))


def _blamed_call(trajectory: Trajectory, step: int) -> int | None:
    """The model call of `step`; a tool step (the environment's report) blames the agent call
    just before it."""
    for index in range(min(step, len(trajectory.steps) - 1), -1, -1):
        if trajectory.steps[index].kind is StepKind.AGENT:
            return call_index(trajectory, index)
    return None


@dataclass
class TracerScorer(Scorer):
    tracer: str
    settings: TracerSettings

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"tracer:{self.tracer}"

    def rank(self, subject: Subject) -> Ranking:
        trajectory = to_trajectory(subject.recording, path=subject.directory)
        verdict = asyncio.run(self._attribute(trajectory))
        notes, head = [], []
        for step in [verdict.step, *verdict.candidates]:
            if step is None:
                continue
            if not 0 <= step < len(trajectory.steps):
                notes.append(f"verdict step {step} is outside the run; ignored")
                continue
            call = _blamed_call(trajectory, step)
            if call is not None and call not in head:
                head.append(call)
        if not head:
            notes.append(f"the verdict named no usable step ({verdict.parse_status})")
        anchor = head[0] if head else 0
        rest = [a for a in subject.actions if a not in head]
        agent = verdict.agent
        calls = subject.recording.calls()
        own = [a for a in rest if calls[a].agent == agent]
        others = [a for a in rest if calls[a].agent != agent]
        order = head + _nearest_first(own, anchor) + _nearest_first(others, anchor)
        return Ranking(scorer=self.name, order=order, usage=verdict.usage, notes=notes)

    async def _attribute(self, trajectory: Trajectory) -> Verdict:
        tracer = create_tracer(self.tracer, self.settings)
        try:
            return await tracer.attribute(trajectory)
        finally:
            await tracer.aclose()


SCORER_NAMES = ("random", "leave-one-out", "leave-one-out-frozen", "shapley")


def make_scorer(
    name: str, *, k: int = 1, permutations: int = 4, seed: int = 0,
    settings: TracerSettings | None = None,
) -> Scorer:  # fmt: skip
    """A scorer by CLI name: random, leave-one-out, leave-one-out-frozen, shapley, or
    tracer:NAME (any tracer)."""
    if name == "random":
        return RandomScorer(seed=seed)
    if name == "leave-one-out":
        return LeaveOneOutScorer(k=k)
    if name == "leave-one-out-frozen":
        return FrozenLeaveOneOutScorer()
    if name == "shapley":
        return ShapleyScorer(permutations=permutations, seed=seed)
    if name.startswith("tracer:"):
        tracer = name.removeprefix("tracer:")
        tracer_spec(tracer)  # an unknown name fails now, listing the known ones
        return TracerScorer(tracer, settings or TracerSettings(seed=seed))
    raise AgenTracerError(
        f"unknown scorer {name!r}; known: {', '.join(SCORER_NAMES)}, tracer:NAME (e.g. tracer:agentracer)"
    )
