"""Feedback: critiques, re-runs with a critique, and the experiment's bookkeeping, on the math
team with a scripted model whose Solver only gets it right when told where it went wrong."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from agentracer.errors import AgenTracerError, LLMError
from agentracer.feedback.critique import (
    GENERIC,
    NoBlameError,
    gives_away,
    template_critique,
)
from agentracer.feedback.experiment import (
    CONDITIONS,
    ResultLog,
    SettingsMismatchError,
    TaskResult,
    _attempt,
    paired_gain,
    run_task,
    success_rates,
)
from agentracer.feedback.rerun import (
    FEEDBACK_HEADER,
    NotAReferenceSystemError,
    replay_with_critique,
    rerun_with_feedback,
    with_critique,
)
from agentracer.replay.convert import to_trajectory
from agentracer.replay.recording import load
from agentracer.replay.session import Program, record
from agentracer.tracers import create_tracer
from agentracer.trajectory import Verdict
from tests.llm.loopback import completion


class TeachableUpstream:
    """Solver says 6 for 2 + 3 unless feedback that names a step reaches it; Verifier agrees."""

    name = "scripted/teachable"

    def __init__(self, fail: bool = False) -> None:
        self.requests: list[dict[str, Any]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.requests.append(body)
        if self.fail:
            raise LLMError("the scripted model is down")
        text = " ".join(m["content"] for m in body["messages"])
        if body["messages"][0]["content"].startswith("You are Verifier"):
            return completion("VERDICT: correct")
        told = "Feedback" in text and "at step" in text.split("Feedback", 1)[1]
        return completion("2 + 3 = 5\nANSWER: 5" if told else "2 + 3 = 6\nANSWER: 6")


def math(problem: str = "add") -> Program:
    module = [sys.executable, "-m", "agentracer.systems.math_team"]
    return Program(
        command=[*module, "run", "--problem", problem],
        check=" ".join([*module, "check", "--problem", problem]),
        timeout=60,
    )


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("fb") / "first"
    recording = record(math(), TeachableUpstream(), directory)
    assert recording.outcome.status == "failure", recording.outcome
    return directory


def test_the_critique_goes_into_the_system_message() -> None:
    body = {
        "messages": [{"role": "system", "content": "You are X"}, {"role": "user", "content": "q"}]
    }
    changed = with_critique(body, "check step 2")
    assert changed["messages"][0]["content"] == f"You are X\n\n{FEEDBACK_HEADER} check step 2"
    assert body["messages"][0]["content"] == "You are X"  # the original is untouched
    bare = with_critique({"messages": [{"role": "user", "content": "q"}]}, "c")
    assert bare["messages"][0] == {"role": "system", "content": f"{FEEDBACK_HEADER} c"}


def test_a_template_critique_names_the_step_and_not_the_answer(failed_run: Path) -> None:
    trajectory = to_trajectory(load(failed_run))
    critique = template_critique(trajectory, Verdict(agent="Solver", step=0, reason="added wrong"))
    assert (critique.agent, critique.step) == ("Solver", 0)
    assert "step 0" in critique.text and "added wrong" in critique.text
    assert not gives_away(critique.text, trajectory.ground_truth)
    assert gives_away("the answer is 5.", "5") and not gives_away("step 15", "5")
    leaky = template_critique(trajectory, Verdict(agent="Solver", step=0, reason="it is 5, not 6"))
    assert not gives_away(leaky.text, "5") and leaky.notes and "wrong final result" in leaky.text
    with pytest.raises(NoBlameError):
        template_critique(trajectory, Verdict(agent=None, step=None, parse_status="unparsed"))
    with pytest.raises(NoBlameError):
        template_critique(trajectory, Verdict(agent="Solver", step=99))


def test_replay_with_critique_freezes_the_prefix_and_tells_the_blamed_agent(
    failed_run: Path, tmp_path: Path
) -> None:
    model = TeachableUpstream()
    # Blame the Verifier (call 1): the Solver's call is frozen, the Verifier gets the critique.
    verifier = replay_with_critique(failed_run, 1, "at step 1 re-check", model, tmp_path / "v")
    assert [c.origin for c in verifier.calls()] == ["recorded", "substituted"]
    assert FEEDBACK_HEADER in model.requests[0]["messages"][0]["content"]
    assert verifier.outcome.status == "failure"
    # Blame the Solver (call 0): it is told, answers 5, the run now succeeds.
    solver = replay_with_critique(failed_run, 0, "at step 0 you added wrong", model, tmp_path / "s")
    assert [c.origin for c in solver.calls()] == ["substituted", "live"]
    assert solver.outcome.status == "success"


def test_the_experiment_runs_every_condition_once_per_failed_task(tmp_path: Path) -> None:
    tracer = create_tracer("first-agent-step")
    loop = asyncio.new_event_loop()
    try:
        result = run_task("add", math(), TeachableUpstream(), tracer, tmp_path / "add", loop)
    finally:
        loop.close()
    assert result.first == "failure" and result.verdict == "Solver@0"
    assert result.success == {
        "retry": False, "generic": False, "critique-task": True, "critique-replay": True
    }  # fmt: skip
    assert set(result.outcomes) == set(CONDITIONS)
    assert GENERIC not in (result.critique.text if result.critique else "")
    generic_run = load(tmp_path / "add" / "generic")
    assert "--feedback" in generic_run.command


def test_crashes_and_refusals_count_as_failures(failed_run: Path, tmp_path: Path) -> None:
    crashed = rerun_with_feedback(failed_run, None, TeachableUpstream(fail=True), tmp_path / "c")
    assert crashed.outcome.status == "crashed" and crashed.outcome.success is False

    def refused():
        raise AgenTracerError("the replay was refused")

    assert _attempt(refused) == ("error: the replay was refused", False)
    recording = load(failed_run)
    recording.command = ["python", "other.py"]
    from agentracer.replay.recording import save

    save(recording, tmp_path / "other")
    with pytest.raises(NotAReferenceSystemError):
        rerun_with_feedback(tmp_path / "other", "hint", TeachableUpstream(), tmp_path / "o")


def test_success_rates_and_the_paired_gain() -> None:
    def task(retry: bool, critique: bool) -> TaskResult:
        success = {c: retry for c in CONDITIONS} | {"critique-task": critique}
        return TaskResult(task="t", first="failure", success=success)

    results = [task(False, True)] * 3 + [task(True, True)] + [task(False, False)] * 4
    rates = success_rates(results)
    assert rates["retry"] == pytest.approx(1 / 8) and rates["critique-task"] == pytest.approx(4 / 8)
    gain = paired_gain(results, "critique-task", "retry")
    assert gain.gain == pytest.approx(3 / 8)
    assert 0 <= gain.low <= gain.gain <= gain.high <= 1
    same = paired_gain(results, "generic", "retry")
    assert (same.gain, same.low, same.high) == (0, 0, 0)


class BreakingUpstream(TeachableUpstream):
    """Teachable for the first run; afterwards every call raises (`crash`) or hangs past the
    re-runs' timeout (`hang`), so each feedback run's program really crashes or is killed."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how, self.broken = how, False

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.broken and self.how == "hang":
            time.sleep(4)
        self.fail = self.broken and self.how == "crash"
        return super().complete(body)


@pytest.mark.parametrize(
    ("how", "status", "timeout"), [("crash", "crashed", 60.0), ("hang", "timeout", 1.5)]
)
def test_a_feedback_run_that_crashes_or_times_out_is_a_counted_failure(
    how: str, status: str, timeout: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = BreakingUpstream(how)
    original = record

    def first_run_then_break(*args: Any, **kwargs: Any):
        recording = original(*args, **kwargs)
        model.broken = True
        return recording

    monkeypatch.setattr("agentracer.feedback.experiment.record", first_run_then_break)
    loop = asyncio.new_event_loop()
    try:
        result = run_task(
            "add", math(), model, create_tracer("first-agent-step"), tmp_path / "add", loop,
            timeout=timeout,
        )  # fmt: skip
    finally:
        loop.close()
    assert result.first == "failure" and result.verdict == "Solver@0"
    # Every condition ran a real subprocess that crashed / was killed, and each is a failure.
    assert set(result.outcomes) == set(CONDITIONS) == set(result.success)
    assert all(outcome.startswith(status) for outcome in result.outcomes.values()), result
    assert not any(result.success.values())
    for name in ("retry", "generic", "task", "replay"):
        assert load(tmp_path / "add" / name).outcome.status == status
    # ...and the task stays in the rates and the paired gain (n counts it).
    other = TaskResult(task="t", first="success", success=dict.fromkeys(CONDITIONS, True))
    assert success_rates([result, other]) == dict.fromkeys(CONDITIONS, 0.5)
    assert paired_gain([result, other], "critique-replay", "retry").gain == 0


def test_a_first_run_that_cannot_start_fails_every_condition(tmp_path: Path) -> None:
    (tmp_path / "add" / "first").mkdir(parents=True)
    (tmp_path / "add" / "first" / "left-over").write_text("x")  # record() refuses the dir
    loop = asyncio.new_event_loop()
    try:
        result = run_task(
            "add", math(), TeachableUpstream(), create_tracer("first-agent-step"),
            tmp_path / "add", loop,
        )  # fmt: skip
    finally:
        loop.close()
    assert result.first.startswith("error:")
    assert result.success == dict.fromkeys(CONDITIONS, False)


def test_the_result_log_resumes_and_refuses_other_settings(tmp_path: Path) -> None:
    path = tmp_path / "work" / "results.jsonl"
    settings = {"model": "m", "tracer": "t"}
    log = ResultLog(path, settings)
    done = TaskResult(task="add", first="success", success=dict.fromkeys(CONDITIONS, True))
    log.append("math", done)
    with path.open("a") as handle:
        handle.write('{"system": "math", "result": {"ta')  # cut short by an interruption
    again = ResultLog(path, settings)
    assert again.get("math", "add") == done and again.get("math", "ages") is None
    with pytest.raises(SettingsMismatchError):
        ResultLog(path, {"model": "other", "tracer": "t"})
