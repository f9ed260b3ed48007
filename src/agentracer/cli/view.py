"""`agentracer view`: a trajectory, recording or eval run as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from agentracer.cli.common import IndexOpt, app, err, user_errors
from agentracer.errors import AgenTracerError, install_hint


@app.command()
@user_errors
def view(
    source: Annotated[
        Path,
        typer.Argument(help="a trajectory file, a recording directory, or an `eval` run directory"),
    ],
    verdict: Annotated[
        list[Path] | None,
        typer.Option(help="verdict JSON to show (e.g. `attribute --json` output); repeatable"),
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="HTML file to write (default: SOURCE.html)")
    ] = None,
    index: IndexOpt = None,
    baselines: Annotated[
        bool,
        typer.Option(
            "--baselines/--no-baselines", help="eval runs: re-run the model-free baselines"
        ),
    ] = True,
) -> None:
    """Write the trace page (or an eval run's report) as one HTML file that needs no network."""
    try:
        import jinja2  # noqa: F401
    except ImportError:
        raise AgenTracerError(f"view needs jinja2: {install_hint('view')}") from None
    from agentracer.view.evaluation import evaluation_report, is_run_directory
    from agentracer.view.trace import read_verdicts, trajectory_report

    if not source.exists():
        raise AgenTracerError("no such file or directory", path=source)
    if is_run_directory(source):
        if verdict:
            raise AgenTracerError("--verdict is for one trajectory; an eval run holds its own")
        html = evaluation_report(source, baselines=baselines)
    else:
        verdicts = [v for path in verdict or [] for v in read_verdicts(path)]
        html = trajectory_report(source, verdicts, index=index)
    target = out_file or source.with_name(source.name.rstrip("/") + ".html")
    target.write_text(html, encoding="utf-8")
    err.print(f"wrote {escape(str(target))}")
