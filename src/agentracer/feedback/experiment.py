"""The feedback experiment: does a tracer's critique fix the next run better than a retry?

For each task the system runs once. A success needs no feedback (every condition keeps it). A
failure gets exactly one more run per condition, so every condition has the same number of
runs:

- `retry`: the same system run again, unchanged (control);
- `generic`: run again with a generic "reflect on your answer" critique in the task (control);
- `critique-task`: run again with the tracer's critique in the task;
- `critique-replay`: the failed run replayed, frozen before the blamed call, the critique in the
  blamed agent's prompt from there on.

Success rate per condition is over all tasks; the gain over a control is the paired mean
difference with a bootstrap confidence interval over tasks. A crash, a timeout, a divergence or
a verdict that names no step is a failed attempt, never dropped.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentracer.errors import AgenTracerError
from agentracer.feedback.critique import GENERIC, Critique, model_critique, template_critique
from agentracer.feedback.rerun import replay_with_critique, rerun_with_feedback, succeeded
from agentracer.llm import ChatModel
from agentracer.replay.convert import call_index, to_trajectory
from agentracer.replay.recording import Recording
from agentracer.replay.session import Program, record
from agentracer.replay.upstream import Upstream
from agentracer.tracers.base import Tracer

CONDITIONS = ("retry", "generic", "critique-task", "critique-replay")


class TaskResult(BaseModel):
    task: str
    first: str = Field(description="outcome status of the first run")
    verdict: str | None = Field(default=None, description="agent@step the tracer blamed")
    critique: Critique | None = None
    outcomes: dict[str, str] = Field(default_factory=dict, description="condition -> status")
    success: dict[str, bool] = Field(default_factory=dict)
    seconds: float = Field(default=0.0, description="wall time of every run of this task")


class Gain(BaseModel):
    condition: str
    control: str
    gain: float
    low: float
    high: float


def _attempt(run: Callable[[], Recording]) -> tuple[str, bool]:
    try:
        recording = run()
    except AgenTracerError as error:  # a refused replay is a failed attempt, with its reason
        return f"error: {error.one_line()[:120]}", False
    status: str = recording.outcome.status
    if status != "success" and recording.outcome.message:
        status = f"{status}: {' '.join(recording.outcome.message.split())[:120]}"
    return status, succeeded(recording)


def run_task(
    task: str,
    program: Program,
    upstream: Upstream,
    tracer: Tracer,
    work_dir: Path,
    loop: asyncio.AbstractEventLoop,
    *,
    critic: ChatModel | None = None,
    timeout: float | None = None,
) -> TaskResult:
    """One task under every condition; the runs go under `work_dir`. Every condition ends with
    an outcome: a crash, a timeout or a refusal is a failure with its reason, never a gap.
    `timeout` bounds each re-run (the first run is bounded by `program.timeout`)."""
    started = time.perf_counter()
    result = _run_task(task, program, upstream, tracer, work_dir, loop, critic, timeout)
    result.seconds = round(time.perf_counter() - started, 1)
    return result


def _run_task(
    task: str,
    program: Program,
    upstream: Upstream,
    tracer: Tracer,
    work_dir: Path,
    loop: asyncio.AbstractEventLoop,
    critic: ChatModel | None,
    timeout: float | None,
) -> TaskResult:
    first_dir = work_dir / "first"
    try:
        first = record(program, upstream, first_dir)
    except AgenTracerError as error:  # no first run to retry: every condition failed
        reason = f"error: {error.one_line()[:120]}"
        return TaskResult(
            task=task, first=reason, outcomes=dict.fromkeys(CONDITIONS, "no first run"),
            success=dict.fromkeys(CONDITIONS, False),
        )  # fmt: skip
    result = TaskResult(task=task, first=first.outcome.status)
    if succeeded(first):
        result.outcomes = dict.fromkeys(CONDITIONS, "first-run-succeeded")
        result.success = dict.fromkeys(CONDITIONS, True)
        return result

    def attempt(name: str, run: Callable[[], Recording]) -> None:
        result.outcomes[name], result.success[name] = _attempt(run)

    def rerun(feedback: str | None, name: str) -> Recording:
        return rerun_with_feedback(first_dir, feedback, upstream, work_dir / name, timeout=timeout)

    attempt("retry", lambda: rerun(None, "retry"))
    attempt("generic", lambda: rerun(GENERIC, "generic"))
    try:
        trajectory = to_trajectory(first, path=first_dir)
        verdict = loop.run_until_complete(tracer.attribute(trajectory))
        critique = template_critique(trajectory, verdict)
        if critic is not None:
            critique = loop.run_until_complete(model_critique(trajectory, verdict, critic))
    except AgenTracerError as error:
        for name in ("critique-task", "critique-replay"):
            result.outcomes[name], result.success[name] = f"no critique: {error.one_line()}", False
        return result
    result.verdict, result.critique = f"{critique.agent}@{critique.step}", critique
    at = call_index(trajectory, critique.step)
    attempt("critique-task", lambda: rerun(critique.text, "task"))
    attempt(
        "critique-replay",
        lambda: replay_with_critique(
            first_dir, at, critique.text, upstream, work_dir / "replay", timeout=timeout
        ),
    )
    return result


def success_rates(results: Sequence[TaskResult]) -> dict[str, float]:
    return {c: statistics.fmean(r.success[c] for r in results) for c in CONDITIONS}


def paired_gain(
    results: Sequence[TaskResult], condition: str, control: str, *,
    resamples: int = 2000, seed: int = 0, level: float = 0.95,
) -> Gain:  # fmt: skip
    """Mean paired difference in success (condition - control) over tasks, with a percentile
    bootstrap interval (tasks resampled with replacement)."""
    diffs = [int(r.success[condition]) - int(r.success[control]) for r in results]
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(resamples))
    tail = (1 - level) / 2
    low = means[int(tail * (resamples - 1))]
    high = means[int((1 - tail) * (resamples - 1))]
    return Gain(
        condition=condition, control=control, gain=statistics.fmean(diffs), low=low, high=high
    )


class SettingsMismatchError(AgenTracerError):
    """A results file holds tasks run with other settings; resuming would mix them."""


class ResultLog:
    """Finished tasks, one JSON line each, appended as they finish: an interrupted experiment
    resumes by skipping the tasks already in the file. The first line holds the settings; a
    file made with other settings is refused rather than mixed."""

    def __init__(self, path: Path, settings: dict[str, Any]) -> None:
        self.path, self.settings = path, settings
        self.done: dict[tuple[str, str], TaskResult] = {}
        if not path.exists() or path.stat().st_size == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("w", encoding="utf-8") as handle:
                handle.write(json.dumps({"settings": settings}) + "\n")
            return
        lines = path.read_text(encoding="utf-8").splitlines()
        stored = json.loads(lines[0]).get("settings")
        if stored != settings:
            raise SettingsMismatchError(
                f"made with {stored}, not {settings}; use another work directory", path=path
            )
        for line in lines[1:]:
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut short by an interruption: run it again
                continue
            self.done[(row["system"], row["result"]["task"])] = TaskResult(**row["result"])

    def get(self, system: str, task: str) -> TaskResult | None:
        return self.done.get((system, task))

    def append(self, system: str, result: TaskResult) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"system": system, "result": result.model_dump()}) + "\n")
        self.done[(system, result.task)] = result
