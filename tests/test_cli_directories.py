"""Issue 20 item 6: a directory where a trace file is expected is a one-line error naming the
trace files inside it, never an `IsADirectoryError` traceback (`attribute DIR` already was)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from tests.conftest import EXAMPLE

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        ["show", "{dir}"],
        ["view", "{dir}", "--out", "{tmp}/page.html"],
        ["forecast", "{dir}", "--tracer", "first-step"],
        ["convert", "{dir}", "{tmp}/out.jsonl"],
    ],
    ids=["show", "view", "forecast", "convert"],
)
def test_a_directory_is_a_one_line_error(command: list[str], tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "failed_run.json")
    args = [a.format(dir=folder, tmp=tmp_path) for a in command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, OSError)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {folder}: is a directory, and no format reads it (give a trace file inside "
        "it; trace files in it: failed_run.json)"
    ], result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.jsonl").exists() and not (tmp_path / "page.html").exists()
