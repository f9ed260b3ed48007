"""`agentracer eval --forecast`: the run directory, resuming, the summary with its baselines."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.forecast.evaluate import RESULTS_FILE, SUMMARY_FILE, TABLE_FILE, read_records
from tests.conftest import EXAMPLE

runner = CliRunner()


def eval_forecast(data_dir: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [
        "eval", "--forecast", "--bench", "who-and-when", "--subset", "algorithm-generated",
        "--data", str(data_dir), "--out", str(out), *extra,
    ])  # fmt: skip


def test_eval_forecast_writes_a_resumable_run_directory(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = eval_forecast(data_dir, out, "--tracer", "first-agent-step")
    assert first.exit_code == 0, first.output
    summary = json.loads((out / SUMMARY_FILE).read_text())
    overall = summary["overall"]
    assert overall["failed"] == 126 and overall["negatives"] > 0
    assert set(summary["baselines"]) == {"first-step", "never", "random p=0.126"}
    # the tracer in prefix mode blames the first agent step at once: it is the first-step baseline
    assert overall["step_accuracy"] == summary["baselines"]["first-step"]["step_accuracy"]
    assert summary["baselines"]["never"]["eta"] == 1.0
    assert summary["baselines"]["never"]["false_alarms"] == 0.0
    assert "| forecaster | exact | ±1 | ±3 |" in (out / TABLE_FILE).read_text()
    # a torn last line is dropped; the next run forecasts only that case again
    lines = (out / RESULTS_FILE).read_text().splitlines()
    (out / RESULTS_FILE).write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:20])
    again = eval_forecast(data_dir, out, "--tracer", "first-agent-step")
    assert again.exit_code == 0, again.output
    assert f"1 forecast, {len(lines) - 1} resumed" in again.output
    assert len(read_records(out / RESULTS_FILE)) == len(lines)
    other = eval_forecast(data_dir, out, "--tracer", "never")
    assert other.exit_code == 2 and "different forecaster" in other.output


def test_eval_forecast_with_the_shipped_fast_hazard(data_dir: Path, tmp_path: Path) -> None:
    result = eval_forecast(data_dir, tmp_path / "run", "--tracer", "fast-hazard", "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["name"] == "fast-hazard" and summary["overall"]["failed"] == 126
    assert any("at most 10% false alarms" in note for note in summary["notes"])
    assert 0 < summary["overall"]["eta"] <= 1
    assert summary["overall"]["false_alarms"] <= 0.10  # the bound it was chosen for holds here


def test_bad_cv_options_are_refused(data_dir: Path, tmp_path: Path) -> None:
    bad = eval_forecast(data_dir, tmp_path / "run", "--tracer", "never", "-o", "cv=5")
    assert bad.exit_code == 2 and "fast-hazard alone" in bad.output
    one = runner.invoke(app, ["forecast", str(EXAMPLE), "-o", "cv=5"])
    assert one.exit_code == 2 and "give --bench" in one.output
    word = eval_forecast(data_dir, tmp_path / "run", "--tracer", "fast-hazard", "-o", "cv=many")
    assert word.exit_code == 2 and "number of folds" in word.output


def test_the_llm_auditor_through_an_openai_compatible_endpoint(
    scripted, cache_dir: Path, data_dir: Path, tmp_path: Path
) -> None:
    from tests.llm.loopback import Reply, completion

    def answer(body: dict) -> Reply:
        log = body["messages"][-1]["content"]
        said = "alarm at step 1" if "Step 1 -" in log else "continue"
        return Reply(body=completion(f"Decision: {said}\nReason: scripted"))

    scripted.default = answer
    one = runner.invoke(app, ["forecast", str(EXAMPLE), "--tracer", "llm-prefix",
                              "--model", "openai/scripted", "--base-url", scripted.base_url])  # fmt: skip
    assert one.exit_code == 0, one.output
    assert "alarm at step 1" in one.stdout and "read 2 of 6" in one.stdout
    assert "still running" in scripted.requests[0]["messages"][-1]["content"]
    out = tmp_path / "run"
    result = eval_forecast(data_dir, out, "--tracer", "llm-prefix", "--model", "openai/scripted",
                           "--base-url", scripted.base_url, "--no-ground-truth")  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["model"] == "openai/scripted" and summary["calls"] > 0


def test_eval_forecast_cross_validated_by_question(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = eval_forecast(data_dir, out, "--tracer", "fast-hazard", "-o", "cv=2")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["cv"] == 2 and summary["name"] == "fast-hazard (2-fold CV by question)"
    assert any("grouped by question" in note for note in summary["notes"])
    assert "never on its own labels" in result.stdout.replace("\n", " ")
