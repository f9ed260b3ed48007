"""Tracers that need no model: the random baseline and two positional baselines.

They anchor every results table: a method that does not beat them has learned nothing.
"""

from __future__ import annotations

import random

from agentracer.naming import normalise_agent
from agentracer.tracers.base import Expectation, Tracer, TracerSettings
from agentracer.tracers.registry import register_tracer
from agentracer.trajectory import Step, Trajectory, Verdict


class RandomTracer(Tracer):
    """Uniform over the trajectory's blamable agents, and independently uniform over all steps.

    The draw for a trajectory depends only on the seed and the trajectory's id, so results do
    not change with the order of a run or when it is resumed.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        rng = random.Random(f"{self.seed}:{trajectory.id}")
        agent = rng.choice(trajectory.agents) if trajectory.agents else None
        step = rng.randrange(len(trajectory.steps))
        return Verdict(
            agent=agent,
            step=step,
            reason=f"uniform random draw (seed {self.seed})",
            tracer=self.name,
        )

    def expectation(self, trajectory: Trajectory) -> Expectation | None:
        """Chance of a hit, per metric.

        `agent_accuracy_paper` is the Who&When paper's random baseline: one draw among the
        distinct *raw* speaker strings (`human`, each `Orchestrator (...)` channel,
        `Computer_terminal`), exactly one of which stands for the gold agent.
        """
        label = trajectory.label
        if label is None:
            return None
        gold = normalise_agent(label.agent)
        hit = any(normalise_agent(agent) == gold for agent in trajectory.agents)
        speakers = {step.speaker for step in trajectory.steps}
        spoke = any(normalise_agent(step.agent) == gold for step in trajectory.steps)
        return {
            "agent_accuracy": 1 / len(trajectory.agents) if hit else 0.0,
            "step_accuracy": 1 / len(trajectory.steps),
            "agent_accuracy_paper": 1 / len(speakers) if spoke else 0.0,
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
        return Verdict(
            agent=step.agent,
            step=step.index,
            reason=f"the {where} step taken by an agent",
            tracer=self.name,
        )


@register_tracer("random", summary="uniform over blamable agents and over steps (seeded)")
def _random(settings: TracerSettings) -> Tracer:
    return RandomTracer(seed=settings.seed)


@register_tracer("first-agent-step", summary="blames the first step taken by an agent")
def _first(settings: TracerSettings) -> Tracer:
    return PositionalTracer(last=False)


@register_tracer("last-agent-step", summary="blames the last step taken by an agent")
def _last(settings: TracerSettings) -> Tracer:
    return PositionalTracer(last=True)
