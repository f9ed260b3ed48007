"""Commands on one trajectory file: show it, attribute its failure, convert it."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agentracer import api
from agentracer.cli.common import (
    NAME_LIMIT,
    BaseUrlOpt,
    CacheDirOpt,
    ConstrainOpt,
    EndpointLimitOpt,
    ExportOpt,
    GroundTruthOpt,
    IndexOpt,
    ModelOpt,
    NoCacheOpt,
    OptionOpt,
    RayAddressOpt,
    RayOpt,
    SeedOpt,
    TimeoutOpt,
    TraceArg,
    app,
    clip,
    close_sinks,
    connect_ray,
    err,
    excerpt,
    open_sinks,
    out,
    tracer_settings,
    user_errors,
)
from agentracer.errors import AgenTracerError
from agentracer.export import document
from agentracer.export.blame import trace_id_of
from agentracer.formats import load_file, load_one, to_record, write_jsonl
from agentracer.formats.registry import directory_listing
from agentracer.tracers import create_tracer
from agentracer.tracers.structure import consistency_problems
from agentracer.tracers.taxonomy import MODES, TAXONOMY
from agentracer.trajectory import Trajectory, Verdict
from agentracer.wording import count

if TYPE_CHECKING:  # imported when a corpus is attributed: it loads the replay lab's SDKs
    from agentracer.scale.corpus import CorpusJob


@app.command()
@user_errors
def show(
    trace: TraceArg,
    index: IndexOpt = None,
    width: Annotated[int, typer.Option(help="characters of each step's content to show")] = 160,
    as_json: Annotated[
        bool, typer.Option("--json", help="the trajectory and every step's source ids as JSON")
    ] = False,
) -> None:
    """Pretty-print a trajectory: task, agents, numbered steps and the gold label."""
    trajectory = load_one(trace, index)
    if as_json:
        typer.echo(json.dumps(document.trajectory_document(trajectory), indent=2))
        return
    label = trajectory.label
    # Data is printed capped and without rich's highlighting: both are quadratic in the length
    # of a word (a 32 KB agent name took 14 s, 50 MB over five minutes).
    say = functools.partial(out.print, highlight=False)
    say(f"[bold]{escape(excerpt(trajectory.id, 200))}[/bold]  outcome: {trajectory.outcome.value}")
    say(f"[bold]question:[/bold] {escape(excerpt(trajectory.question, 400))}")
    if trajectory.context:
        # what the agents were told (a system prompt, a policy): never a step, never blamed
        say(
            f"[bold]context[/bold] ({len(trajectory.context):,} characters, not a step): "
            f"{escape(excerpt(trajectory.context, 200))}"
        )
    agents = ", ".join(excerpt(agent, NAME_LIMIT) for agent in trajectory.agents)
    say(f"[bold]agents:[/bold] {escape(excerpt(agents, 600) or '(none)')}")
    table = Table(show_lines=False, expand=True)
    table.add_column("step", justify="right", no_wrap=True)
    table.add_column("speaker", no_wrap=True, overflow="ellipsis", max_width=32)
    table.add_column("content")
    table.add_column("", no_wrap=True)
    for step in trajectory.steps:
        speaker = excerpt(step.speaker, NAME_LIMIT)
        if step.kind.value != "agent":
            speaker += f" ({step.kind.value})"
        gold = label is not None and label.step == step.index
        marked = label is not None and step.index in label.failure_steps()
        table.add_row(
            str(step.index),
            escape(speaker),
            escape(excerpt(step.content, width)),
            "◀ gold" if gold else "◀ failure" if marked else "",
            style="bold red" if gold else None,
        )
    out.print(table)
    if label is not None:
        say(
            f"[bold]gold label:[/bold] {escape(excerpt(label.agent, NAME_LIMIT))} at step "
            f"{label.step} ({escape(excerpt(label.provenance.method, 80))}): "
            f"{escape(excerpt(label.reason, 300))}"
        )
        others = [f for f in label.failures if f.step != label.step or f.agent != label.agent]
        if others:
            marked_steps = ", ".join(
                f"{escape(excerpt(f.agent, NAME_LIMIT))} at {f.step}" for f in others
            )
            say(f"[bold]other annotated failures:[/bold] {escape(excerpt(marked_steps, 600))}")
    if trajectory.flags:
        say(f"[yellow]flags:[/yellow] {escape(excerpt(', '.join(trajectory.flags), 400))}")
    for note in trajectory.notes:
        say(f"[dim]note: {escape(excerpt(note, 400))}[/dim]")


def inconsistency_warning(verdict: Verdict, trajectory: Trajectory) -> str | None:
    """What is wrong when the verdict does not fit the run (e.g. its agent did not act at its
    step), else None. Registered tracers resolve such answers themselves (`tracers.structure`);
    this guards against any that does not."""
    problems = consistency_problems(verdict, trajectory)
    if not problems:
        return None
    return f"the verdict does not fit the run: {'; '.join(problems)}; read it with care"


def _print_verdict(verdict: Verdict, trajectory: Trajectory) -> None:
    say = functools.partial(out.print, highlight=False)  # data: no (quadratic) highlighting
    if verdict.agent is None or verdict.step is None:
        say(
            f"[yellow]no verdict[/yellow] ({verdict.parse_status}): {escape(clip(verdict.reason, 4000))}"
        )
        return
    step = trajectory.steps[verdict.step] if verdict.step < len(trajectory.steps) else None
    say(f"[bold]agent:[/bold] {escape(excerpt(verdict.agent, NAME_LIMIT))}")
    say(f"[bold]step:[/bold]  {verdict.step}")
    say(f"[bold]reason:[/bold] {escape(clip(verdict.reason, 4000))}")
    if verdict.confidence is not None:
        say(f"[bold]confidence:[/bold] {verdict.confidence:.2f}")
    if verdict.category is not None:
        mode = MODES.get(verdict.category)
        name = f" ({mode.name}; {TAXONOMY})" if mode else ""
        say(f"[bold]category:[/bold] {escape(verdict.category)}{escape(name)}")
    for item in verdict.evidence:
        say(f"[bold]evidence, step {item.step}:[/bold] “{escape(clip(item.quote, 600))}”")
    if not verdict.evidence and step is not None:
        say(
            f"[bold]step {step.index} ({escape(excerpt(step.speaker, NAME_LIMIT))}):[/bold] "
            f"{escape(excerpt(step.content, 300))}",
        )
    if step is not None and step.source_id:
        say(f"[bold]source id:[/bold] {escape(step.source_id)}")
    trace_id = trace_id_of(trajectory)
    if trace_id:
        say(f"[bold]trace id:[/bold] {trace_id}")
    if verdict.suggested_fix:
        say(f"[bold]suggested fix:[/bold] {escape(clip(verdict.suggested_fix, 2000))}")
    for note in verdict.notes:
        say(f"[dim]note: {escape(excerpt(note, 600))}[/dim]")
    label = trajectory.label
    if label is not None:
        say(
            f"[dim]gold label: {escape(excerpt(label.agent, NAME_LIMIT))} at step {label.step}[/dim]"
        )


@app.command()
@user_errors
def attribute(
    trace: TraceArg,
    tracer: Annotated[
        str | None,
        typer.Option(
            help="tracer name (see `agentracer tracers`; default: all-at-once when a model is "
            "configured, else the offline fast tracer)"
        ),
    ] = None,
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
    as_json: Annotated[
        bool,
        typer.Option(
            "--json", help="print the run, the verdict and every step's source ids as JSON"
        ),
    ] = False,
    export_verdicts: ExportOpt = None,
    out_file: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="attribute every trace of a directory or glob into results.jsonl or "
            "results.parquet (resumable)",
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, help="with --out: trajectories in memory / in flight at once")
    ] = 64,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    endpoint_limit: EndpointLimitOpt = None,
) -> None:
    """Name the agent and step that caused a failed run (or, with --out, of every run in a
    directory or glob of traces)."""
    corpus = out_file is not None or _is_corpus(trace)
    if tracer is None:
        tracer = default_tracer(model, base_url)
        if tracer == OFFLINE_TRACER:
            err.print(f"[dim]{escape(offline_note())}[/dim]", soft_wrap=True)
    settings = tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=option, timeout=timeout,
        concurrency=4 if corpus else 1, no_cache=no_cache, cache_dir=cache_dir,
        constrain=constrain,
    )  # fmt: skip
    if corpus:
        from agentracer.scale.corpus import CorpusJob

        create_tracer(tracer, settings)  # a bad option fails before any file is read
        if export_verdicts:
            raise AgenTracerError(
                "--export-verdicts sends the verdict of one trace; for a directory, attribute "
                "into --out and send from `agentracer serve` or the Python API"
            )
        if out_file is None:
            kind = "is a directory" if trace.is_dir() else "is a glob"
            listing = directory_listing(trace) if trace.is_dir() else ""
            raise AgenTracerError(
                f"{trace} {kind}{listing}: name one trace file, or give --out results.jsonl "
                "(or results.parquet) to attribute every trace in it"
            )
        job = CorpusJob(tracer, settings, with_ground_truth=ground_truth, limit=endpoint_limit)
        if ray or ray_address:
            connect_ray(ray_address)
        _attribute_corpus(str(trace), job, out_file, batch_size, ray=bool(ray or ray_address))
        return
    sinks = open_sinks(export_verdicts, settings.model)
    trajectory = load_one(trace, index)
    verdict = api.attribute(
        trajectory, tracer, settings=settings, with_ground_truth=ground_truth
    )  # the library adds a note when the verdict does not fit the run; say it here too
    mismatch = inconsistency_warning(verdict, trajectory)
    if mismatch:
        err.print(f"[yellow]warning:[/yellow] {escape(excerpt(mismatch, 600))}", highlight=False)
    if as_json:
        typer.echo(json.dumps(document.attribution(trajectory, verdict), indent=2))
    else:
        _print_verdict(verdict, trajectory)
    for sink in sinks:
        sink.send(trajectory, verdict)
    close_sinks(sinks)


OFFLINE_TRACER = "fast"
"""The offline default: the shipped `fast` model, which leads with the model-free rule chosen
on its training runs and orders the rest by its ranker; measured leave-one-system-out
(`benchmarks/loso.py`), no offline tracer beats it at top-1 and it has the best top-3."""


def default_tracer(model: str | None, base_url: str | None) -> str:
    """`all-at-once` when a model is configured (`--model`, `$AGENTRACER_MODEL`, `--base-url`
    or `$OPENAI_BASE_URL`), else the offline tracer."""
    import os

    from agentracer.llm.client import MODEL_ENV_VAR

    configured = model or base_url or os.environ.get(MODEL_ENV_VAR)
    return "all-at-once" if configured or os.environ.get("OPENAI_BASE_URL") else OFFLINE_TRACER


def offline_note() -> str:
    """What the offline tracer is and what it scores on systems it never saw (from the shipped
    model's own record)."""
    from agentracer.tracers.fast.tracer import DEFAULT_MODEL
    from agentracer.tracers.fast.training import loso_summary

    measured = loso_summary(DEFAULT_MODEL)
    return (
        "no model configured: using the offline `fast` tracer (no LLM; the shipped model"
        + (f"; on systems it never saw, {measured}" if measured else "")
        + "). Give --model or --base-url for an LLM tracer"
    )


def _is_corpus(trace: Path) -> bool:
    if any(ch in str(trace) for ch in "*?["):
        return True
    if not trace.is_dir():
        return False
    from agentracer.replay.recording import is_recording  # only a directory may be one

    return not is_recording(trace)


def _attribute_corpus(
    source: str, job: CorpusJob, out_file: Path, batch_size: int, *, ray: bool
) -> None:
    from agentracer.scale.corpus import attribute_corpus

    with Progress(
        TextColumn("[bold]{task.description}"), TextColumn("{task.completed} done"),
        TimeElapsedColumn(), console=err,
    ) as progress:  # fmt: skip
        task = progress.add_task(f"{job.tracer} over {source}", total=None)
        try:
            report = attribute_corpus(
                source, job, out_file, batch_size=batch_size, ray=ray,
                on_row=lambda _: progress.advance(task),
            )  # fmt: skip
        except KeyboardInterrupt:
            progress.stop()
            err.print(
                f"interrupted: verdicts so far are in {escape(str(out_file))}; run again to resume"
            )
            raise typer.Exit(130) from None
    for problem in report.unreadable + report.failed:
        where = problem.get("path") or problem.get("key", "")
        err.print(
            f"[yellow]warning:[/yellow] {escape(where)}: {escape(problem['error'])}", soft_wrap=True
        )
    out.print(
        f"{report.written} attributed, {report.resumed} resumed, {len(report.failed)} failed, "
        f"{len(report.unreadable)} unreadable; output: {escape(str(out_file))}"
    )


@app.command()
@user_errors
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
    err.print(f"wrote {count(len(trajectories), 'trajectory')} to {escape(str(dest))}")
