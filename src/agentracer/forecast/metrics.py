"""Forecasting metrics: alarm step accuracy (exact and within ±k) and η on failed runs, false
alarms on runs that must not alarm (successful runs, and failed runs cut before their labelled
step: "no alarm yet")."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from agentracer.forecast.online import ForecastResult, prefix
from agentracer.trajectory import Outcome, Trajectory

BEFORE_LABEL = "#before-label"
CaseKind = Literal["failed", "before-label", "success"]


class ForecastCase(BaseModel):
    result: ForecastResult
    label: int | None = Field(description="the decisive step; None for a run that must not alarm")


class ForecastSummary(BaseModel):
    failed: int = Field(description="labelled failed runs")
    negatives: int = Field(description="runs that must not alarm")
    step_accuracy: float | None = None
    within: dict[int, float | None] = Field(
        default_factory=dict, description="k -> share of failed runs alarmed within ±k steps"
    )
    eta: float | None = Field(default=None, description="mean share of the log read, failed runs")
    alarm_rate: float | None = Field(default=None, description="failed runs with any alarm")
    false_alarms: float | None = Field(default=None, description="negatives with an alarm")


def no_alarm_yet(trajectory: Trajectory) -> Trajectory | None:
    """A labelled failed run cut just before its labelled step (None when fewer than two steps
    would remain): reading it, a forecaster should not alarm yet."""
    if trajectory.label is None or trajectory.label.step < 2:
        return None
    cut = prefix(trajectory, trajectory.label.step - 1)
    return cut.model_copy(update={"id": f"{trajectory.id}{BEFORE_LABEL}"})


def kind_of(trajectory: Trajectory) -> CaseKind | None:
    """What a run is for forecasting: a labelled failure (alarm expected at its label), a cut
    copy or a successful run (no alarm expected), or None (failed or unknown without a label:
    nothing to score)."""
    if trajectory.id.endswith(BEFORE_LABEL):
        return "before-label"
    if trajectory.outcome is Outcome.SUCCESS:
        return "success"
    if trajectory.label is not None and trajectory.outcome is not Outcome.SUCCESS:
        return "failed"
    return None


def forecast_cases(trajectories: Sequence[Trajectory]) -> list[Trajectory]:
    """The runs a forecaster is scored on: every labelled failure, its copy cut before the
    label, and every successful run; unlabelled failures are left out."""
    failed = [t for t in trajectories if kind_of(t) == "failed"]
    cuts = [cut for t in failed if (cut := no_alarm_yet(t)) is not None]
    successes = [t for t in trajectories if kind_of(t) == "success"]
    return failed + cuts + successes


def case_for(trajectory: Trajectory, result: ForecastResult) -> ForecastCase:
    """The case a forecast belongs to: labelled failure, or a run that must not alarm."""
    if kind_of(trajectory) == "failed":
        assert trajectory.label is not None
        return ForecastCase(result=result, label=trajectory.label.step)
    return ForecastCase(result=result, label=None)


def _mean(values: Sequence[float]) -> float | None:
    return statistics.fmean(values) if values else None


def summarize(cases: Sequence[ForecastCase], *, ks: Sequence[int] = (1,)) -> ForecastSummary:
    failed = [c for c in cases if c.label is not None]
    negatives = [c for c in cases if c.label is None]

    def within(k: int) -> float | None:
        return _mean([
            c.result.alarm is not None and abs(c.result.alarm - (c.label or 0)) <= k
            for c in failed
        ])  # fmt: skip

    return ForecastSummary(
        failed=len(failed),
        negatives=len(negatives),
        step_accuracy=_mean([c.result.alarm == c.label for c in failed]),
        within={k: within(k) for k in ks},
        eta=_mean([c.result.eta for c in failed]),
        alarm_rate=_mean([c.result.alarm is not None for c in failed]),
        false_alarms=_mean([c.result.alarm is not None for c in negatives]),
    )
