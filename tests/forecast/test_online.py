"""Forecasting: the step-by-step driver, tracers as forecasters, the metrics and the command."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import AgenTracerError
from agentracer.forecast.metrics import (
    ForecastCase,
    case_for,
    forecast_cases,
    kind_of,
    no_alarm_yet,
    summarize,
)
from agentracer.forecast.online import (
    ForecastResult,
    TooShortError,
    TracerForecaster,
    forecast,
    prefix,
)
from agentracer.tracers import create_tracer
from agentracer.trajectory import Label, Outcome, Step, StepKind, Trajectory

runner = CliRunner()
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "failed_run.json"


def run(n: int, label: int | None = 3) -> Trajectory:
    steps = [Step(index=0, agent="user", speaker="user", kind=StepKind.USER, content="task")]
    steps += [
        Step(index=i, agent=f"A{i % 2}", speaker=f"A{i % 2}", kind=StepKind.AGENT, content=f"s{i}")
        for i in range(1, n)
    ]
    return Trajectory(
        id=f"run{n}", steps=steps, agents=["A0", "A1"],
        label=None if label is None else Label(agent=f"A{label % 2}", step=label),
    )  # fmt: skip


class AlarmAt:
    """Alarms once it has read step `at`; records every prefix length it was shown."""

    name = "alarm-at"

    def __init__(self, at: int | None, blame: int | None = None) -> None:
        self.at, self.blame, self.seen = at, blame, []

    async def alarm(self, prefix: Trajectory) -> int | None:
        t = len(prefix.steps) - 1
        self.seen.append(t)
        assert prefix.label is None and prefix.outcome is Outcome.UNKNOWN
        return (self.blame if self.blame is not None else t) if t == self.at else None


def test_the_driver_reads_agent_steps_until_the_alarm() -> None:
    forecaster = AlarmAt(4)
    result = asyncio.run(forecast(run(10), forecaster))
    assert forecaster.seen == [1, 2, 3, 4]  # step 0 is the user's
    assert (result.alarm, result.read, result.eta) == (4, 5, 0.5)
    silent = asyncio.run(forecast(run(10), AlarmAt(None)))
    assert (silent.alarm, silent.read, silent.eta) == (None, 10, 1.0)


def test_bad_forecasts_are_named_errors() -> None:
    one = Trajectory(id="one", steps=[Step(index=0, agent="A", speaker="A", content="x")])
    with pytest.raises(TooShortError, match="at least two steps"):
        asyncio.run(forecast(one, AlarmAt(0)))
    with pytest.raises(AgenTracerError, match="has not read"):
        asyncio.run(forecast(run(6), AlarmAt(2, blame=5)))


def test_a_tracer_forecasts_by_blaming_the_newest_step() -> None:
    first = TracerForecaster(create_tracer("first-agent-step"))
    assert asyncio.run(forecast(run(8), first)).alarm == 1
    assert first.name == "prefix:first-agent-step"


def test_metrics_count_alarms_eta_and_false_alarms() -> None:
    def result(alarm: int | None, read: int, steps: int = 10) -> ForecastResult:
        return ForecastResult(trajectory="t", forecaster="f", steps=steps, alarm=alarm,
                              read=read, eta=read / steps)  # fmt: skip

    cases = [
        ForecastCase(result=result(3, 4), label=3),
        ForecastCase(result=result(4, 5), label=3),
        ForecastCase(result=result(None, 10), label=6),
        ForecastCase(result=result(2, 3), label=None),
        ForecastCase(result=result(None, 10), label=None),
    ]
    s = summarize(cases, ks=[1, 3])
    assert (s.failed, s.negatives) == (3, 2)
    assert s.step_accuracy == pytest.approx(1 / 3)
    assert s.within[1] == pytest.approx(2 / 3) and s.within[3] == pytest.approx(2 / 3)
    assert s.eta == pytest.approx((0.4 + 0.5 + 1.0) / 3)
    assert s.alarm_rate == pytest.approx(2 / 3)
    assert s.false_alarms == pytest.approx(0.5)


def test_runs_cut_before_their_label_must_not_alarm() -> None:
    labelled = run(10, label=5)
    cut = no_alarm_yet(labelled)
    assert cut is not None and len(cut.steps) == 5 and cut.label is None
    assert no_alarm_yet(run(10, label=1)) is None
    dummy = ForecastResult(trajectory="t", forecaster="f", steps=5, read=5, eta=1.0)
    assert case_for(cut, dummy).label is None
    assert case_for(labelled, dummy).label == 5
    assert len(prefix(labelled, 2).steps) == 3


def test_forecast_command(data_dir: Path) -> None:
    one = runner.invoke(app, ["forecast", str(EXAMPLE), "--tracer", "first-agent-step"])
    assert one.exit_code == 0, one.output
    assert "alarm at step" in one.output and "η" in one.output
    bench = runner.invoke(app, [
        "forecast", "--bench", "who-and-when", "--subset", "algorithm-generated",
        "--data", str(data_dir), "--tracer", "first-agent-step", "--limit", "5",
    ])  # fmt: skip
    assert bench.exit_code == 0, bench.output
    assert "prefix:first-agent-step" in bench.output and "baseline never" in bench.output
    neither = runner.invoke(app, ["forecast"])
    assert neither.exit_code == 2 and "give one of" in neither.output


def test_cases_are_labelled_failures_their_cut_copies_and_successes() -> None:
    failed = run(10, label=5)
    success = run(6, label=None).model_copy(update={"id": "ok", "outcome": Outcome.SUCCESS})
    unlabelled = run(7, label=None).model_copy(update={"id": "?", "outcome": Outcome.FAILURE})
    cases = forecast_cases([failed, success, unlabelled])
    assert [c.id for c in cases] == ["run10", "run10#before-label", "ok"]
    assert [kind_of(c) for c in cases] == ["failed", "before-label", "success"]
    dummy = ForecastResult(trajectory="t", forecaster="f", steps=6, read=6, eta=1.0)
    assert case_for(success, dummy).label is None
