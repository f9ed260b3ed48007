"""Scoring on the AgentRx sources: runs whose gold agent cannot be blamed are reported apart,
and "hit any annotated failure" counts every failure the annotators marked."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentracer.evaluation import RunConfig, evaluate
from agentracer.formats import Benchmark, load_benchmark
from agentracer.tracers.base import Tracer
from agentracer.trajectory import Trajectory, Verdict


@pytest.fixture(scope="module")
def agentrx_root(data_dir: Path) -> Path:
    if not (data_dir / "agentrx" / "data" / "ground_truth").is_dir():
        pytest.skip(f"AgentRx data not found under {data_dir}")
    return data_dir


class FirstFailureTracer(Tracer):
    """Blames the first annotated failure (cheating on purpose: it reads the label)."""

    name = "first-failure"

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        assert trajectory.label is not None
        first = min(trajectory.label.failures or [trajectory.label], key=lambda f: f.step)
        return Verdict(agent=first.agent, step=first.step, candidates=[trajectory.label.step])


def _config(bench: str) -> RunConfig:
    return RunConfig(bench=bench, subsets=[bench], tracer="first-failure")


def test_simulated_user_gold_is_counted_apart_not_scored(
    agentrx_root: Path, tmp_path: Path
) -> None:
    bench: Benchmark = load_benchmark("tau-retail", data=agentrx_root)
    summary, outcome = evaluate(bench, FirstFailureTracer(), _config("tau-retail"), tmp_path)
    assert len(outcome.results) == 29
    figures = summary["subsets"]["tau-retail"]
    assert figures["n"] == 21  # the assistant's root causes only
    assert figures["not_blamable"]["n"] == 8 and len(figures["not_blamable"]["ids"]) == 8
    assert figures["any_failure_accuracy"] == 1.0 and figures["step_top3_accuracy"] == 1.0
    assert figures["step_accuracy"] < 1.0
    assert all(b["tau-retail"]["n"] == 21 for b in summary["baselines"].values())
    assert "| tau-retail | 21 |" in (tmp_path / "results.md").read_text()


def test_magentic_scores_hit_any_failure_beside_top1(agentrx_root: Path, tmp_path: Path) -> None:
    bench = load_benchmark("agentrx-magentic", data=agentrx_root)
    summary, _ = evaluate(bench, FirstFailureTracer(), _config("agentrx-magentic"), tmp_path)
    figures = summary["subsets"]["agentrx-magentic"]
    assert figures["n"] == 44 and figures["not_blamable"]["n"] == 0
    assert figures["any_failure_accuracy"] == 1.0
    assert figures["step_top3_accuracy"] == 1.0
    # the first marked failure is the root cause in only some runs
    assert 0.2 < figures["step_accuracy"] < 0.9
