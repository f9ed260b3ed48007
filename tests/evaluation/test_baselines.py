"""The model-free baselines scored beside every evaluation."""

import json
from pathlib import Path

from agentracer.evaluation import RunConfig, evaluate
from agentracer.evaluation.baselines import RANDOM_ANALYTIC, RANDOM_PAPER, best_baseline
from agentracer.evaluation.report import baseline_table
from agentracer.evaluation.runner import RESULTS_FILE, read_results
from agentracer.formats import Benchmark
from agentracer.tracers import create_tracer
from agentracer.tracers.baselines import BASELINES

SUBSETS = ["hand-crafted", "algorithm-generated"]


def _evaluate(bench: Benchmark, tracer: str, out: Path) -> dict:
    config = RunConfig(bench="who-and-when", subsets=SUBSETS, tracer=tracer)
    summary, _ = evaluate(bench, create_tracer(tracer), config, out)
    return summary


def test_every_baseline_is_scored_beside_the_tracer_on_the_same_records(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    summary = _evaluate(who_and_when, "last-agent-step", tmp_path / "last")
    baselines = summary["baselines"]
    assert set(baselines) == {RANDOM_ANALYTIC, RANDOM_PAPER} | (set(BASELINES) - {"random"})
    for figures in baselines.values():
        assert figures["all"]["n"] == 184 and figures["hand-crafted"]["n"] == 58
    # a baseline's row equals what evaluating that baseline as the tracer gives
    mine = baselines["last-agent-step"]
    for subset in [*SUBSETS, "all"]:
        assert mine[subset]["agent_accuracy"] == summary["subsets"][subset]["agent_accuracy"]
        assert mine[subset]["step_accuracy"] == summary["subsets"][subset]["step_accuracy"]
    rated = summary["subsets"]["all"]["confidence"]  # baselines give the uniform prior
    assert rated["n"] == 184 and 0 < rated["mean"] < 1
    assert rated["step_accuracy"] == summary["subsets"]["all"]["step_accuracy"]
    on_disk = json.loads((tmp_path / "last" / "summary.json").read_text())
    assert on_disk["baselines"] == baselines
    # the Who&When paper's random baseline, as published (step 4.16 / 12.00)
    paper = baselines[RANDOM_PAPER]
    assert round(100 * paper["hand-crafted"]["step_accuracy"], 2) == 4.16
    assert round(100 * paper["algorithm-generated"]["step_accuracy"], 2) == 12.00
    assert round(100 * paper["algorithm-generated"]["agent_accuracy"], 2) == 29.10


def test_the_tool_error_rule_is_the_best_step_baseline_on_who_and_when(
    who_and_when: Benchmark, tmp_path: Path
) -> None:
    """It gains on algorithm-generated and ties first-hand-off on hand-crafted, where a tie
    names the simpler rule (the order of `BASELINES`)."""
    summary = _evaluate(who_and_when, "first-hand-off", tmp_path)
    baselines = summary["baselines"]
    assert best_baseline(baselines, "all", "step_accuracy") == "tool-error-near-hand-off"
    assert best_baseline(baselines, "hand-crafted", "step_accuracy") == "first-hand-off"
    # every rule now offers candidates, so its top-3 is above its top-1 (as in loso.py)
    rule = baselines["tool-error-near-hand-off"]["algorithm-generated"]
    assert rule["step_top3_accuracy"] > rule["step_accuracy"]
    header, rows = baseline_table(summary)
    assert header[0] == "subset: method"
    assert rows[0][0] == "hand-crafted: first-hand-off"
    assert any(row[0].strip() == RANDOM_ANALYTIC for row in rows)
    assert "| hand-crafted: first-hand-off | 58 |" in (tmp_path / "results.md").read_text()


def test_a_run_directory_written_before_the_structured_verdict_fields_still_loads(
    tmp_path: Path,
) -> None:
    line = {
        "id": "hand-crafted/1",
        "subset": "hand-crafted",
        "n_steps": 10,
        "flags": [],
        "gold": {"agent": "WebSurfer", "step": 3, "reason": "", "provenance": {}},
        "verdict": {
            "agent": "WebSurfer",
            "step": 3,
            "reason": "",
            "candidates": [],
            "tracer": "all-at-once",
            "raw_output": "Agent Name: WebSurfer\nStep Number: 3",
            "parse_status": "parsed",
            "usage": {"calls": 1, "prompt_tokens": 10},
            "notes": [],
        },
        "score": {
            "agent": True,
            "step": True,
            "step_within": {"1": True, "3": True},
            "official_agent": True,
            "official_step": True,
        },
        "expectation": None,
    }
    (tmp_path / RESULTS_FILE).write_text(json.dumps(line) + "\n")
    results = read_results(tmp_path / RESULTS_FILE)
    verdict = results["hand-crafted/1"].verdict
    assert verdict.step == 3 and verdict.evidence == [] and verdict.confidence is None
