"""Tracers that need no model: the random baseline and the model-free rules (`tracers.rules`).

They anchor every results table: a method that does not beat them has learned nothing.
`agentracer eval` runs the fixed set `BASELINES` beside every tracer. A rule's verdict offers
the next two steps of its ranking as candidates, so its top-3 is scored as a learned tracer's.

Their `confidence` is the uniform prior over the run's agent steps, 1 / (number of agent
steps): a baseline knows nothing about the content, and says so.
"""

from __future__ import annotations

import random

from agentracer.naming import normalise_agent
from agentracer.tracers.base import Expectation, Tracer, TracerSettings
from agentracer.tracers.registry import register_tracer
from agentracer.tracers.rules import RULES, explain, rule_ranking
from agentracer.tracers.structure import structure
from agentracer.trajectory import Step, Trajectory, Verdict
from agentracer.wording import count

BASELINES = (
    "random",
    "first-agent-step",
    "last-agent-step",
    "most-frequent-agent",
    "first-hand-off",
    "tool-error-near-hand-off",
    "first-state-change",
)
"""The model-free baselines `eval` prints beside every tracer (random analytically)."""


def _prior(trajectory: Trajectory) -> float | None:
    n = len(trajectory.agent_steps())
    return 1 / n if n else None


def blame(
    trajectory: Trajectory, step: Step, reason: str, tracer: str,
    ranking: list[int] | None = None,
) -> Verdict:  # fmt: skip
    """A consistent verdict blaming `step`, with evidence, category and fix, and the uniform
    prior as its confidence; a rule (`tracer` names one) adds the next two steps of its ranking
    (`ranking` when the caller has it already) as candidates."""
    if ranking is None:
        ranking = rule_ranking(tracer, trajectory) if tracer in RULES else []
    verdict = Verdict(
        agent=step.agent,
        step=step.index,
        reason=reason,
        tracer=tracer,
        confidence=_prior(trajectory),
        candidates=[i for i in ranking if i != step.index][:2],
    )
    return structure(verdict, trajectory)


def _steps_by_agent(trajectory: Trajectory) -> dict[str, list[Step]]:
    by_agent: dict[str, list[Step]] = {}
    for step in trajectory.agent_steps():
        by_agent.setdefault(step.agent, []).append(step)
    return by_agent


class RandomTracer(Tracer):
    """Uniform over the agents that acted, then uniform over the chosen agent's steps.

    Drawing the agent first keeps the published agent figure (one draw among the blamable
    agents) while the verdict stays consistent: the named agent acted at the named step. The
    draw for a trajectory depends only on the seed and the trajectory's id, so results do not
    change with the order of a run or when it is resumed.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        by_agent = _steps_by_agent(trajectory)
        if not by_agent:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        rng = random.Random(f"{self.seed}:{trajectory.id}")
        agent = rng.choice(list(by_agent))
        step = rng.choice(by_agent[agent])
        return blame(trajectory, step, f"uniform random draw (seed {self.seed})", self.name)

    def expectation(self, trajectory: Trajectory) -> Expectation | None:
        """Chance of a hit, per metric.

        `agent_accuracy` and `step_accuracy` are exact for this tracer's draw. The `_paper`
        figures are the Who&When paper's random baseline: one draw among the distinct *raw*
        speaker strings (`human`, each `Orchestrator (...)` channel, `Computer_terminal`),
        exactly one of which stands for the gold agent, and one uniform draw over all steps.
        """
        label = trajectory.label
        if label is None:
            return None
        by_agent = {normalise_agent(a): steps for a, steps in _steps_by_agent(trajectory).items()}
        gold = normalise_agent(label.agent)
        speakers = {step.speaker for step in trajectory.steps}
        spoke = any(normalise_agent(step.agent) == gold for step in trajectory.steps)
        gold_step = trajectory.steps[label.step]
        owner = by_agent.get(normalise_agent(gold_step.agent), [])
        step_hit = (
            1 / len(by_agent) / len(owner)
            if by_agent and any(s.index == label.step for s in owner)
            else 0.0
        )
        return {
            "agent_accuracy": 1 / len(by_agent) if gold in by_agent else 0.0,
            "step_accuracy": step_hit,
            "agent_accuracy_paper": 1 / len(speakers) if spoke else 0.0,
            "step_accuracy_paper": 1 / len(trajectory.steps),
        }


class PositionalTracer(Tracer):
    """Blames the first (or last) step taken by a blamable agent."""

    def __init__(self, *, last: bool) -> None:
        self.last = last
        self.name = "last-agent-step" if last else "first-agent-step"

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        agent_steps = trajectory.agent_steps()
        if not agent_steps:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        step: Step = agent_steps[-1] if self.last else agent_steps[0]
        where = "last" if self.last else "first"
        return blame(trajectory, step, f"the {where} step taken by an agent", self.name)


class MostFrequentAgentTracer(Tracer):
    """Blames the first step of the agent that acted most often (the earliest such agent on a
    tie)."""

    name = "most-frequent-agent"

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        by_agent = _steps_by_agent(trajectory)
        if not by_agent:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        agent = max(by_agent, key=lambda a: len(by_agent[a]))  # first-appearance order on ties
        reason = f"the first step of {agent}, who acted most often ({count(len(by_agent[agent]), 'step')})"
        return blame(trajectory, by_agent[agent][0], reason, self.name)


class FirstHandOffTracer(Tracer):
    """Blames the first step of the second blamable agent to act: the first hand-off, where
    one agent's work is first taken up by another.

    A run with a single blamable agent has no hand-off; the documented fallback is that agent's
    first step (what `first-agent-step` blames), and the reason says so.
    """

    name = "first-hand-off"

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        by_agent = _steps_by_agent(trajectory)
        if not by_agent:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        firsts = [steps[0] for steps in by_agent.values()]
        if len(firsts) > 1:
            reason = f"the first step of {firsts[1].agent}, the second agent to act"
            return blame(trajectory, firsts[1], reason, self.name)
        reason = (
            f"no hand-off: {firsts[0].agent} is the only agent that acted, so its first step "
            "(the fallback for a single-agent run)"
        )
        return blame(trajectory, firsts[0], reason, self.name)


class RankingRuleTracer(Tracer):
    """Blames the first pick of a ranking rule of `tracers.rules` (`tool-error-near-hand-off`,
    `first-state-change`), and says which part of the rule picked it."""

    def __init__(self, rule: str) -> None:
        self.name = rule

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        ranking = rule_ranking(self.name, trajectory)
        if not ranking:
            return Verdict(reason="no step was taken by a blamable agent", tracer=self.name)
        step = trajectory.steps[ranking[0]]
        reason = explain(self.name, trajectory, step)
        return blame(trajectory, step, reason, self.name, ranking)


@register_tracer(
    "random", summary="uniform over the agents that acted, then over its steps (seeded)"
)
def _random(settings: TracerSettings) -> Tracer:
    return RandomTracer(seed=settings.seed)


@register_tracer("first-agent-step", summary="blames the first step taken by an agent")
def _first(settings: TracerSettings) -> Tracer:
    return PositionalTracer(last=False)


@register_tracer("last-agent-step", summary="blames the last step taken by an agent")
def _last(settings: TracerSettings) -> Tracer:
    return PositionalTracer(last=True)


@register_tracer(
    "most-frequent-agent", summary="blames the first step of the agent that acted most often"
)
def _most_frequent(settings: TracerSettings) -> Tracer:
    return MostFrequentAgentTracer()


@register_tracer(
    "first-hand-off",
    summary="blames the first step of the second agent to act (first hand-off); with one "
    "agent, its first step",
)
def _first_hand_off(settings: TracerSettings) -> Tracer:
    return FirstHandOffTracer()


@register_tracer(
    "tool-error-near-hand-off",
    summary="blames the agent step nearest the first hand-off whose tool output reports an "
    "error; else the first hand-off",
)
def _tool_error(settings: TracerSettings) -> Tracer:
    return RankingRuleTracer("tool-error-near-hand-off")


@register_tracer(
    "first-state-change",
    summary="blames the first step that calls a state-changing tool (cancel, modify, send, ...); "
    "else as tool-error-near-hand-off",
)
def _first_state_change(settings: TracerSettings) -> Tracer:
    return RankingRuleTracer("first-state-change")
