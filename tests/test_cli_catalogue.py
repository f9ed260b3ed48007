"""Every labelled source is a name for `eval --bench` and a source for `train-fast`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def agentrx_root(data_dir: Path) -> Path:
    if not (data_dir / "agentrx" / "data" / "ground_truth").is_dir():
        pytest.skip(f"AgentRx data not found under {data_dir}")
    return data_dir


def test_eval_on_tau_retail_scores_the_assistant_and_counts_the_user_apart(
    agentrx_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    args = ["eval", "--bench", "tau-retail", "--tracer", "last-agent-step"]
    result = runner.invoke(app, [*args, "--data", str(agentrx_root), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "decisive step: top-1, top-3, any failure" in result.stdout
    assert "29 computed, 0 resumed, 73 skipped, 0 failed" in result.stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    figures = summary["subsets"]["tau-retail"]
    assert figures["n"] == 21 and figures["not_blamable"]["n"] == 8
    assert {s["error"] for s in summary["skipped"]} == {
        "a successful run (nothing to attribute; kept for forecasting's false alarms)"
    }


@pytest.mark.parametrize("bench", ["agentrx-magentic", "tau-retail"])
def test_train_fast_takes_the_new_sources(agentrx_root: Path, tmp_path: Path, bench: str) -> None:
    result = runner.invoke(
        app,
        ["train-fast", "--data", bench, "--data-dir", str(agentrx_root), "--out", str(tmp_path),
         "--trees", "10"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "TRAINING.json").read_text())
    assert record["data"][0]["source"] == bench
    assert record["data"][0]["trajectories"] == {"agentrx-magentic": 44, "tau-retail": 29}[bench]
    # AgentRx's Magentic-One runs are Who&When's logs: the held-out caution applies to them too
    cautioned = "do not report Who&When or agentrx-magentic scores" in result.stderr
    assert cautioned == (bench == "agentrx-magentic")
