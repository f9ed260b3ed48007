"""Prompt builders for the LLM tracers.

The methods follow the published ones (Who&When's all-at-once, step-by-step and binary search;
AgenTracer's think/answer contract); the wording is ours. Every builder takes the step contents
already fitted to the context window (see `agentracer.llm.context`), so step numbers never move.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentracer.trajectory import Trajectory

SYSTEM = (
    "You are an expert in failure attribution for LLM multi-agent systems: given the log of a "
    "failed run, you find which agent made the decisive mistake, and at which step."
)
STEP_COUNTING = (
    "Steps are counted from 0 in the order the entries appear. For example, in a log whose "
    "entries come from agent a, agent b, agent c and agent a again, a mistake in agent c's "
    "entry is at step 2, and a mistake in agent a's second entry is at step 3."
)


def task_block(trajectory: Trajectory, with_ground_truth: bool) -> str:
    """The task, and the correct answer when the setting allows it."""
    lines = [
        f"The task the system had to solve:\n{trajectory.question.strip() or '(not recorded)'}"
    ]
    if with_ground_truth and trajectory.ground_truth:
        lines.append(f"The correct answer to the task: {trajectory.ground_truth.strip()}")
    return "\n\n".join(lines)


def render_log(
    trajectory: Trajectory, contents: Sequence[str], indices: Sequence[int], *, numbered: bool
) -> str:
    """Steps `indices` as `Step i - speaker: content` (or `speaker: content` when not numbered)."""
    lines = []
    for i in indices:
        speaker = trajectory.steps[i].speaker
        lines.append(
            f"Step {i} - {speaker}: {contents[i]}" if numbered else f"{speaker}: {contents[i]}"
        )
    return "\n".join(lines)


def _messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _agents(trajectory: Trajectory) -> str:
    return ", ".join(trajectory.agents) or "(none recorded)"


def all_at_once(
    trajectory: Trajectory, contents: Sequence[str], *, with_ground_truth: bool, numbered: bool
) -> list[dict[str, str]]:
    """One question over the whole log: which agent, which step, and why."""
    log = render_log(trajectory, contents, range(len(contents)), numbered=numbered)
    user = "\n\n".join(
        [
            task_block(trajectory, with_ground_truth),
            "The system failed. Here is its log, one entry per step:",
            log,
            "Name the agent whose mistake is directly responsible for the failure, and the step at "
            "which that agent first made it. If no mistake is obvious, still decide on one single "
            f"agent and step. The agents are: {_agents(trajectory)}.",
            STEP_COUNTING,
            "Answer in exactly this format:\nAgent Name: <one of the agents>\n"
            "Step Number: <the step number>\nReason for Mistake: <one or two sentences>",
        ]
    )
    return _messages(user)


def step_by_step(
    trajectory: Trajectory, contents: Sequence[str], step: int, *, with_ground_truth: bool
) -> list[dict[str, str]]:
    """Is the newest step of the prefix 0..step the decisive error?"""
    log = render_log(trajectory, contents, range(step + 1), numbered=True)
    speaker = trajectory.steps[step].speaker
    user = "\n\n".join(
        [
            task_block(trajectory, with_ground_truth),
            "The system failed. Here is its log up to the step under review:",
            log,
            f"Look only at the most recent entry, step {step} by {speaker}. Does it contain a "
            "mistake that derails the task and is responsible for the failure?",
            "Answer in exactly this format:\n1. Yes or No\n2. Reason: <one sentence>",
        ]
    )
    return _messages(user)


def binary_search(
    trajectory: Trajectory,
    contents: Sequence[str],
    first: tuple[int, int],
    second: tuple[int, int],
    *,
    with_ground_truth: bool,
) -> list[dict[str, str]]:
    """Is the decisive error in the first or the second half of the range under review?"""
    log = render_log(trajectory, contents, range(first[0], second[1] + 1), numbered=True)
    user = "\n\n".join(
        [
            task_block(trajectory, with_ground_truth),
            f"The system failed. Here are steps {first[0]} to {second[1]} of its log, where the "
            "decisive mistake lies:",
            log,
            f"Is the decisive mistake in the first half (steps {first[0]} to {first[1]}) or in the "
            f"second half (steps {second[0]} to {second[1]})?",
            "Answer in exactly this format:\nHalf: first or second\nReason: <one sentence>",
        ]
    )
    return _messages(user)


def agentracer(
    trajectory: Trajectory, contents: Sequence[str], *, with_ground_truth: bool
) -> list[dict[str, str]]:
    """The AgenTracer contract: reasoning in <think>, then `<answer>agent | step</answer>`."""
    log = render_log(trajectory, contents, range(len(contents)), numbered=True)
    user = "\n\n".join(
        [
            task_block(trajectory, with_ground_truth),
            "The system failed. Here is its log, one numbered entry per step:",
            log,
            "Find the decisive error: the earliest step whose correction would turn this failure "
            f"into success, and the agent that acted at that step. The agents are: {_agents(trajectory)}.",
            "First reason step by step inside <think></think>. Then give your answer as "
            "<answer>agent | step</answer>, with the agent's name and the step number, and write "
            "nothing after it.",
        ]
    )
    return _messages(user)


def hybrid(
    trajectory: Trajectory,
    contents: Sequence[str],
    shortlist: Sequence[int],
    *,
    with_ground_truth: bool,
    only_shortlist: bool,
) -> list[dict[str, str]]:
    """All-at-once over a log whose shortlisted steps are marked (or, with `only_shortlist`,
    over the shortlisted steps alone); the model picks one of them."""
    marked = set(shortlist)
    indices = sorted(marked) if only_shortlist else range(len(contents))
    lines = []
    for i in indices:
        mark = ">> " if i in marked and not only_shortlist else ""
        lines.append(f"{mark}Step {i} - {trajectory.steps[i].speaker}: {contents[i]}")
    where = (
        "Here are the steps of its log that a screening model found most suspicious:"
        if only_shortlist
        else "Here is its log, one numbered entry per step; the steps a screening model found "
        "most suspicious are marked with >>:"
    )
    choices = ", ".join(f"step {i} ({trajectory.steps[i].agent})" for i in sorted(marked))
    user = "\n\n".join(
        [
            task_block(trajectory, with_ground_truth),
            f"The system failed. {where}",
            "\n".join(lines),
            f"The decisive mistake is at one of these steps: {choices}. Name the agent whose "
            "mistake is directly responsible for the failure and the step at which it made it.",
            "Answer in exactly this format:\nAgent Name: <one of the agents>\n"
            "Step Number: <the step number>\nReason for Mistake: <one or two sentences>",
        ]
    )
    return _messages(user)
