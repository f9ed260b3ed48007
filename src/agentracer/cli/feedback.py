"""`agentracer feedback`: turn a tracer's verdict on a failed recording into a critique for the
blamed agent and run the system again with it."""

from __future__ import annotations

import asyncio
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
from agentracer.cli.replay import OutOpt, _summary, _upstream
from agentracer.cli.trust import YesOpt, confirm_stored_commands
from agentracer.errors import AgenTracerError
from agentracer.feedback.critique import Critique, model_critique, template_critique
from agentracer.feedback.rerun import (
    replay_with_critique,
    require_failure,
    rerun_with_feedback,
)
from agentracer.llm.client import get_model
from agentracer.replay import recording as rec
from agentracer.replay.convert import call_index, to_trajectory
from agentracer.tracers import TracerSettings, create_tracer


async def _critique(
    directory: Path, tracer_name: str, settings: TracerSettings, write: bool
) -> Critique:
    trajectory = to_trajectory(rec.load(directory), path=directory)
    tracer = create_tracer(tracer_name, settings)
    try:
        verdict = await tracer.attribute(trajectory)
    finally:
        await tracer.aclose()
    if not write or settings.model is None:
        return template_critique(trajectory, verdict)
    model = get_model(settings.model, settings.connection)
    try:
        return await model_critique(trajectory, verdict, model)
    finally:
        await model.aclose()


@app.command("feedback")
@user_errors
def feedback_command(
    recording_dir: Annotated[Path, typer.Argument(help="a failed run made by `agentracer record`")],
    out_dir: OutOpt,
    tracer: Annotated[str, typer.Option(help="the tracer whose verdict becomes the critique")] = (
        "agentracer"
    ),
    mode: Annotated[
        str,
        typer.Option(
            help="replay: frozen prefix, critique to the blamed agent from its call on; "
            "task: a fresh run with the critique in the task (reference systems only)"
        ),
    ] = "replay",
    write: Annotated[
        bool,
        typer.Option(
            "--write/--template", help="let the model write the critique (else a template)"
        ),
    ] = False,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    seed: SeedOpt = 0,
    timeout: TimeoutOpt = 120.0,
    yes: Annotated[bool, YesOpt] = False,
) -> None:
    """Critique the blamed agent of a failed recording and run the system again with it.

    The recording's command and check run again: unasked only when you recorded it on this
    machine and it is unchanged; otherwise they are shown and run once you confirm (--yes).

    Example: agentracer feedback rec --tracer agentracer --out rec-fixed
    """
    if mode not in ("replay", "task"):
        raise AgenTracerError(f"--mode must be replay or task, not {mode!r}")
    require_failure(rec.load(recording_dir), recording_dir)
    confirm_stored_commands([recording_dir], yes)
    settings = tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=None, timeout=timeout,
        concurrency=1, no_cache=False, cache_dir=None, constrain=None,
    )  # fmt: skip
    critique = asyncio.run(_critique(recording_dir, tracer, settings, write))
    out.print(f"critique for {escape(critique.agent)} (step {critique.step}, {critique.source}):")
    out.print(escape(critique.text), highlight=False)
    upstream = _upstream(model, base_url, timeout)
    if mode == "task":
        rerun = rerun_with_feedback(recording_dir, critique.text, upstream, out_dir)
    else:
        trajectory = to_trajectory(rec.load(recording_dir), path=recording_dir)
        at = call_index(trajectory, critique.step)
        rerun = replay_with_critique(recording_dir, at, critique.text, upstream, out_dir)
    _summary(rerun, out_dir)
