"""Forecasting metrics: alarm step accuracy (exact and within ±k) and η on failed runs, false
alarms on runs that must not alarm (successful runs, and failed runs cut before their labelled
step: "no alarm yet")."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from pydantic import BaseModel, Field

from agentracer.forecast.online import ForecastResult, prefix
from agentracer.trajectory import Outcome, Trajectory


class ForecastCase(BaseModel):
    result: ForecastResult
    label: int | None = Field(description="the decisive step; None for a run that must not alarm")


class ForecastSummary(BaseModel):
    failed: int = Field(description="labelled failed runs")
    negatives: int = Field(description="runs that must not alarm")
    step_accuracy: float | None = None
    step_within_k: float | None = None
    k: int = 1
    eta: float | None = Field(default=None, description="mean share of the log read, failed runs")
    alarm_rate: float | None = Field(default=None, description="failed runs with any alarm")
    false_alarms: float | None = Field(default=None, description="negatives with an alarm")


def no_alarm_yet(trajectory: Trajectory) -> Trajectory | None:
    """A labelled failed run cut just before its labelled step (None when fewer than two steps
    would remain): reading it, a forecaster should not alarm yet."""
    if trajectory.label is None or trajectory.label.step < 2:
        return None
    cut = prefix(trajectory, trajectory.label.step - 1)
    return cut.model_copy(update={"id": f"{trajectory.id}#before-label"})


def case_for(trajectory: Trajectory, result: ForecastResult) -> ForecastCase:
    """The case a forecast belongs to: labelled failure, or a run that must not alarm."""
    failed = trajectory.outcome is Outcome.FAILURE and trajectory.label is not None
    if trajectory.id.endswith("#before-label") or not failed:
        return ForecastCase(result=result, label=None)
    assert trajectory.label is not None
    return ForecastCase(result=result, label=trajectory.label.step)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summarize(cases: Sequence[ForecastCase], *, k: int = 1) -> ForecastSummary:
    failed = [c for c in cases if c.label is not None]
    negatives = [c for c in cases if c.label is None]
    return ForecastSummary(
        failed=len(failed),
        negatives=len(negatives),
        step_accuracy=_mean([c.result.alarm == c.label for c in failed]),
        step_within_k=_mean([
            c.result.alarm is not None and abs(c.result.alarm - (c.label or 0)) <= k
            for c in failed
        ]),
        k=k,
        eta=_mean([c.result.eta for c in failed]),
        alarm_rate=_mean([c.result.alarm is not None for c in failed]),
        false_alarms=_mean([c.result.alarm is not None for c in negatives]),
    )  # fmt: skip
