"""Commands that list what AgenTracer offers: tracers, trace formats and embedded models."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentracer.cli.common import app, out, user_errors
from agentracer.export.document import document
from agentracer.formats import format_specs
from agentracer.llm.models import CATALOGUE, DEFAULT_EMBEDDED, ensure_model, is_present
from agentracer.tracers import tracer_specs

JsonOpt = Annotated[bool, typer.Option("--json", help="one JSON document")]


@app.command()
def tracers(as_json: JsonOpt = False) -> None:
    """List the registered tracers."""
    if as_json:
        rows = [{"name": s.name, "needs_model": s.needs_model, "summary": s.summary}
                for s in tracer_specs()]  # fmt: skip
        typer.echo(json.dumps(document("tracers", tracers=rows), indent=2))
        return
    table = Table()
    table.add_column("tracer")
    table.add_column("needs a model")
    table.add_column("what it does")
    for spec in tracer_specs():
        table.add_row(spec.name, "yes" if spec.needs_model else "no", spec.summary)
    out.print(table)


@app.command()
def formats(as_json: JsonOpt = False) -> None:
    """List the trace formats that show, attribute, convert and eval read (detected, no hint)."""
    if as_json:
        rows = [{"name": s.name, "summary": s.summary} for s in format_specs()]
        typer.echo(json.dumps(document("formats", formats=rows), indent=2))
        return
    for spec in format_specs():
        out.print(f"{spec.name}: {escape(spec.summary)}", soft_wrap=True)


models_app = typer.Typer(
    help="Embedded models that run in-process (no server, no key).", no_args_is_help=True
)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the embedded models and whether each is already downloaded."""
    if as_json:
        rows = [
            {"model": f"local/{e.name}", "license": e.license, "context_window": e.context_window,
             "downloaded": is_present(e), "note": e.note}
            for e in CATALOGUE.values()
        ]  # fmt: skip
        typer.echo(json.dumps(document("models", models=rows), indent=2))
        return
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
