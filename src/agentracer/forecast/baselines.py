"""Model-free forecasters printed beside every forecasting score.

- `first-step`: alarm at the first agent step (the forecasting twin of the strongest step
  baseline on Who&When, and the cheapest possible η);
- `never`: never alarm (η = 100%, no false alarm: a post-hoc tracer's η);
- `random-hazard`: at each agent step alarm with probability p, independently; p is the
  geometric hazard of the runs it is fitted on (labelled runs / agent steps read up to and
  including their label), i.e. a forecaster that knows only how late errors come on average.
  Its draws are seeded by (seed, run id, step), so a run's answer does not depend on the order
  of the runs.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from agentracer.trajectory import StepKind, Trajectory


class FirstStepForecaster:
    name = "first-step"

    async def alarm(self, prefix: Trajectory) -> int | None:
        agents = prefix.agent_steps()
        return agents[0].index if agents else None


class NeverForecaster:
    name = "never"

    async def alarm(self, prefix: Trajectory) -> int | None:
        return None


def geometric_hazard(trajectories: Sequence[Trajectory]) -> float:
    """Labelled runs divided by the agent steps read up to and including their labelled step:
    the maximum-likelihood per-step alarm probability of a geometric waiting time."""
    runs = steps = 0
    for trajectory in trajectories:
        if trajectory.label is None:
            continue
        runs += 1
        steps += sum(
            1 for s in trajectory.steps[: trajectory.label.step + 1] if s.kind is StepKind.AGENT
        )
    return runs / steps if steps else 0.0


class RandomHazardForecaster:
    """Alarm at each agent step with probability `p`, reproducibly per (seed, run, step)."""

    def __init__(self, p: float, seed: int = 0) -> None:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"a hazard is a probability, not {p}")
        self.p, self.seed = p, seed
        self.name = f"random p={p:.3f}"

    async def alarm(self, prefix: Trajectory) -> int | None:
        t = len(prefix.steps) - 1
        if t < 0 or prefix.steps[t].kind is not StepKind.AGENT:
            return None
        key = f"{self.seed}:{prefix.id.split('#')[0]}:{t}".encode()
        draw = random.Random(hashlib.sha256(key).digest()).random()
        return t if draw < self.p else None
