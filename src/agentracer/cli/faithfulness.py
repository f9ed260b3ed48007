"""`agentracer faithfulness`: Risk Drop of scorers' rankings on a recorded simulation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentracer.cli.common import (
    BaseUrlOpt,
    ModelOpt,
    SeedOpt,
    TimeoutOpt,
    app,
    out,
    tracer_settings,
    user_errors,
)
from agentracer.cli.replay import _upstream
from agentracer.cli.trust import YesOpt, confirm_stored_commands
from agentracer.errors import AgenTracerError
from agentracer.export.document import document
from agentracer.faithfulness.risk_drop import Variant, evaluate, markdown, table
from agentracer.faithfulness.scorers import make_scorer
from agentracer.faithfulness.subject import Subject


@app.command("faithfulness")
@user_errors
def faithfulness_command(
    recording_dir: Annotated[
        Path, typer.Argument(help="a simulation recording made by `agentracer record`")
    ],
    tracer: Annotated[
        list[str] | None, typer.Option("--tracer", help="a tracer to rank actions; repeatable")
    ] = None,
    scorer: Annotated[
        list[str] | None,
        typer.Option(
            help="random, leave-one-out, leave-one-out-frozen, shapley; repeatable "
            "(default: random, leave-one-out, shapley)"
        ),
    ] = None,
    top: Annotated[
        list[int] | None, typer.Option("--top", help="delete/insert the top N actions; repeatable")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="replays per deletion point (mean and spread)")] = 1,
    permutations: Annotated[
        int, typer.Option("--permutations", "-m", help="Shapley: M random permutations")
    ] = 4,
    variant: Annotated[
        list[str] | None, typer.Option(help="deletion and/or insertion (default: both)")
    ] = None,
    neutral: Annotated[
        str | None,
        typer.Option(help="the neutral action's text (default: the simulation's own, PASS)"),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option(
            help="where the replays go (default: RECORDING_DIR.faithfulness); running the same "
            "command again resumes, reusing the replays that finished"
        ),
    ] = None,
    report: Annotated[Path | None, typer.Option("--out", help="write the report as JSON")] = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    seed: SeedOpt = 0,
    timeout: TimeoutOpt = 120.0,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    yes: Annotated[bool, YesOpt] = False,
) -> None:
    """Rank a simulation's actions by blame, delete the top N, re-simulate, report Risk Drop.

    Every replay runs the recording's command and check again: unasked only when you recorded
    it on this machine and it is unchanged; otherwise they are shown and run once you confirm
    (--yes).

    Example: agentracer faithfulness sn --tracer agentracer --top 2 --top 4 -m 1
    """
    variants: list[Variant] = []
    for name in variant or ["deletion", "insertion"]:
        if name not in ("deletion", "insertion"):
            raise AgenTracerError(f"--variant must be deletion or insertion, not {name!r}")
        variants.append("deletion" if name == "deletion" else "insertion")
    if k < 1 or permutations < 1 or any(n < 1 for n in top or []):
        raise AgenTracerError("-k, --permutations and --top must be at least 1")
    confirm_stored_commands([recording_dir], yes)
    work = work_dir or recording_dir.with_name(f"{recording_dir.name}.faithfulness")
    scorers = [
        make_scorer(name, k=k, permutations=permutations, seed=seed)
        for name in scorer or ["random", "leave-one-out", "shapley"]
    ]
    for name in tracer or []:
        settings = tracer_settings(
            name, seed=seed, model=model, base_url=base_url, options=None, timeout=timeout,
            concurrency=1, no_cache=False, cache_dir=None, constrain=None,
        )  # fmt: skip
        scorers.append(make_scorer(f"tracer:{name}", settings=settings))
    subject = Subject(recording_dir, _upstream(model, base_url, timeout), work, neutral=neutral)
    with out.status("ranking and replaying (each replay re-runs the simulation)"):
        result = evaluate(subject, scorers, top or [5, 10], k=k, variants=variants)
    if report is not None:
        report.write_text(result.model_dump_json(indent=2), encoding="utf-8")
    if as_json:
        payload = document(
            "faithfulness", recording=str(recording_dir), **result.model_dump(mode="json")
        )
        typer.echo(json.dumps(payload, indent=2))
        return
    header, rows = table({recording_dir.name: result})
    title = (
        f"Risk Drop (deletion) and Risk Kept (insertion); risk before {result.risk_before:.5f}, "
        f"{result.actions} actions, k={k}, {result.replays} replays"
    )
    out.print(title, soft_wrap=True, highlight=False, markup=False)
    out.print(markdown(header, rows), soft_wrap=True, highlight=False, markup=False)
    if subject.reused:
        out.print(f"resumed: {subject.reused} of {result.replays} replays were already done")
    if report is not None:
        out.print(f"report written to {escape(str(report))}")
