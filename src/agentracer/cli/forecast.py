"""`agentracer forecast` and `agentracer eval --forecast`: read runs step by step and raise an
alarm before they end (a trajectory file, a benchmark, or a live trace in the serve store)."""

from __future__ import annotations

import asyncio
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from agentracer.cli.common import (
    BaseUrlOpt,
    IndexOpt,
    ModelOpt,
    OptionOpt,
    SeedOpt,
    TimeoutOpt,
    app,
    err,
    leave_interrupted,
    out,
    rich_table,
    tracer_settings,
    user_errors,
)
from agentracer.errors import AgenTracerError
from agentracer.export.document import document, trajectory_summary
from agentracer.forecast.evaluate import (
    ForecastRecord,
    ForecastRunConfig,
    baseline_rows,
    run_forecasts,
    select,
    summarise_run,
    table,
    write_summary,
)
from agentracer.forecast.online import Forecaster, forecast
from agentracer.forecast.registry import (
    SPECS,
    close,
    create_forecaster,
    require_forecaster,
    shipped_threshold,
)
from agentracer.formats import load_benchmark, load_one
from agentracer.formats.benchmarks import BENCH_SUBSETS, DATASET_SUBSET
from agentracer.tracers import TracerSettings
from agentracer.trajectory import Trajectory
from agentracer.wording import count


def forecaster_settings(name: str, **kwargs: Any) -> TracerSettings:
    """Settings for a forecaster name or a tracer name (prefix mode)."""
    require_forecaster(name)
    spec = SPECS.get(name)
    return tracer_settings(name, needs_model=None if spec is None else spec.needs_model, **kwargs)


def build(
    name: str, settings: TracerSettings, ground_truth: bool, labelled: list[Trajectory]
) -> tuple[Forecaster, list[str]]:
    """The forecaster, and notes saying how it was fitted (for the output and the summary).
    `-o cv=K` (fast-hazard only) cross-validates on `labelled`, grouped by question."""
    options = dict(settings.options)
    cv = options.pop("cv", None)
    if cv is None:
        forecaster = create_forecaster(name, settings, with_ground_truth=ground_truth)
        notes = []
        if name == "fast-hazard" and "threshold" not in settings.options:
            chosen = shipped_threshold()
            notes.append(
                f"fast-hazard: the shipped model (trained on every labelled source) with "
                f"threshold {chosen['threshold']:.4f}, chosen on {chosen['chosen_on']}; "
                f"objective: {chosen['objective']}"
            )
        return forecaster, notes
    if name != "fast-hazard" or set(options):
        raise AgenTracerError("-o cv=K works with --tracer fast-hazard alone (no other option)")
    if not labelled:
        raise AgenTracerError("-o cv=K fits on a benchmark: give --bench (or use eval --forecast)")
    try:
        folds = int(cv)
    except (TypeError, ValueError):
        raise AgenTracerError(f"-o cv={cv!r}: give a number of folds, e.g. -o cv=5") from None
    if folds < 2 or folds > len(labelled):
        raise AgenTracerError(f"-o cv={folds}: give between 2 and {len(labelled)} folds")
    from agentracer.forecast.crossval import CrossValidatedHazard

    note = (
        f"fast-hazard, {folds}-fold cross-validation grouped by question: each run is forecast "
        "by a model trained, and a threshold chosen, on the other folds only (never on its own "
        "labels)"
    )
    return CrossValidatedHazard(labelled, folds=folds, seed=settings.seed), [note]


def _line(record: ForecastRecord) -> str:
    if record.result is None:
        return f"{record.id}: {record.error}"
    r = record.result
    alarm = "no alarm" if r.alarm is None else f"alarm at step {r.alarm}"
    return f"{record.id}: {alarm}, read {r.read}/{r.steps}"


def run_bench(
    *,
    bench: str,
    subsets: list[str] | None,
    data: Path | None,
    tracer: str,
    settings: TracerSettings,
    ground_truth: bool,
    tolerances: list[int],
    limit: int | None,
    out_dir: Path | None,
    as_json: bool = False,
) -> dict[str, Any]:
    """Forecast a benchmark's cases (into `out_dir`, resumably, when given), print and return
    the summary with the baselines beside."""
    chosen_subsets = subsets or list(BENCH_SUBSETS.get(bench, (DATASET_SUBSET,)))
    benchmark = load_benchmark(bench, chosen_subsets, data=data)
    pairs = list(benchmark.trajectories())
    labelled = [t for _, t in pairs if t.label is not None]
    forecaster, notes = build(tracer, settings, ground_truth, labelled)
    cv = settings.options.get("cv")
    config = ForecastRunConfig(
        bench=bench, subsets=chosen_subsets, forecaster=tracer, settings=settings,
        with_ground_truth=ground_truth, tolerances=tolerances,
        cv=None if cv is None else int(cv), limit=limit,
        data=None if data is None else str(data),
    )  # fmt: skip
    cases = select(pairs, limit)
    if not cases:
        raise AgenTracerError(f"{bench} holds no labelled failed or successful run to forecast")

    def show(record: ForecastRecord | None) -> None:
        if record is not None:
            err.print(escape(_line(record)), soft_wrap=True)

    async def go() -> tuple[list[ForecastRecord], int, list[dict[str, str]]]:
        try:
            return await run_forecasts(cases, forecaster, config, out_dir, on_result=show)
        finally:
            await close(forecaster)

    records, resumed, failed = asyncio.run(go())
    notes.append(
        f"baselines on the same cases; random-hazard p = {config.random_p} (TracerTraj's "
        "geometric hazard)"
    )
    summary = summarise_run(
        records,
        config,
        asyncio.run(baseline_rows(cases, config)),
        failed=failed,
        notes=notes,
        name=forecaster.name,
    )
    if out_dir is not None:
        write_summary(out_dir, summary)
    for failure in failed:
        err.print(f"[yellow]warning:[/yellow] {escape(failure['id'])}: {escape(failure['error'])}",
                  soft_wrap=True)  # fmt: skip
    if as_json:
        typer.echo(json.dumps(document("forecast-evaluation", **summary), indent=2))
        return summary
    title = f"forecasting on {bench}"
    if tracer not in ("fast-hazard", "first-step", "never", "random-hazard"):  # they read no answer
        title += f" ({'with' if ground_truth else 'without'} the correct answer)"
    out.print(rich_table(*table(summary), title=title))
    for note in notes:
        out.print(escape(note), soft_wrap=True, highlight=False)
    done = f"; run directory: {escape(str(out_dir))}" if out_dir is not None else ""
    out.print(
        f"{len(records) - resumed} forecast, {resumed} resumed, {len(failed)} failed{done}",
        highlight=False,
    )
    return summary


def _follow(
    trace_id: str, forecaster: Forecaster, store: Path | None, poll: float, wait: float,
    quiet: float, timeout: float | None,
) -> None:  # fmt: skip
    from agentracer.cli.serve import _open_store
    from agentracer.serve.follow import follow

    opened = _open_store(store)

    async def go() -> Any:
        try:
            return await follow(
                opened, trace_id, forecaster, poll=poll, wait=wait, quiet=quiet,
                timeout=timeout, on_event=lambda e: err.print(escape(e), highlight=False),
            )  # fmt: skip
        finally:
            await close(forecaster)

    out.print(escape(follow_line(asyncio.run(go()))), highlight=False, soft_wrap=True)


def follow_line(result: Any) -> str:
    """What following a trace found (a `serve.follow.FollowResult`), as one sentence."""
    if result.alarm is None:
        return f"no alarm: the trace ended after {count(result.steps, 'step')}"
    alarm = f"alarm at step {result.alarm} ({result.agent})"
    read = f"{result.read} of {count(result.steps, 'step')}"
    if result.ended:
        return f"{alarm}, raised after reading {read}; the trace had ended"
    return f"{alarm}, raised while the trace was still running, after reading {read} so far"


@app.command("forecast")
@user_errors
def forecast_command(
    trace: Annotated[Path | None, typer.Argument(help="a trajectory file (or use --bench)")] = None,
    tracer: Annotated[
        str, typer.Option(help="fast-hazard, llm-prefix, a baseline, or any tracer (prefix mode)")
    ] = "fast-hazard",
    option: OptionOpt = None,
    bench: Annotated[
        str | None, typer.Option(help="who-and-when or tracertraj: report the metrics")
    ] = None,
    subset: Annotated[str | None, typer.Option(help="a subset of --bench")] = None,
    data: Annotated[Path | None, typer.Option(help="where the benchmark data is")] = None,
    limit: Annotated[int | None, typer.Option(help="at most N failed runs of --bench")] = None,
    k: Annotated[int, typer.Option("-k", help="tolerance of the ±k step accuracy")] = 1,
    follow: Annotated[
        str | None, typer.Option("--follow", help="a trace id in the serve store: follow it live")
    ] = None,
    store: Annotated[
        Path | None, typer.Option(help="serve store directory (default: as `agentracer serve`)")
    ] = None,
    wait: Annotated[float, typer.Option(help="--follow: seconds to wait for the trace id")] = 0.0,
    poll: Annotated[float, typer.Option(help="--follow: seconds between reads")] = 0.5,
    quiet: Annotated[
        float, typer.Option(help="--follow: a trace whose root ended is over after this")
    ] = 5.0,
    follow_timeout: Annotated[
        float | None, typer.Option("--follow-timeout", help="--follow: give up after this")
    ] = None,
    index: IndexOpt = None,
    ground_truth: Annotated[
        bool, typer.Option("--ground-truth/--no-ground-truth", help="show the correct answer")
    ] = False,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    seed: SeedOpt = 0,
    timeout: TimeoutOpt = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Read a run step by step (steps 0..t) and raise an alarm at the decisive error.

    Example: agentracer forecast examples/failed_run.json --tracer fast-hazard
    """
    if sum(x is not None for x in (trace, bench, follow)) != 1:
        raise AgenTracerError("give one of: a trajectory file, --bench, or --follow TRACE_ID")
    for option_name, seconds in (("--wait", wait), ("--poll", poll), ("--quiet", quiet),
                                 ("--follow-timeout", follow_timeout)):  # fmt: skip
        if seconds is not None and not (math.isfinite(seconds) and seconds >= 0):
            raise AgenTracerError(f"{option_name} must be a number of seconds, not {seconds}")
    if poll <= 0:
        raise AgenTracerError("--poll must be more than 0 seconds")
    settings = forecaster_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=option, timeout=timeout,
        concurrency=1, no_cache=False, cache_dir=None, constrain=None,
    )  # fmt: skip
    if bench is not None:
        run_bench(bench=bench, subsets=[subset] if subset else None, data=data, tracer=tracer,
                  settings=settings, ground_truth=ground_truth, tolerances=[k], limit=limit,
                  out_dir=None, as_json=as_json)  # fmt: skip
        return
    forecaster, notes = build(tracer, settings, ground_truth, [])
    for note in notes:
        err.print(f"[dim]{escape(note)}[/dim]", soft_wrap=True)
    if follow is not None:
        _follow(follow, forecaster, store, poll, wait, quiet, follow_timeout)
        return
    assert trace is not None
    trajectory = load_one(trace, index)

    async def go() -> Any:
        try:
            return await forecast(trajectory, forecaster)
        finally:
            await close(forecaster)

    result = asyncio.run(go())
    if as_json:
        agent = None if result.alarm is None else trajectory.steps[result.alarm].agent
        payload = document(
            "forecast", trajectory=trajectory_summary(trajectory), forecaster=tracer,
            alarm=result.alarm, agent=agent, read=result.read, steps=result.steps, eta=result.eta,
        )  # fmt: skip
        typer.echo(json.dumps(payload, indent=2))
        return
    alarm = (
        "no alarm (read the whole run)"
        if result.alarm is None
        else f"alarm at step {result.alarm} ({trajectory.steps[result.alarm].agent})"
    )
    out.print(
        escape(
            f"{alarm}; read {result.read} of {count(result.steps, 'step')} (η = {result.eta:.1%})"
        ),
        highlight=False,
    )


def forecast_eval(
    *, bench: str, tracer: str, settings_kwargs: dict[str, Any], subsets: list[str] | None,
    data: Path | None, ground_truth: bool, tolerances: list[int], out_dir: Path | None,
    seed: int, as_json: bool,
) -> None:  # fmt: skip
    """`eval --forecast`: like `forecast --bench`, into a resumable run directory."""
    settings = forecaster_settings(tracer, seed=seed, **settings_kwargs)
    label = bench if bench in BENCH_SUBSETS else Path(bench).stem
    cv = settings.options.get("cv")
    suffix = f"-cv{cv}" if cv is not None else ""
    run_dir = out_dir or Path("agentracer-runs") / f"{label}-{tracer}{suffix}-forecast-seed{seed}"
    try:
        run_bench(bench=bench, subsets=subsets, data=data, tracer=tracer, settings=settings,
                  ground_truth=ground_truth, tolerances=tolerances, limit=None, out_dir=run_dir,
                  as_json=as_json)  # fmt: skip
    except KeyboardInterrupt:
        leave_interrupted(
            f"interrupted: finished forecasts are kept in {escape(str(run_dir))}; run the same "
            "command again to resume"
        )
