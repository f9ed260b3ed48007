"""Commands that list what AgenTracer offers: tracers, trace formats and embedded models."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentracer.cli.common import app, out, user_errors
from agentracer.formats import format_specs
from agentracer.llm.models import CATALOGUE, DEFAULT_EMBEDDED, ensure_model, is_present
from agentracer.tracers import tracer_specs


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


@app.command()
def formats() -> None:
    """List the trace formats that show, attribute, convert and eval read (detected, no hint)."""
    for spec in format_specs():
        out.print(f"{spec.name}: {escape(spec.summary)}", soft_wrap=True)


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
@user_errors
def models_pull(
    name: Annotated[str, typer.Argument(help="embedded model name")] = DEFAULT_EMBEDDED,
) -> None:
    """Download an embedded model now (it is otherwise fetched on first use)."""
    path = ensure_model(name)
    out.print(f"{escape(name)}: {escape(str(path))}")
