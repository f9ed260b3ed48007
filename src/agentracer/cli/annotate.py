"""`agentracer annotate`: label recordings by counterfactual replay and fault injection."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentracer.cli.common import (
    BaseUrlOpt,
    EndpointLimitOpt,
    RayAddressOpt,
    RayOpt,
    TimeoutOpt,
    app,
    connect_ray,
    err,
    out,
    user_errors,
)
from agentracer.cli.trust import YesOpt, confirm_stored_commands
from agentracer.datasets.builder import JSONL_FILE, AnnotateOptions, AnnotateReport, annotate
from agentracer.errors import AgenTracerError
from agentracer.llm import ConnectionSettings, get_model
from agentracer.llm.client import default_model_name
from agentracer.replay.counterfactual import ModelAnalyzer
from agentracer.replay.injection import OPERATORS, ModelAttacker
from agentracer.replay.recording import Recording
from agentracer.replay.upstream import Upstream, make_upstream
from agentracer.replay.workspace import DEFAULT_LIMIT_MB
from agentracer.scale.annotate import annotate_on_ray
from agentracer.wording import count


@app.command("annotate")
@user_errors
def annotate_command(
    recordings: Annotated[list[Path], typer.Argument(help="recording directories")],
    out_dir: Annotated[Path, typer.Option("--out", help="dataset directory; re-running resumes")],
    analyzer: Annotated[
        str | None,
        typer.Option(help="model proposing fixes for failed runs (default: default model)"),
    ] = None,
    attacker: Annotated[
        str | None,
        typer.Option(help="model planting bugs in successful runs (default: operators only)"),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="model answering live calls on replay (default: the recording's own)"),
    ] = None,
    base_url: BaseUrlOpt = None,
    strategy: Annotated[
        str, typer.Option(help="counterfactual search: linear or ranked")
    ] = "linear",
    k: Annotated[
        int, typer.Option("-k", min=1, help="replays per candidate; a majority decides")
    ] = 1,
    operator: Annotated[
        list[str] | None,
        typer.Option(help=f"injection operators (default: all of {', '.join(OPERATORS)})"),
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for sampling injection steps")] = 0,
    timeout: TimeoutOpt = 120.0,
    yes: Annotated[bool, YesOpt] = False,
    ray: RayOpt = False,
    ray_address: RayAddressOpt = None,
    endpoint_limit: EndpointLimitOpt = None,
    cwd_copy_limit: Annotated[
        float,
        typer.Option(
            min=0,
            help="with Ray: each replay runs in a copy of the recorded working directory when "
            "it holds at most this many MB (larger: an error); 0 runs them all in the recorded "
            "directory itself",
        ),
    ] = DEFAULT_LIMIT_MB,
) -> None:
    """Label recordings (failed: counterfactual replay; successful: fault injection) into a
    Who&When-schema dataset that `agentracer eval --bench DIR` scores.

    Replaying runs each recording's command and check: unasked only for recordings you made
    on this machine and did not change; the others are shown and run once you confirm (--yes).
    """
    if strategy not in ("linear", "ranked"):
        raise AgenTracerError(f"--strategy must be linear or ranked, not {strategy!r}")
    unknown = [name for name in operator or [] if name not in OPERATORS]
    if unknown:
        raise AgenTracerError(f"unknown operator {unknown[0]!r}; known: {', '.join(OPERATORS)}")
    confirm_stored_commands(recordings, yes)
    connection = ConnectionSettings(base_url=base_url, timeout=timeout)
    options = AnnotateOptions(
        strategy="ranked" if strategy == "ranked" else "linear", k=k, operators=operator, seed=seed
    )

    def progress(report: AnnotateReport) -> None:
        err.print(f"{escape(report.recording)}: {report.status} ({report.replays} replays)")

    if ray or ray_address:
        connect_ray(ray_address)
        reports = annotate_on_ray(
            recordings, out_dir, analyzer=analyzer or default_model_name(connection),
            upstream_for=lambda recording: model or recording.model, connection=connection,
            options=options, on_progress=progress, attacker=attacker,
            endpoint_limit=endpoint_limit, cwd_copy_limit_mb=cwd_copy_limit,
        )  # fmt: skip
        _summary(reports, out_dir)
        return
    analyzer_model = get_model(analyzer or default_model_name(connection), connection)
    attacker_model = ModelAttacker(get_model(attacker, connection)) if attacker else None
    upstreams: dict[str, Upstream] = {}

    def upstream_for(recording: Recording) -> Upstream:
        name = model or recording.model
        if name not in upstreams:
            upstreams[name] = make_upstream(name, connection)
        return upstreams[name]

    reports = asyncio.run(
        annotate(
            recordings, out_dir, upstream_for=upstream_for, analyzer=ModelAnalyzer(analyzer_model),
            attacker=attacker_model, options=options, on_progress=progress,
        )
    )  # fmt: skip
    _summary(reports, out_dir)


def _summary(reports: list[AnnotateReport], out_dir: Path) -> None:
    labelled = sum(r.record is not None for r in reports)
    out.print(
        f"{labelled} of {count(len(reports), 'recording')} labelled; dataset: {escape(str(out_dir / JSONL_FILE))}"
    )
