"""Counterfactual replay finds the earliest step whose fix flips failure into success."""

import asyncio
from pathlib import Path

import pytest

from agentracer.llm import ChatModel
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.replay.counterfactual import ModelAnalyzer, default_budget, find_decisive_step
from agentracer.replay.session import record
from agentracer.trajectory import Trajectory
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team


class ScriptedAnalyzer:
    """Proposes the same fix for any step and ranks steps as told."""

    name = "scripted"

    def __init__(
        self, fix: str = "The sum of the two numbers is 5.", ranking: list[int] | None = None
    ):
        self.fix, self.ranking = fix, ranking or []
        self.asked: list[int] = []

    async def propose_fix(self, trajectory: Trajectory, step: int, feedback: str) -> str:
        self.asked.append(step)
        return self.fix

    async def rank_steps(self, trajectory: Trajectory, feedback: str) -> list[int]:
        return self.ranking


@pytest.fixture
def failed(tmp_path: Path) -> Path:
    recording = record(team(*ARITHMETIC), ArithmeticUpstream(buggy=True), tmp_path / "failed")
    assert recording.outcome.status == "failure"
    return tmp_path / "failed"


def _search(failed: Path, tmp_path: Path, analyzer, **kwargs):
    return asyncio.run(
        find_decisive_step(
            failed, analyzer, ArithmeticUpstream(buggy=True), tmp_path / "work", **kwargs
        )
    )


def test_linear_finds_the_earliest_flipping_step(failed: Path, tmp_path: Path) -> None:
    analyzer = ScriptedAnalyzer()
    result = _search(failed, tmp_path, analyzer)
    # Step 0 (Planner) fixed: the live worker still adds wrongly. Step 1 (Worker) fixed: approved.
    assert (result.step, result.agent, result.call) == (1, "Worker", 1)
    assert [a.flipped for a in result.attempts] == [False, True] and result.replays == 2
    assert analyzer.asked == [0, 1] and result.agreement == 1.0
    assert (
        result.replay_live_calls == 2 + 1
    )  # planner fix: worker and reviewer live; worker fix: reviewer


def test_ranked_verifies_candidates_in_ascending_order(failed: Path, tmp_path: Path) -> None:
    analyzer = ScriptedAnalyzer(ranking=[3, 1])
    result = _search(failed, tmp_path, analyzer, strategy="ranked")
    assert result.step == 1 and result.replays == 1 and analyzer.asked == [1]


def test_ranked_without_the_error_among_candidates_finds_nothing(
    failed: Path, tmp_path: Path
) -> None:
    result = _search(failed, tmp_path, ScriptedAnalyzer(ranking=[0]), strategy="ranked")
    assert result.step is None and result.replays == 1


def test_majority_of_k_with_early_stop(failed: Path, tmp_path: Path) -> None:
    result = _search(failed, tmp_path, ScriptedAnalyzer(), k=3)
    assert [len(a.outcomes) for a in result.attempts] == [2, 2]  # decided after two of three
    assert result.step == 1 and result.replays == 4


def test_budget_is_log2_plus_two() -> None:
    from agentracer.formats import load_one
    from tests.conftest import EXAMPLE

    assert default_budget(load_one(EXAMPLE)) == 3 + 2  # 5 agent steps


def test_a_real_model_as_analyzer(failed: Path, tmp_path: Path, embedded: EmbeddedBackend) -> None:
    analyzer = ModelAnalyzer(ChatModel(embedded), max_tokens=60)
    result = _search(failed, tmp_path, analyzer)
    assert analyzer.usage.calls == len(result.attempts) >= 1
    assert all(a.fix for a in result.attempts)  # every fix is the model's text
    # Whatever the model proposed, the label is the first attempt that flipped, and only it.
    flips = [a.step for a in result.attempts if a.flipped]
    assert flips == ([result.step] if result.step is not None else [])
    if result.step is not None:
        assert result.step in (0, 1) and result.attempts[-1].flipped
