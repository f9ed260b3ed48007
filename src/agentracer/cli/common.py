"""What the `agentracer` commands share: the app, consoles, options and error reporting."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from agentracer.cli import version_line
from agentracer.errors import DISTRIBUTION, AgenTracerError, install_hint  # noqa: F401

if TYPE_CHECKING:  # imported when used: `--version` must not load the models and tracers
    from agentracer.tracers import TracerSettings

app = typer.Typer(
    help="AgenTracer: name the agent and the step that made a multi-agent run fail.",
    no_args_is_help=True,
    add_completion=False,
    # Plain help: rich's help panels cut option help mid-word ("openai/gpt-4o-mi…") on an
    # 80-column terminal; click's formatter wraps whole words at any width.
    rich_markup_mode=None,
)
# soft_wrap: lines are never broken at the terminal width (scripts and tests read them);
# tables still fit the terminal.
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

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


def _trace_help() -> str:
    """Every format family the readers know, from the registry (so a new reader is listed)."""
    from agentracer.formats import format_specs

    names = ", ".join(spec.name for spec in format_specs())
    return f"a trace file or recording directory in any format (`agentracer formats`): {names}"


TraceArg = Annotated[Path, typer.Argument(help=_trace_help())]
RayOpt = Annotated[
    bool,
    typer.Option(
        "--ray",
        help="run on Ray: join the local cluster (`ray start --head`) or start one "
        f"(needs the scale extra: {install_hint('scale')})",
    ),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(help="run on the Ray cluster at this address (HOST:PORT, ray://..., auto)"),
]
EndpointLimitOpt = Annotated[
    int | None,
    typer.Option(
        min=1, help="with Ray: model calls in flight per endpoint across the whole cluster"
    ),
]


def connect_ray(address: str | None) -> None:
    """Join or start the Ray cluster for `--ray` / `--ray-address` (one-line error without Ray)."""
    from agentracer.scale.cluster import connect

    connect(address)
    err.print("running on Ray", soft_wrap=True)


IndexOpt = Annotated[int | None, typer.Option(help="which record of a multi-record file (0-based)")]

EXPORT_ENV = "AGENTRACER_EXPORT_VERDICTS"
ExportOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--export-verdicts",
        envvar=EXPORT_ENV,
        help="also send each verdict to URL, repeatable: an OTLP/HTTP endpoint (http://HOST:4318; "
        "a gen_ai.evaluation.result event on the blamed span), `env` (the "
        "OTEL_EXPORTER_OTLP_* variables), or phoenix+http://HOST:6006[?project=NAME] (a span "
        "annotation); delivery is retried in the background and never fails the command",
    ),
]


def open_sinks(urls: list[str] | None, model: str | None) -> list[Any]:
    """The destinations of `--export-verdicts`, opened before any work (a bad URL fails now)."""
    if not urls:
        return []
    from agentracer.export import open_sink

    return [open_sink(url, model=model) for url in urls]


def close_sinks(sinks: list[Any], timeout: float = 10.0) -> None:
    """Flush every destination (at most `timeout` seconds each); report what was not sent."""
    for sink in sinks:
        delivery = sink.close(timeout)
        if delivery.failed or delivery.errors:
            err.print(f"[yellow]warning:[/yellow] {escape(delivery.summary())}", highlight=False)
        else:
            err.print(f"[dim]{escape(delivery.summary())}[/dim]", highlight=False)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(version_line())
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
) -> None:
    """AgenTracer: name the agent and the step that made a multi-agent run fail."""
    _follow_columns()


def _follow_columns() -> None:
    """Size the consoles by `COLUMNS` as it is when a command runs.

    rich fixes a console's width from `COLUMNS` once, when it is made (at import); a caller that
    runs several commands in one process (tests, notebooks) with another width would get the
    first one's. Unset or not a number: rich's own rule (the terminal, else 80)."""
    columns = os.environ.get("COLUMNS", "")
    for console in (out, err):
        console._width = int(columns) if columns.isdigit() else None


def user_errors(command: F) -> F:
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


def leave_interrupted(message: str) -> NoReturn:
    """Say what Ctrl-C kept, and exit 130 now. A native model call still running (the embedded
    model's prompt processing cannot be stopped) is not waited for: finished results are
    already on disk, so the process leaves without the interpreter's clean-up."""
    err.print(message, soft_wrap=True, highlight=False)
    from agentracer.llm.embedded import native_calls_running

    if native_calls_running():
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    raise typer.Exit(130)


def parse_options(pairs: list[str] | None) -> dict[str, Any]:
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


def tracer_settings(
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
    needs_model: bool | None = None,
) -> TracerSettings:
    """Settings for `tracer`, with the model resolved now so a run records which one it used.
    `needs_model` overrides the tracer registry's answer (for names that are not tracers, such
    as forecasters)."""
    from agentracer.llm import ConnectionSettings
    from agentracer.llm.client import default_model_name
    from agentracer.llm.models import CATALOGUE, DEFAULT_EMBEDDED
    from agentracer.tracers import TracerSettings
    from agentracer.tracers.registry import tracer_spec

    connection = ConnectionSettings(
        base_url=base_url,
        timeout=timeout,
        concurrency=concurrency,
        use_cache=not no_cache,
        cache_dir=None if cache_dir is None else str(cache_dir),
        constrain=constrain,
    )
    if needs_model is None:
        needs_model = tracer_spec(tracer).needs_model
    if needs_model:
        model = model or default_model_name(connection)
        if model == f"local/{DEFAULT_EMBEDDED}":
            err.print(f"[dim]using the embedded model: {CATALOGUE[DEFAULT_EMBEDDED].note}[/dim]")
    return TracerSettings(
        seed=seed, model=model, options=parse_options(options), connection=connection
    )


NAME_LIMIT = 60
"""Characters of an agent name (or other one-line datum) the CLI prints."""


def excerpt(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters (with its line breaks, unlike `excerpt`)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rich_table(
    header: list[str], rows: list[list[str]], title: str, width: int | None = None
) -> Table:
    """A table that fits `width` (default: the terminal's) without cutting an id or a number.

    Every column is at least as wide as its longest word (cells wrap only between words) and
    the first column, the row's id, never wraps. When that does not fit in boxes, the table is
    drawn compact (no box, one space between columns); when even that does not fit, stacked:
    one block per row, a line per column."""
    width = out.width if width is None else width
    minimums = [
        max(
            max((len(word) for word in column.split()), default=1),
            *(len(row[i]) if i == 0 else _longest_word(row[i]) for row in rows),
            0,
        )
        for i, column in enumerate(header)
    ]
    n = len(header)
    if sum(minimums) + 3 * n + 1 <= width:
        table = Table(title=title)
    elif sum(minimums) + n - 1 <= width:
        table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=0)
    else:
        return _stacked(header, rows, title)
    for i, column in enumerate(header):
        table.add_column(column, no_wrap=i == 0, min_width=minimums[i])
    for row in rows:
        table.add_row(*row)
    return table


def _longest_word(cell: str) -> int:
    return max((len(word) for word in cell.split()), default=0)


def _stacked(header: list[str], rows: list[list[str]], title: str) -> Table:
    """One block per row: its id in bold, then `column  value` lines (any width fits)."""
    table = Table(title=title, box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column()
    for row in rows:
        table.add_row(Text(row[0].strip(), style="bold"), "")
        for column, value in zip(header[1:], row[1:], strict=True):
            table.add_row(f"  {column}", value, end_section=column == header[-1])
    return table
