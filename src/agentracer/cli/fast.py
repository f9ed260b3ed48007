"""`agentracer train-fast`: train the fast tracer's ranking model (no LLM, seconds on a CPU)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentracer.cli.common import app, err, out, user_errors
from agentracer.formats.benchmarks import require_step_labels, system_of
from agentracer.tracers.fast.families import FAMILIES, feature_set
from agentracer.tracers.fast.model import PRESETS, preset
from agentracer.tracers.fast.training import MODEL_FILE, TRAINING_FILE, train_and_save
from agentracer.wording import count


@app.command("train-fast")
@user_errors
def train_fast_command(
    data: Annotated[
        list[str],
        typer.Option(
            help="tracertraj, who-and-when, agentrx-magentic, tau-retail, or a labelled "
            "dataset path; repeatable"
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the model and its record")],
    data_dir: Annotated[
        Path | None,
        typer.Option(help="where benchmarks named by --data live (else $AGENTRACER_DATA_DIR)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="LightGBM's random seed")] = 0,
    trees: Annotated[
        int | None, typer.Option(min=10, help="boosting rounds (default: the preset's)")
    ] = None,
    features: Annotated[
        str, typer.Option(help=f"feature families, comma-separated ({', '.join(FAMILIES)})")
    ] = "base",
    settings_preset: Annotated[
        str, typer.Option("--preset", help=f"LightGBM settings ({', '.join(PRESETS)})")
    ] = "default",
    anchor: Annotated[
        bool,
        typer.Option(
            help="lead with the model-free rule that has the best top-1 on the training runs"
        ),
    ] = False,
) -> None:
    """Train the fast tracer on labelled runs; use it with `--tracer fast -o model=DIR`."""
    for source in data:
        require_step_labels(source, use="train a step ranker")
    err.print(f"training the fast tracer on {', '.join(map(escape, data))}…")
    settings = preset(settings_preset, seed)
    if trees is not None:
        settings.n_estimators = trees
    command = shlex.join(["agentracer", *sys.argv[1:]])
    model, record = train_and_save(
        data, out_dir, data_dir=data_dir, settings=settings, command=command,
        features=feature_set(features), anchor=anchor,
    )  # fmt: skip
    magentic = any(system_of(d["source"]) == system_of("hand-crafted") for d in record["data"])
    if record["trained_on_who_and_when"] or magentic:
        # AgentRx's Magentic-One runs are Who&When's hand-crafted logs: the same caution
        err.print(
            "[yellow]note:[/yellow] trained on Who&When's logs (or AgentRx's copy of them): do "
            "not report Who&When or agentrx-magentic scores of this model as held out"
        )
    out.print(
        f"trained on {count(record['trajectories'], 'trajectory')} "
        f"({count(record['agent_steps'], 'agent step')}), "
        f"softmax temperature {model.temperature}; wrote {escape(str(out_dir / MODEL_FILE))} and "
        f"{escape(str(out_dir / TRAINING_FILE))}"
    )
