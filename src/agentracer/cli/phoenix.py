"""`agentracer phoenix`: attribute the failed traces of a running Arize Phoenix and annotate
each blamed span there."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentracer.cli.common import (
    BaseUrlOpt,
    CacheDirOpt,
    ConstrainOpt,
    GroundTruthOpt,
    ModelOpt,
    NoCacheOpt,
    OptionOpt,
    SeedOpt,
    TimeoutOpt,
    app,
    err,
    out,
    tracer_settings,
    user_errors,
)
from agentracer.wording import count

PhoenixUrlOpt = Annotated[
    str,
    typer.Option(
        "--url", envvar="PHOENIX_COLLECTOR_ENDPOINT", help="Phoenix server (its web UI address)"
    ),
]
ProjectOpt = Annotated[
    str, typer.Option("--project", envvar="PHOENIX_PROJECT_NAME", help="Phoenix project name")
]


@app.command("phoenix")
@user_errors
def phoenix_command(
    url: PhoenixUrlOpt = "http://127.0.0.1:6006",
    project: ProjectOpt = "default",
    since: Annotated[
        str | None,
        typer.Option(help="only traces whose root span started since: 30m, 2h, 1d or ISO 8601"),
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="only traces whose root span started before this")
    ] = None,
    trace: Annotated[
        list[str] | None, typer.Option("--trace", help="only this trace id; repeatable")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="at most this many traces, newest first")] = (
        100
    ),
    tracer: Annotated[str, typer.Option(help="tracer (see `agentracer tracers`)")] = "fast",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    option: OptionOpt = None,
    seed: SeedOpt = 0,
    ground_truth: GroundTruthOpt = True,
    timeout: TimeoutOpt = 120.0,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    constrain: ConstrainOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Read Phoenix's traces, attribute the failed ones, annotate each blamed span in Phoenix
    (a re-run updates the annotations, never duplicates them)."""
    from agentracer.api import run_sync
    from agentracer.export.document import document
    from agentracer.export.phoenix import PhoenixClient
    from agentracer.export.phoenix_sync import PhoenixAnnotator, TraceResult, parse_time
    from agentracer.tracers import create_tracer

    settings = tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=option, timeout=timeout,
        concurrency=1, no_cache=no_cache, cache_dir=cache_dir, constrain=constrain,
    )  # fmt: skip
    client = PhoenixClient(url)
    try:
        client.check_project(project)
        annotator = PhoenixAnnotator(
            client, project, create_tracer(tracer, settings), tracer_name=tracer,
            model=settings.model, with_ground_truth=ground_truth,
        )  # fmt: skip

        def report(result: TraceResult) -> None:
            if result.problem and not as_json:
                err.print(
                    f"[yellow]warning:[/yellow] trace {result.trace_id}: {escape(result.problem)}"
                )

        async def run() -> list[TraceResult]:
            try:
                return await annotator.run(
                    start=None if since is None else parse_time(since),
                    end=None if until is None else parse_time(until),
                    trace_ids=trace or (), limit=limit, on_result=report,
                )  # fmt: skip
            finally:
                await annotator.tracer.aclose()

        results = run_sync(run())
    finally:
        client.close()
    if as_json:
        payload = document(
            "phoenix", url=client.url, project=project, tracer=tracer, model=settings.model,
            results=[r.as_json() for r in results],
        )  # fmt: skip
        typer.echo(json.dumps(payload, indent=2))
        return
    _print_results(results, client.url, project)


def _print_results(results: list, url: str, project: str) -> None:  # type: ignore[type-arg]
    table = Table(title=f"{count(len(results), 'trace')} of {project} at {url}")
    for column in ("trace", "status", "blamed", "span"):
        table.add_column(column, no_wrap=column in ("trace", "span"))
    for result in results:
        verdict = result.verdict
        blamed = (
            f"{verdict.agent} at step {verdict.step}"
            if verdict and verdict.step is not None
            else ""
        )
        table.add_row(result.trace_id, result.status, escape(blamed), result.span_id or "")
    out.print(table)
    annotated = sum(r.status == "annotated" for r in results)
    out.print(f"{annotated} blamed spans annotated in Phoenix ({url}, project {project})")
