import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from tests.conftest import EXAMPLE

runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, list(args))


def test_show_prints_agents_steps_and_gold() -> None:
    result = _run("show", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert "Planner, Time_Expert, Verification_Expert" in result.stdout
    assert "Computer_terminal (tool)" in result.stdout
    assert "◀ gold" in result.stdout and "gold label: Time_Expert at step 1" in result.stdout


def test_attribute_prints_the_verdict_and_the_blamed_step() -> None:
    result = _run("attribute", str(EXAMPLE), "--tracer", "last-agent-step")
    assert result.exit_code == 0, result.output
    assert "agent: Planner" in result.stdout and "step:  5" in result.stdout
    assert "FINAL ANSWER" in result.stdout  # the excerpt of the blamed step


def test_attribute_json_is_a_verdict() -> None:
    result = _run("attribute", str(EXAMPLE), "--tracer", "random", "--seed", "2", "--json")
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["tracer"] == "random" and verdict["agent"] in {
        "Planner",
        "Time_Expert",
        "Verification_Expert",
    }
    assert 0 <= verdict["step"] < 6


def test_tracers_lists_the_registry() -> None:
    result = _run("tracers")
    assert result.exit_code == 0
    for name in ("random", "first-agent-step", "last-agent-step"):
        assert name in result.stdout


def test_eval_random_json_on_all_184_records(data_dir: Path, tmp_path: Path) -> None:
    args = ["eval", "--bench", "who-and-when", "--tracer", "random", "--json"]
    result = _run(*args, "--data", str(data_dir), "--out", str(tmp_path))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert {k: v["n"] for k, v in summary["subsets"].items()} == {
        "hand-crafted": 58,
        "algorithm-generated": 126,
        "all": 184,
    }
    for subset in summary["subsets"].values():
        for metric in ("agent_accuracy", "step_accuracy"):
            assert abs(subset["expected"][metric]["z"]) < 3  # within sampling error

    again = _run(*args[:-1], "--data", str(data_dir), "--out", str(tmp_path))
    assert again.exit_code == 0
    assert "0 computed, 184 resumed" in again.stdout
    assert "algorithm-generated" in again.stdout


def test_eval_subset_and_no_ground_truth_are_recorded(data_dir: Path, tmp_path: Path) -> None:
    result = _run(
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--tracer", "first-agent-step",
        "--no-ground-truth", "--tolerance", "2", "--data", str(data_dir), "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["setting"] == "without ground truth"
    assert set(summary["subsets"]) == {"hand-crafted", "all"}
    assert set(summary["subsets"]["all"]["step_accuracy_within"]) == {"2"}
    assert (tmp_path / "results.md").read_text().startswith("# first-agent-step on who-and-when")


def test_eval_tracertraj(data_dir: Path, tmp_path: Path) -> None:
    result = _run(
        "eval",
        "--bench",
        "tracertraj",
        "--tracer",
        "last-agent-step",
        "--data",
        str(data_dir),
        "--out",
        str(tmp_path),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["subsets"]["tracertraj"]["n"] == 127


def test_convert_to_jsonl_and_back_to_who_and_when(tmp_path: Path) -> None:
    jsonl = tmp_path / "example.jsonl"
    assert _run("convert", str(EXAMPLE), str(jsonl)).exit_code == 0
    record = tmp_path / "example.json"
    assert _run("convert", str(jsonl), str(record), "--to", "who-and-when").exit_code == 0
    assert json.loads(record.read_text()) == json.loads(EXAMPLE.read_text())


def _write(tmp_path: Path, name: str, content: str) -> Path:
    path = tmp_path / name
    path.write_text(content)
    return path


BAD_FILES = {
    "not-json.json": ("this is not json", "not valid JSON"),
    "unknown.json": ('{"spans": []}', "no known trajectory format"),
    "empty-history.json": (
        '{"history": [], "mistake_agent": "A", "mistake_step": "0"}',
        "zero steps",
    ),
    "out-of-range.json": (
        '{"history": [{"content": "x", "role": "A"}], "mistake_agent": "A", "mistake_step": "5"}',
        "mistake_step 5 is outside the history",
    ),
}


@pytest.mark.parametrize("command", ["show", "attribute"])
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_trace_files_exit_2_with_one_line(tmp_path: Path, command: str, name: str) -> None:
    content, message = BAD_FILES[name]
    path = _write(tmp_path, name, content)
    extra = ["--tracer", "random"] if command == "attribute" else []
    result = _run(command, str(path), *extra)
    assert result.exit_code == 2
    assert result.stdout == ""
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ") and str(path) in line and message in line


def test_unknown_tracer_exits_2(data_dir: Path) -> None:
    for args in (
        ["attribute", str(EXAMPLE), "--tracer", "nope"],
        ["eval", "--bench", "who-and-when", "--tracer", "nope", "--data", str(data_dir)],
    ):
        result = _run(*args)
        assert result.exit_code == 2
        assert result.stderr.strip() == (
            "error: unknown tracer 'nope'; known tracers: first-agent-step, last-agent-step, random"
        )


def test_missing_dataset_exits_2_saying_where_it_looked(tmp_path: Path) -> None:
    result = _run("eval", "--bench", "who-and-when", "--tracer", "random", "--data", str(tmp_path))
    assert result.exit_code == 2
    assert f"looked in: --data {tmp_path}" in result.stderr


def test_eval_skips_a_bad_record_and_goes_on(data_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data" / "Hand-Crafted"
    folder.mkdir(parents=True)
    for stem in ("1", "2"):
        (folder / f"{stem}.json").write_text(
            (data_dir / "who_and_when" / "Hand-Crafted" / f"{stem}.json").read_text()
        )
    (folder / "3.json").write_text("{ not json")
    result = _run(
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--tracer", "random",
        "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "warning: skipped" in result.stderr and "3.json: not valid JSON" in result.stderr
    summary = json.loads(result.stdout)
    assert summary["subsets"]["hand-crafted"]["n"] == 2 and len(summary["skipped"]) == 1


def test_console_script_reports_errors_without_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.json", "[")
    completed = subprocess.run(
        [sys.executable, "-m", "agentracer.cli", "show", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert completed.stderr.strip().startswith(f"error: {path}: not valid JSON")
