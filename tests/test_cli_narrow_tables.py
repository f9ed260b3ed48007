"""The `eval` and `eval --forecast` tables at 80 columns: nothing overflows, and no id or
number is cut ("57.…") or wrapped inside itself."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.cli.common import rich_table

NARROW = CliRunner(env={"COLUMNS": "80"})


def fits(text: str, width: int = 80) -> None:
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= width, text


def test_eval_tables_fit_80_columns(tmp_path: Path, data_dir: Path) -> None:
    run = tmp_path / "run"
    result = NARROW.invoke(app, [
        "eval", "--bench", "who-and-when", "--tracer", "first-agent-step",
        "--data", str(data_dir), "--out", str(run),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    tables = result.stdout.split(" computed, ")[0].rsplit("\n", 1)[0]  # the path line may be long
    fits(tables)
    words = tables.split()
    summary = json.loads((run / "summary.json").read_text())
    for name, subset in summary["subsets"].items():
        assert name in words  # "algorithm-generated" whole, on one line
        for figure in (subset["official"]["agent_accuracy"],
                       subset["without_agent_step_mismatch"]["step_accuracy"]):  # fmt: skip
            assert f"{100 * figure:.2f}" in words


def test_eval_forecast_table_fits_80_columns(tmp_path: Path, data_dir: Path) -> None:
    run = tmp_path / "run"
    result = NARROW.invoke(app, [
        "eval", "--forecast", "--bench", "who-and-when", "--tracer", "last-agent-step",
        "--data", str(data_dir), "--out", str(run),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    table = result.stdout.split("baselines on the same cases")[0]
    fits(table)
    summary = json.loads((run / "forecast-summary.json").read_text())
    for rates in (summary["overall"], *summary["baselines"].values()):
        for figure in (rates["step_accuracy"], rates["eta"], rates["false_alarms"]):
            assert f"{100 * figure:.1f}%" in table.split()


def render(table: object, width: int) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


def test_a_table_too_wide_for_any_layout_is_stacked() -> None:
    header = ["run", "agent accuracy", "step accuracy", "false alarm rate"]
    rows = [["algorithm-generated/117", "57.14 [20.41, 88.19]", "12.5", "100.0"]]
    text = render(rich_table(header, rows, "t", width=40), 40)
    fits(text, 40)
    lines = [line.split() for line in text.splitlines()]
    assert ["algorithm-generated/117"] in lines
    assert ["false", "alarm", "rate", "100.0"] in lines
    assert {"57.14", "[20.41,", "88.19]"} <= set(text.split())  # wrapped between words only
