"""`agentracer eval`: score a tracer on a benchmark, resumably, with a progress bar."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agentracer.api import default_run_dir
from agentracer.cli.common import (
    BaseUrlOpt,
    CacheDirOpt,
    ConstrainOpt,
    EndpointLimitOpt,
    ExportOpt,
    GroundTruthOpt,
    ModelOpt,
    NoCacheOpt,
    OptionOpt,
    RayAddressOpt,
    RayOpt,
    SeedOpt,
    TimeoutOpt,
    app,
    close_sinks,
    connect_ray,
    err,
    leave_interrupted,
    open_sinks,
    out,
    rich_table,
    tracer_settings,
    user_errors,
)
from agentracer.errors import AgenTracerError
from agentracer.evaluation import RunConfig, evaluate
from agentracer.evaluation.report import (
    accuracy_table,
    baseline_table,
    comparison_table,
    cost_table,
    expectation_table,
    step_table,
)
from agentracer.evaluation.runner import NO_GOLD_LABEL, RecordResult, RunOutcome
from agentracer.export.document import document
from agentracer.formats import load_benchmark
from agentracer.formats.benchmarks import (
    BENCH_SUBSETS,
    DATASET_SUBSET,
    ENV_VAR,
    HF_REPO,
    WHO_AND_WHEN,
    require_step_labels,
)
from agentracer.scale.eval import evaluate_on_ray
from agentracer.tracers import create_tracer
from agentracer.wording import count


@app.command("eval")
@user_errors
def eval_command(
    bench: Annotated[
        str,
        typer.Option(
            help="who-and-when, tracertraj, agentrx-magentic, tau-retail, or a path to a "
            "labelled dataset (mast is listed but has no steps to score)"
        ),
    ],
    tracer: Annotated[str, typer.Option(help="tracer name (see `agentracer tracers`)")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    option: OptionOpt = None,
    subset: Annotated[
        list[str] | None, typer.Option(help="restrict to a subset; repeatable (default: all)")
    ] = None,
    ground_truth: GroundTruthOpt = True,
    seed: SeedOpt = 0,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="run directory; re-running with it resumes")
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(help="benchmark data directory (else $AGENTRACER_DATA_DIR, else HF)"),
    ] = None,
    tolerance: Annotated[
        list[int] | None,
        typer.Option(help="also score steps within ±k; repeatable (default 1 and 3)"),
    ] = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="trajectories and model calls at once")
    ] = 4,
    timeout: TimeoutOpt = 120.0,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    constrain: ConstrainOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    endpoint_limit: EndpointLimitOpt = None,
    export_verdicts: ExportOpt = None,
    forecast: Annotated[
        bool,
        typer.Option(
            "--forecast",
            help="score forecasting (alarm step, η, false alarms) instead of attribution",
        ),
    ] = False,
) -> None:
    """Score a tracer on a benchmark; results, summary.json and results.md go to the run directory.

    With --forecast the tracer reads each run step by step (fast-hazard, llm-prefix, a baseline,
    or any tracer in prefix mode); forecast-summary.json and forecast.md go to the run directory.
    """
    if forecast:
        from agentracer.cli.forecast import forecast_eval

        if ray or ray_address:
            raise AgenTracerError("--forecast runs on this machine; leave out --ray")
        forecast_eval(
            bench=bench, tracer=tracer, subsets=subset, data=data, ground_truth=ground_truth,
            tolerances=sorted(set(tolerance or [1, 3])), out_dir=out_dir, seed=seed,
            as_json=as_json,
            settings_kwargs=dict(
                model=model, base_url=base_url, options=option, timeout=timeout,
                concurrency=concurrency, no_cache=no_cache, cache_dir=cache_dir,
                constrain=constrain,
            ),
        )  # fmt: skip
        return
    require_step_labels(bench)
    subsets = subset or list(BENCH_SUBSETS.get(bench, (DATASET_SUBSET,)))
    settings = tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=option, timeout=timeout,
        concurrency=concurrency, no_cache=no_cache, cache_dir=cache_dir, constrain=constrain,
    )  # fmt: skip
    config = RunConfig(
        bench=bench,
        subsets=subsets,
        tracer=tracer,
        settings=settings,
        with_ground_truth=ground_truth,
        tolerances=sorted(set(tolerance or [1, 3])),
        concurrency=concurrency,
        data=None if data is None else str(data),
    )
    chosen = create_tracer(tracer, config.settings)  # fail on a bad name before loading data
    if ray or ray_address:
        connect_ray(ray_address)  # before loading data: a missing extra is a one-line error
    if data is None and not os.environ.get(ENV_VAR) and bench == WHO_AND_WHEN:
        err.print(f"no --data and no ${ENV_VAR}: trying the HuggingFace Hub ({HF_REPO})…")
    sinks = open_sinks(export_verdicts, settings.model)
    benchmark = load_benchmark(bench, subsets, data)
    for problem in benchmark.problems():
        err.print(f"[yellow]warning:[/yellow] skipped {escape(problem.one_line())}", soft_wrap=True)
    run_dir = out_dir or default_run_dir(bench, tracer, settings, ground_truth)
    seen_note = trained_on_note(chosen, [t.id for _, t in benchmark.trajectories()])
    if seen_note:
        err.print(f"[yellow]note:[/yellow] {escape(seen_note)}", soft_wrap=True)
    total = sum(1 for _ in benchmark.trajectories())
    runs = {t.id: t for _, t in benchmark.trajectories()} if sinks else {}

    def advance(result: RecordResult | None) -> None:
        progress.advance(task)
        if result is None or result.id not in runs:
            return
        for sink in sinks:
            sink.send(runs[result.id], result.verdict)  # new verdicts only, never resumed ones

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=as_json,
    ) as progress:
        task = progress.add_task(f"{tracer} on {bench}", total=total)
        try:
            if ray or ray_address:
                summary, outcome = evaluate_on_ray(
                    benchmark, config, run_dir, limit=endpoint_limit, on_result=advance
                )
            else:
                summary, outcome = evaluate(benchmark, chosen, config, run_dir, on_result=advance)
        except KeyboardInterrupt:
            progress.stop()
            leave_interrupted(
                f"interrupted: finished verdicts are kept in {escape(str(run_dir))}; "
                "run the same command again to resume"
            )
        progress.update(task, completed=total)
    close_sinks(sinks)
    for failure in outcome.failed:
        err.print(
            f"[yellow]warning:[/yellow] {escape(failure['id'])}: {escape(failure['error'])}",
            soft_wrap=True,
        )
    if as_json:
        typer.echo(json.dumps(document("evaluation", **summary), indent=2))
    else:
        _print_tables(summary, tracer, bench)
        if seen_note:
            out.print(f"[yellow]note:[/yellow] {escape(seen_note)}", soft_wrap=True)
        out.print(
            f"{outcome.computed} computed, {outcome.resumed} resumed, {len(outcome.skipped)} skipped, "
            f"{len(outcome.failed)} failed; run directory: {escape(str(run_dir))}"
        )
    raise typer.Exit(_exit_code(outcome))


def trained_on_note(tracer: object, ids: list[str]) -> str | None:
    """What to say when a learned tracer is scored on runs it was trained on (its model's
    `TRAINING.json` lists their ids); None when none of `ids` is among them or it is unknown."""
    trained_on = getattr(tracer, "trained_on", None)
    known = trained_on() if callable(trained_on) else None
    if not known:
        return None
    training, record = known
    overlap = sum(1 for i in ids if i in training)
    if not overlap:
        return None
    return (
        f"{overlap} of these {len(ids)} records were in this model's training data ({record}): "
        "its scores on them are not held out. The honest figure is the leave-one-system-out "
        "table in the model card (MODEL_CARD.md beside it; benchmarks/loso.py)"
    )


# Exit codes of `eval` (README, "Exit codes"): 0 every labelled trajectory scored; 1 nothing could
# be scored; 2 a usage or input error; 3 some trajectories failed (re-run to retry them).
NOTHING_SCORED = 1
SOME_FAILED = 3


def _exit_code(outcome: RunOutcome) -> int:
    """Say on the terminal why a run is not a full success, and the exit code for it."""
    if not outcome.results:
        # Records that did not load were printed as warnings before the run; these were not.
        labelless = [s for s in outcome.skipped if s["error"] == NO_GOLD_LABEL]
        for skip in labelless[:20]:
            err.print(f"skipped {escape(skip['path'])}: {NO_GOLD_LABEL}", soft_wrap=True)
        err.print(
            f"[red]error:[/red] nothing could be scored: {len(outcome.failed)} failed, "
            f"{len(outcome.skipped)} skipped (reasons above); no accuracy was measured",
            soft_wrap=True,
        )
        return NOTHING_SCORED
    if outcome.failed:
        err.print(
            f"[yellow]{count(len(outcome.failed), 'trajectory')} failed (reasons above), not "
            "scored; run the same command again to retry them[/yellow]",
            soft_wrap=True,
        )
        return SOME_FAILED
    return 0


def _print_tables(summary: dict[str, Any], tracer: str, bench: str) -> None:
    out.print(
        rich_table(*accuracy_table(summary), title=f"{tracer} on {bench} ({summary['setting']})")
    )
    out.print(rich_table(*step_table(summary), title="decisive step: top-1, top-3, any failure"))
    if summary.get("baselines"):
        out.print(rich_table(*baseline_table(summary), title="beside the model-free baselines"))
    out.print(rich_table(*comparison_table(summary), title="comparability"))
    costs = cost_table(summary)
    if costs is not None:
        out.print(rich_table(*costs, title="cost of the model calls"))
    expectation = expectation_table(summary)
    if expectation is not None:
        out.print(rich_table(*expectation, title="analytic expectation"))
