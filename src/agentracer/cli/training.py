"""`agentracer train --config FILE`: a GRPO run as one YAML file describes it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentracer.cli.common import app, out, user_errors
from agentracer.training.config import load_config


@app.command("train")
@user_errors
def train_command(
    config: Annotated[Path, typer.Option("--config", help="YAML training config (see configs/)")],
    resume: Annotated[
        bool,
        typer.Option("--resume", help="continue from the last checkpoint in the output directory"),
    ] = False,
) -> None:
    """Train a tracer with GRPO and the multi-granular reward (needs the [train] extra)."""
    settings = load_config(config)  # a wrong key fails here, before anything heavy is imported
    from agentracer.training.grpo import train

    final = train(settings, resume=resume)
    out.print(f"final checkpoint: {escape(str(final))}")
