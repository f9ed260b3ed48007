"""`agentracer forecast`: read runs step by step and raise an alarm before they end."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentracer.cli.common import (
    BaseUrlOpt,
    IndexOpt,
    ModelOpt,
    SeedOpt,
    TimeoutOpt,
    app,
    err,
    out,
    tracer_settings,
    user_errors,
)
from agentracer.errors import AgenTracerError
from agentracer.forecast.metrics import ForecastCase, case_for, no_alarm_yet, summarize
from agentracer.forecast.online import TracerForecaster, forecast
from agentracer.formats import load_benchmark, load_one
from agentracer.tracers import TracerSettings, create_tracer
from agentracer.trajectory import Trajectory


async def _run(
    trajectories: list[Trajectory], tracer: str, settings: TracerSettings, ground_truth: bool
) -> list[ForecastCase]:
    forecaster = TracerForecaster(create_tracer(tracer, settings), with_ground_truth=ground_truth)
    cases = []
    try:
        for trajectory in trajectories:
            result = await forecast(trajectory, forecaster)
            cases.append(case_for(trajectory, result))
            alarm = "no alarm" if result.alarm is None else f"alarm at step {result.alarm}"
            err.print(escape(f"{trajectory.id}: {alarm}, read {result.read}/{result.steps}"))
    finally:
        await forecaster.tracer.aclose()
    return cases


@app.command("forecast")
@user_errors
def forecast_command(
    trace: Annotated[Path | None, typer.Argument(help="a trajectory file (or use --bench)")] = None,
    tracer: Annotated[str, typer.Option(help="the tracer that reads each prefix")] = "agentracer",
    bench: Annotated[
        str | None, typer.Option(help="who-and-when or tracertraj: report the metrics")
    ] = None,
    subset: Annotated[str | None, typer.Option(help="a subset of --bench")] = None,
    data: Annotated[Path | None, typer.Option(help="where the benchmark data is")] = None,
    limit: Annotated[int | None, typer.Option(help="at most N failed runs of --bench")] = None,
    k: Annotated[int, typer.Option("-k", help="tolerance of the ±k step accuracy")] = 1,
    index: IndexOpt = None,
    ground_truth: Annotated[
        bool, typer.Option("--ground-truth/--no-ground-truth", help="show the correct answer")
    ] = False,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    seed: SeedOpt = 0,
    timeout: TimeoutOpt = 120.0,
) -> None:
    """Prefix mode: the tracer sees steps 0..t and raises an alarm when it blames step t.

    Example: agentracer forecast examples/failed_run.json --tracer first-agent-step
    """
    if (trace is None) == (bench is None):
        raise AgenTracerError("give a trajectory file or --bench, not both")
    if bench is not None:
        loaded = load_benchmark(bench, [subset] if subset else None, data=data)
        failed = [t for _, t in loaded.trajectories() if t.label is not None][:limit]
        negatives = [cut for t in failed if (cut := no_alarm_yet(t)) is not None]
        trajectories = failed + negatives
    else:
        assert trace is not None
        trajectories = [load_one(trace, index)]
    settings = tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=None, timeout=timeout,
        concurrency=1, no_cache=False, cache_dir=None, constrain=None,
    )  # fmt: skip
    cases = asyncio.run(_run(trajectories, tracer, settings, ground_truth))
    if trace is not None:
        result = cases[0].result
        alarm = (
            "no alarm (read the whole run)"
            if result.alarm is None
            else f"alarm at step {result.alarm}"
        )
        out.print(f"{alarm}; read {result.read} of {result.steps} steps (η = {result.eta:.1%})")
        return
    s = summarize(cases, k=k)

    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.2f}%"

    out.print(
        f"{tracer}: {s.failed} failed runs, {s.negatives} runs cut before their label\n"
        f"step accuracy {pct(s.step_accuracy)}, within ±{k} {pct(s.step_within_k)}, "
        f"η {pct(s.eta)}, alarms on failed runs {pct(s.alarm_rate)}, "
        f"false alarms {pct(s.false_alarms)}",
        soft_wrap=True,
        highlight=False,
    )
