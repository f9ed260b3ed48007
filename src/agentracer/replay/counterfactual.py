"""Counterfactual replay: the decisive error of a failed run is the earliest step whose
minimal fix turns the failure into success, proven by replaying the run with that fix.

An analyzer (any model) proposes the fix for one step, seeing the log, the check's feedback and,
when known, the correct answer. Strategies:

- `linear`: try the agent steps in order t = 0, 1, ... (the paper's procedure);
- `ranked`: the analyzer first ranks the steps most likely to hold the error; only the top
  `budget` are tried, in ascending step order, so the earliest flip among them is found with
  fewer replays.

Each candidate fix is replayed `k` times and needs a majority of successes (multi-agent systems
are stochastic); the replays stop as soon as the majority is decided.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, Field

from agentracer.formats import recording as rec
from agentracer.formats.recorded_run import call_index, to_trajectory
from agentracer.llm import ChatModel, ChatRequest, usage_of
from agentracer.replay.majority import majority_replay
from agentracer.replay.upstream import Upstream
from agentracer.replay.workspace import PrivateCwd
from agentracer.tracers.prompts import render_log, task_block
from agentracer.trajectory import Trajectory, Usage

Strategy = Literal["linear", "ranked"]


class Analyzer(Protocol):
    @property
    def name(self) -> str: ...

    async def propose_fix(self, trajectory: Trajectory, step: int, feedback: str) -> str:
        """A minimal corrected output for agent step `step`."""
        ...

    async def rank_steps(self, trajectory: Trajectory, feedback: str) -> list[int]:
        """Agent steps, most likely to hold the decisive error first."""
        ...


class Attempt(BaseModel):
    step: int
    call: int
    fix: str
    outcomes: list[str] = Field(description="outcome status of each replay")
    flipped: bool


class SearchResult(BaseModel):
    """What the search found and what it cost."""

    strategy: Strategy
    analyzer: str
    step: int | None = None
    agent: str | None = None
    call: int | None = None
    fix: str | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    replays: int = 0
    agreement: float | None = Field(
        default=None, description="share of the label's replays that succeeded"
    )
    analyzer_usage: Usage = Field(default_factory=Usage)
    replay_live_calls: int = 0


def feedback_of(directory: Path, recording: rec.Recording) -> str:
    """What the environment said about the failure: the check's output and the outcome."""
    check = directory / rec.CHECK_FILE
    text = check.read_text(encoding="utf-8", errors="replace").strip() if check.is_file() else ""
    parts = [f"outcome: {recording.outcome.status}", recording.outcome.message, text]
    return "\n".join(p for p in parts if p)[:2000]


@dataclass
class ModelAnalyzer:
    """An analyzer backed by any chat model of the LLM layer."""

    model: ChatModel
    with_ground_truth: bool = True
    max_tokens: int = 400
    usage: Usage = field(default_factory=Usage)

    @property
    def name(self) -> str:
        return self.model.name

    def _context(self, trajectory: Trajectory, feedback: str) -> str:
        contents = [s.content for s in trajectory.steps]
        log = render_log(trajectory, contents, range(len(contents)), numbered=True)
        return "\n\n".join(
            [
                task_block(trajectory, self.with_ground_truth),
                f"A multi-agent system failed this task. Its log:\n{log}",
                f"What the environment reported:\n{feedback}",
            ]
        )

    async def _ask(self, prompt: str) -> str:
        messages = [{"role": "user", "content": prompt}]
        response = await self.model.chat(ChatRequest(messages=messages, max_tokens=self.max_tokens))
        self.usage = self.usage + usage_of(response)
        return response.text.strip()

    async def propose_fix(self, trajectory: Trajectory, step: int, feedback: str) -> str:
        agent = trajectory.steps[step].speaker
        prompt = "\n\n".join(
            [
                self._context(trajectory, feedback),
                f"Suppose the mistake is in step {step}, by {agent}. Rewrite that step's output with "
                "the smallest correction that lets the team succeed. Fix only what this agent got "
                "wrong; do not do the other agents' work. Reply with the corrected output only.",
            ]
        )
        return await self._ask(prompt) or trajectory.steps[step].content

    async def rank_steps(self, trajectory: Trajectory, feedback: str) -> list[int]:
        agent_steps = [s.index for s in trajectory.agent_steps()]
        prompt = "\n\n".join(
            [
                self._context(trajectory, feedback),
                "Which steps most likely hold the decisive mistake? Reply with step numbers, most "
                f"likely first, as: Steps: 3, 1, 4. Choose among {', '.join(map(str, agent_steps))}.",
            ]
        )
        answer = await self._ask(prompt)
        ranked = [int(n) for n in re.findall(r"\d+", answer) if int(n) in agent_steps]
        return list(dict.fromkeys(ranked))


def default_budget(trajectory: Trajectory) -> int:
    """How many ranked candidates to verify: ceil(log2 T) + 2 for T agent steps."""
    return math.ceil(math.log2(max(2, len(trajectory.agent_steps())))) + 2


async def find_decisive_step(
    recording_dir: Path,
    analyzer: Analyzer,
    upstream: Upstream,
    work_dir: Path,
    *,
    strategy: Strategy = "linear",
    k: int = 1,
    budget: int | None = None,
) -> SearchResult:
    """Search a failed recording for its decisive error; replays go under `work_dir`."""
    source = rec.load(recording_dir)
    trajectory = to_trajectory(source, path=recording_dir)
    feedback = feedback_of(recording_dir, source)
    result = SearchResult(strategy=strategy, analyzer=analyzer.name)
    agent_steps = [s.index for s in trajectory.agent_steps()]
    if strategy == "ranked":
        before = _usage(analyzer)
        ranked = await analyzer.rank_steps(trajectory, feedback)
        result.analyzer_usage = spent(before, _usage(analyzer))
        top = ranked[: budget or default_budget(trajectory)]
        candidates = sorted(top)
    else:
        candidates = agent_steps
    for step in candidates:
        tried = await try_candidate(
            recording_dir, trajectory, step, feedback, analyzer, upstream, work_dir, k=k
        )
        if add_attempt(result, trajectory, tried):
            break
    return result


def _usage(analyzer: Analyzer) -> Usage:
    return analyzer.usage if isinstance(analyzer, ModelAnalyzer) else Usage()


def spent(before: Usage, after: Usage) -> Usage:
    """What was used between two readings of a running total."""
    return Usage(
        **{name: getattr(after, name) - getattr(before, name) for name in Usage.model_fields}
    )


class Tried(BaseModel):
    """One candidate step tried: the attempt and what its replays cost."""

    attempt: Attempt
    replays: int
    live_calls: int
    agreement: float
    analyzer_usage: Usage = Field(default_factory=Usage, description="proposing this fix")


async def try_candidate(
    recording_dir: Path,
    trajectory: Trajectory,
    step: int,
    feedback: str,
    analyzer: Analyzer,
    upstream: Upstream,
    work_dir: Path,
    *,
    k: int = 1,
    private_cwd: PrivateCwd | None = None,
) -> Tried:
    """Ask for a fix of `step` and replay it (majority of `k`) into `work_dir/step<N>-replay-i`;
    each replay runs behind its own proxy port and writes its own directory (and, with
    `private_cwd`, runs in its own copy of the recorded working directory)."""
    before = _usage(analyzer)
    fix = await analyzer.propose_fix(trajectory, step, feedback)
    usage = spent(before, _usage(analyzer))
    call = call_index(trajectory, step)
    vote = majority_replay(
        recording_dir, call, fix, upstream, k=k,
        out_prefix=work_dir / f"step{step}-replay",
        wanted=lambda replayed: replayed.outcome.success is True, private_cwd=private_cwd,
    )  # fmt: skip
    attempt = Attempt(step=step, call=call, fix=fix, outcomes=vote.outcomes, flipped=vote.won)
    live = sum(c.origin == "live" for _, replayed in vote.replays for c in replayed.calls())
    return Tried(
        attempt=attempt, replays=len(vote.replays), live_calls=live, agreement=vote.agreement,
        analyzer_usage=usage,
    )  # fmt: skip


def add_attempt(result: SearchResult, trajectory: Trajectory, tried: Tried) -> bool:
    """Count `tried` into `result`; True (and the label set) when its fix flipped the run."""
    result.replays += tried.replays
    result.replay_live_calls += tried.live_calls
    result.analyzer_usage = result.analyzer_usage + tried.analyzer_usage
    result.attempts.append(tried.attempt)
    if not tried.attempt.flipped:
        return False
    attempt = tried.attempt
    result.step, result.call, result.fix = attempt.step, attempt.call, attempt.fix
    result.agent = trajectory.steps[attempt.step].agent
    result.agreement = tried.agreement
    return True
