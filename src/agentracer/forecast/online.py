"""The forecaster interface and the step-by-step driver.

A forecaster sees the prefix of a run (steps 0..t, outcome unknown, no label) and answers
"alarm at step s" (s <= t) or "continue" (None). Any tracer plugs in through `TracerForecaster`:
it reads the prefix as if it were a failed run and raises the alarm when it blames the newest
step (blaming an earlier step means that step was already read and let pass, so the tracer is
asked again later with more context). A learned per-step hazard model plugs in by implementing
`alarm` directly (e.g. alarm when its hazard for step t passes a threshold chosen on training
folds).
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from agentracer.errors import AgenTracerError
from agentracer.tracers.base import Tracer
from agentracer.trajectory import Outcome, StepKind, Trajectory, Usage


class TooShortError(AgenTracerError):
    """A run of one step has no prefix to forecast from."""


class Forecaster(Protocol):
    name: str

    async def alarm(self, prefix: Trajectory) -> int | None:
        """The step (of `prefix`) to raise the alarm at, or None to keep reading."""
        ...


class ForecastResult(BaseModel):
    trajectory: str
    forecaster: str
    steps: int = Field(description="steps in the whole run")
    alarm: int | None = Field(default=None, description="the step the alarm named; None: none")
    read: int = Field(description="steps read when the alarm was raised (all when none)")
    eta: float = Field(description="read / steps: the share of the log read")
    usage: Usage = Field(default_factory=Usage)


def prefix(trajectory: Trajectory, t: int) -> Trajectory:
    """Steps 0..t of `trajectory`, with the outcome unknown and no label."""
    return trajectory.model_copy(
        update={"steps": trajectory.steps[: t + 1], "outcome": Outcome.UNKNOWN, "label": None}
    )


class TracerForecaster:
    """Any tracer as a forecaster: alarm when it blames the newest step of the prefix."""

    def __init__(self, tracer: Tracer, *, with_ground_truth: bool = False) -> None:
        self.tracer, self.with_ground_truth = tracer, with_ground_truth
        self.name = f"prefix:{tracer.name}"
        self.usage = Usage()

    async def alarm(self, prefix: Trajectory) -> int | None:
        verdict = await self.tracer.attribute(prefix, with_ground_truth=self.with_ground_truth)
        self.usage = self.usage + verdict.usage
        newest = len(prefix.steps) - 1
        return newest if verdict.step == newest else None


async def read_step(forecaster: Forecaster, trajectory: Trajectory, t: int) -> int | None:
    """Show `forecaster` the prefix 0..t; its alarm, checked to name a step it has read."""
    step = await forecaster.alarm(prefix(trajectory, t))
    if step is not None and not 0 <= step <= t:
        raise AgenTracerError(
            f"forecaster {forecaster.name} raised an alarm at step {step}, which it has not "
            f"read (steps 0..{t})"
        )
    return step


async def forecast(
    trajectory: Trajectory, forecaster: Forecaster, *, start: int = 0
) -> ForecastResult:
    """Read `trajectory` step by step from step `start` until the forecaster raises an alarm or
    the run ends. Only prefixes ending in an agent's step are shown (only an action can be the
    decisive error). A forecaster's `usage`, if it has one, is reset and reported."""
    if hasattr(forecaster, "usage"):
        forecaster.usage = Usage()
    total = len(trajectory.steps)
    if total < 2:
        raise TooShortError(
            f"{trajectory.id} has {total} step; a forecast needs a run of at least two steps"
        )
    for t in range(min(start, total - 1), total):
        if trajectory.steps[t].kind is not StepKind.AGENT:
            continue
        step = await read_step(forecaster, trajectory, t)
        if step is not None:
            return ForecastResult(
                trajectory=trajectory.id, forecaster=forecaster.name, steps=total,
                alarm=step, read=t + 1, eta=(t + 1) / total,
                usage=getattr(forecaster, "usage", Usage()),
            )  # fmt: skip
    return ForecastResult(
        trajectory=trajectory.id, forecaster=forecaster.name, steps=total, read=total, eta=1.0,
        usage=getattr(forecaster, "usage", Usage()),
    )  # fmt: skip
