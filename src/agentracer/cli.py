"""The `agentracer` command: thin wrappers that parse arguments and call the library."""

from __future__ import annotations

import asyncio
import functools
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentracer.errors import AgenTracerError
from agentracer.evaluation import RunConfig, evaluate
from agentracer.evaluation.report import accuracy_table, comparison_table, expectation_table
from agentracer.formats import load_benchmark, load_file, load_one, to_record, write_jsonl
from agentracer.formats.benchmarks import BENCH_SUBSETS, ENV_VAR, HF_REPO, WHO_AND_WHEN
from agentracer.llm import ConnectionSettings
from agentracer.llm.client import default_model_name
from agentracer.llm.models import CATALOGUE, DEFAULT_EMBEDDED, ensure_model, is_present
from agentracer.tracers import TracerSettings, create_tracer, tracer_specs
from agentracer.tracers.registry import tracer_spec
from agentracer.trajectory import Trajectory, Verdict

app = typer.Typer(
    help="AgenTracer: name the agent and the step that made a multi-agent run fail.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

ModelOpt = Annotated[
    str | None,
    typer.Option(
        help="provider/model, e.g. openai/gpt-4o-mini or local/smollm2-135m (default: "
        "$AGENTRACER_MODEL, else the model served at $OPENAI_BASE_URL, else the embedded model)"
    ),
]
BaseUrlOpt = Annotated[
    str | None, typer.Option(help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL)")
]
OptionOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--option", "-o", help="tracer option KEY=VALUE, repeatable (e.g. step_numbers=true)"
    ),
]
TimeoutOpt = Annotated[float, typer.Option(help="seconds per model request before it is retried")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="do not read or write the response cache")
]
CacheDirOpt = Annotated[
    Path | None,
    typer.Option(help="response cache directory (default: $AGENTRACER_CACHE_DIR or user cache)"),
]
ConstrainOpt = Annotated[
    bool | None,
    typer.Option(
        "--constrain/--no-constrain",
        help="grammar-constrained decoding (default: on for local models; on an endpoint it "
        "needs a llama.cpp-style server)",
    ),
]
SeedOpt = Annotated[int, typer.Option(help="random seed (sampling seed for LLM tracers)")]
GroundTruthOpt = Annotated[
    bool,
    typer.Option("--ground-truth/--no-ground-truth", help="let the tracer see the correct answer"),
]

TraceArg = Annotated[
    Path, typer.Argument(help="a trajectory file (Who&When JSON, our JSON/JSONL, parquet)")
]
IndexOpt = Annotated[int | None, typer.Option(help="which record of a multi-record file (0-based)")]


def _user_errors(command: F) -> F:
    """Report `AgenTracerError` as one line on stderr with exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AgenTracerError as error:
            err.print(
                f"[red]error:[/red] {escape(error.one_line())}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _parse_options(pairs: list[str] | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise AgenTracerError(f"--option {pair!r} is not KEY=VALUE")
        try:
            options[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            options[key.strip()] = value
    return options


def _tracer_settings(
    tracer: str,
    *,
    seed: int,
    model: str | None,
    base_url: str | None,
    options: list[str] | None,
    timeout: float,
    concurrency: int,
    no_cache: bool,
    cache_dir: Path | None,
    constrain: bool | None,
) -> TracerSettings:
    """Settings for `tracer`, with the model resolved now so a run records which one it used."""
    connection = ConnectionSettings(
        base_url=base_url,
        timeout=timeout,
        concurrency=concurrency,
        use_cache=not no_cache,
        cache_dir=None if cache_dir is None else str(cache_dir),
        constrain=constrain,
    )
    spec = tracer_spec(tracer)
    if spec.needs_model:
        model = model or default_model_name(connection)
        if model == f"local/{DEFAULT_EMBEDDED}":
            err.print(f"[dim]using the embedded model: {CATALOGUE[DEFAULT_EMBEDDED].note}[/dim]")
    return TracerSettings(
        seed=seed, model=model, options=_parse_options(options), connection=connection
    )


def _excerpt(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@app.command()
@_user_errors
def show(
    trace: TraceArg,
    index: IndexOpt = None,
    width: Annotated[int, typer.Option(help="characters of each step's content to show")] = 160,
) -> None:
    """Pretty-print a trajectory: task, agents, numbered steps and the gold label."""
    trajectory = load_one(trace, index)
    label = trajectory.label
    out.print(f"[bold]{escape(trajectory.id)}[/bold]  outcome: {trajectory.outcome.value}")
    out.print(f"[bold]question:[/bold] {escape(_excerpt(trajectory.question, 400))}")
    out.print(f"[bold]agents:[/bold] {escape(', '.join(trajectory.agents) or '(none)')}")
    table = Table(show_lines=False, expand=True)
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("speaker", no_wrap=True)
    table.add_column("content")
    table.add_column("", no_wrap=True)
    for step in trajectory.steps:
        speaker = (
            step.speaker if step.kind.value == "agent" else f"{step.speaker} ({step.kind.value})"
        )
        gold = label is not None and label.step == step.index
        table.add_row(
            str(step.index),
            escape(speaker),
            escape(_excerpt(step.content, width)),
            "◀ gold" if gold else "",
            style="bold red" if gold else None,
        )
    out.print(table)
    if label is not None:
        out.print(
            f"[bold]gold label:[/bold] {escape(label.agent)} at step {label.step}"
            f" ({escape(label.provenance.method)}): {escape(_excerpt(label.reason, 300))}"
        )
    if trajectory.flags:
        out.print(f"[yellow]flags:[/yellow] {', '.join(trajectory.flags)}")


def _print_verdict(verdict: Verdict, trajectory: Trajectory) -> None:
    if verdict.agent is None or verdict.step is None:
        out.print(f"[yellow]no verdict[/yellow] ({verdict.parse_status}): {escape(verdict.reason)}")
        return
    step = trajectory.steps[verdict.step] if verdict.step < len(trajectory.steps) else None
    out.print(f"[bold]agent:[/bold] {escape(verdict.agent)}")
    out.print(f"[bold]step:[/bold]  {verdict.step}")
    out.print(f"[bold]reason:[/bold] {escape(verdict.reason)}")
    if step is not None:
        out.print(
            f"[bold]step {step.index} ({escape(step.speaker)}):[/bold] {escape(_excerpt(step.content, 300))}"
        )
    label = trajectory.label
    if label is not None:
        out.print(f"[dim]gold label: {escape(label.agent)} at step {label.step}[/dim]")


@app.command()
@_user_errors
def attribute(
    trace: TraceArg,
    tracer: Annotated[
        str, typer.Option(help="tracer name (see `agentracer tracers`)")
    ] = "all-at-once",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    option: OptionOpt = None,
    index: IndexOpt = None,
    seed: SeedOpt = 0,
    ground_truth: GroundTruthOpt = True,
    timeout: TimeoutOpt = 120.0,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    constrain: ConstrainOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the verdict as JSON")] = False,
) -> None:
    """Name the agent and step that caused a failed run."""
    trajectory = load_one(trace, index)
    settings = _tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=option, timeout=timeout,
        concurrency=1, no_cache=no_cache, cache_dir=cache_dir, constrain=constrain,
    )  # fmt: skip
    chosen = create_tracer(tracer, settings)

    async def run() -> Verdict:
        try:
            return await chosen.attribute(trajectory, with_ground_truth=ground_truth)
        finally:
            await chosen.aclose()

    verdict = asyncio.run(run())
    if as_json:
        typer.echo(verdict.model_dump_json(indent=2))
    else:
        _print_verdict(verdict, trajectory)


def _rich_table(header: list[str], rows: list[list[str]], title: str) -> Table:
    table = Table(title=title)
    for i, column in enumerate(header):
        # Row labels (subset names) must stay whole; numeric columns may wrap.
        widest = max((len(row[i]) for row in rows), default=0) if i == 0 else None
        table.add_column(column, no_wrap=i == 0, min_width=widest)
    for row in rows:
        table.add_row(*row)
    return table


@app.command("eval")
@_user_errors
def eval_command(
    bench: Annotated[str, typer.Option(help="who-and-when or tracertraj")],
    tracer: Annotated[str, typer.Option(help="tracer name (see `agentracer tracers`)")],
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    option: OptionOpt = None,
    subset: Annotated[
        list[str] | None, typer.Option(help="restrict to a subset; repeatable (default: all)")
    ] = None,
    ground_truth: Annotated[
        bool,
        typer.Option(
            "--ground-truth/--no-ground-truth", help="let the tracer see the correct answer"
        ),
    ] = True,
    seed: Annotated[int, typer.Option(help="random seed for stochastic tracers")] = 0,
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
) -> None:
    """Score a tracer on a benchmark; results, summary.json and results.md go to the run directory."""
    subsets = subset or list(BENCH_SUBSETS.get(bench, ()))
    settings = _tracer_settings(
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
    if data is None and not os.environ.get(ENV_VAR) and bench == WHO_AND_WHEN:
        err.print(f"no --data and no ${ENV_VAR}: trying the HuggingFace Hub ({HF_REPO})…")
    benchmark = load_benchmark(bench, subsets, data)
    for problem in benchmark.problems():
        err.print(f"[yellow]warning:[/yellow] skipped {escape(problem.one_line())}", soft_wrap=True)
    setting = "g" if ground_truth else "nog"
    model_part = f"-{settings.model.replace('/', '_')}" if settings.model else ""
    run_dir = (
        out_dir or Path("agentracer-runs") / f"{bench}-{tracer}{model_part}-{setting}-seed{seed}"
    )
    total = sum(1 for _ in benchmark.trajectories())
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
            summary, outcome = evaluate(
                benchmark, chosen, config, run_dir, on_result=lambda _: progress.advance(task)
            )
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                f"interrupted: finished verdicts are kept in {escape(str(run_dir))}; "
                "run the same command again to resume"
            )
            raise typer.Exit(130) from None
        progress.update(task, completed=total)
    for failure in outcome.failed:
        err.print(
            f"[yellow]warning:[/yellow] {escape(failure['id'])}: {escape(failure['error'])}",
            soft_wrap=True,
        )
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    out.print(
        _rich_table(*accuracy_table(summary), title=f"{tracer} on {bench} ({summary['setting']})")
    )
    out.print(_rich_table(*comparison_table(summary), title="comparability"))
    expectation = expectation_table(summary)
    if expectation is not None:
        out.print(_rich_table(*expectation, title="analytic expectation"))
    out.print(
        f"{outcome.computed} computed, {outcome.resumed} resumed, {len(outcome.skipped)} skipped, "
        f"{len(outcome.failed)} failed; run directory: {escape(str(run_dir))}"
    )


@app.command()
def tracers() -> None:
    """List the registered tracers."""
    table = Table()
    table.add_column("tracer")
    table.add_column("needs a model")
    table.add_column("what it does")
    for spec in tracer_specs():
        table.add_row(spec.name, "yes" if spec.needs_model else "no", spec.summary)
    out.print(table)


models_app = typer.Typer(
    help="Embedded models that run in-process (no server, no key).", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """List the embedded models and whether each is already downloaded."""
    table = Table()
    for column in ("model", "license", "context", "downloaded", "what it is"):
        table.add_column(column)
    for entry in CATALOGUE.values():
        present = "yes" if is_present(entry) else "no"
        table.add_row(
            f"local/{entry.name}", entry.license, str(entry.context_window), present, entry.note
        )
    out.print(table)


@models_app.command("pull")
@_user_errors
def models_pull(
    name: Annotated[str, typer.Argument(help="embedded model name")] = DEFAULT_EMBEDDED,
) -> None:
    """Download an embedded model now (it is otherwise fetched on first use)."""
    path = ensure_model(name)
    out.print(f"{escape(name)}: {escape(str(path))}")


@app.command()
@_user_errors
def convert(
    source: Annotated[Path, typer.Argument(help="trajectory file in any supported format")],
    dest: Annotated[Path, typer.Argument(help="file to write")],
    to: Annotated[
        str, typer.Option(help="jsonl (AgenTracer trajectories) or who-and-when (JSON)")
    ] = "jsonl",
) -> None:
    """Convert trajectories between formats (our JSONL, or the Who&When record schema)."""
    trajectories = load_file(source)
    if to == "jsonl":
        write_jsonl(trajectories, dest)
    elif to == "who-and-when":
        records = [to_record(t) for t in trajectories]
        document: Any = records[0] if len(records) == 1 else records
        dest.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    else:
        raise AgenTracerError(f"unknown output format {to!r}; use jsonl or who-and-when")
    err.print(f"wrote {len(trajectories)} trajectories to {escape(str(dest))}")


if __name__ == "__main__":  # pragma: no cover
    app()
