"""Prompt builders for the LLM tracers.

The methods follow the published ones (Who&When's all-at-once, step-by-step and binary search;
AgenTracer's think/answer contract); the wording is ours. Every builder takes the step contents
already fitted to the context window (see `agentracer.llm.context`), so step numbers never move.

Layout: every prompt is `shared_prefix` (the run's context, the task, the whole log) followed
by the question of this call (the method's instructions, the range or the step asked about, the
answer format). The prefix is byte-identical across the calls of one verdict (binary search's
ranges), across tracers on the same run and across an `eval` of several tracers; step-by-step
shows the log up to the step under review, the first bytes of the same prefix. So a server that
caches prompt prefixes (llama.cpp, vLLM, SGLang, the hosted APIs) reads the log once; only the
question at the end is new.
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
# The separator between the shared prefix and the question of one call.
SEPARATOR = "\n\n"


def context_block(trajectory: Trajectory) -> str | None:
    """What the agents were told before the run (a system prompt, a policy), when recorded: the
    tracer needs it to judge a step, but it is not a step and cannot be blamed."""
    context = trajectory.context.strip()
    if not context:
        return None
    return f"Before the run, the agents were told (this is not a step of the log):\n{context}"


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


def _agents(trajectory: Trajectory) -> str:
    return ", ".join(trajectory.agents) or "(none recorded)"


def shared_prefix(
    trajectory: Trajectory,
    contents: Sequence[str],
    *,
    with_ground_truth: bool,
    numbered: bool = True,
    upto: int | None = None,
) -> str:
    """Everything before the question: the run's context, the task and the whole log. It
    depends only on the run, the setting and the rendering (`numbered`), never on the call or
    the tracer, so it is the same bytes in every call that shares them. (The few instructions
    after the log stay each method's own, worded as before, so no method's prompt moved.)

    With `upto`, the log stops at that step: the text is then the first bytes of the whole
    prefix, so it too is read from a cache that holds the whole one."""
    end = len(contents) if upto is None else upto + 1
    where = "one numbered entry per step" if numbered else "one entry per step"
    blocks = [
        context_block(trajectory),
        task_block(trajectory, with_ground_truth),
        f"The system failed. Here is its log, {where}:",
        render_log(trajectory, contents, range(end), numbered=numbered),
    ]
    return "\n\n".join(block for block in blocks if block is not None)


def _messages(prefix: str, question: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": prefix + SEPARATOR + question},
    ]


FIELDS_FORMAT = (
    "Answer in exactly this format:\nAgent Name: <one of the agents>\n"
    "Step Number: <the step number>\nReason for Mistake: <one or two sentences>"
)


def all_at_once(
    trajectory: Trajectory, contents: Sequence[str], *, with_ground_truth: bool, numbered: bool
) -> list[dict[str, str]]:
    """One question over the whole log: which agent, which step, and why."""
    question = "\n\n".join(
        [
            "Name the agent whose mistake is directly responsible for the failure, and the step at "
            "which that agent first made it. If no mistake is obvious, still decide on one single "
            f"agent and step. The agents are: {_agents(trajectory)}.",
            STEP_COUNTING,
            FIELDS_FORMAT,
        ]
    )
    prefix = shared_prefix(
        trajectory, contents, with_ground_truth=with_ground_truth, numbered=numbered
    )
    return _messages(prefix, question)


def step_by_step(
    trajectory: Trajectory, contents: Sequence[str], step: int, *, with_ground_truth: bool
) -> list[dict[str, str]]:
    """Is the newest step of the log 0..step the decisive error? As in Who&When, the judge sees
    the log only up to the step under review; that log is the first bytes of the shared prefix
    (`upto`), and of the next step's prompt, so a prefix-caching server reads each step once."""
    speaker = trajectory.steps[step].speaker
    question = "\n\n".join(
        [
            f"The log above ends at the step under review. Look only at the most recent entry, "
            f"step {step} by {speaker}. Does it contain a mistake that derails the task and is "
            "responsible for the failure?",
            "Answer in exactly this format:\n1. Yes or No\n2. Reason: <one sentence>",
        ]
    )
    prefix = shared_prefix(trajectory, contents, with_ground_truth=with_ground_truth, upto=step)
    return _messages(prefix, question)


def binary_search(
    trajectory: Trajectory,
    contents: Sequence[str],
    first: tuple[int, int],
    second: tuple[int, int],
    *,
    with_ground_truth: bool,
) -> list[dict[str, str]]:
    """Is the decisive error in the first or the second half of the range under review? The
    whole log is the shared prefix; only the range asked about changes between calls."""
    question = "\n\n".join(
        [
            f"The decisive mistake lies between step {first[0]} and step {second[1]}. Is it in the "
            f"first half (steps {first[0]} to {first[1]}) or in the second half (steps "
            f"{second[0]} to {second[1]})?",
            "Answer in exactly this format:\nHalf: first or second\nReason: <one sentence>",
        ]
    )
    return _messages(
        shared_prefix(trajectory, contents, with_ground_truth=with_ground_truth), question
    )


def agentracer(
    trajectory: Trajectory, contents: Sequence[str], *, with_ground_truth: bool
) -> list[dict[str, str]]:
    """The AgenTracer contract: reasoning in <think>, then `<answer>agent | step</answer>`."""
    question = "\n\n".join(
        [
            "Find the decisive error: the earliest step whose correction would turn this failure "
            f"into success, and the agent that acted at that step. The agents are: {_agents(trajectory)}.",
            "First reason step by step inside <think></think>. Then give your answer as "
            "<answer>agent | step</answer>, with the agent's name and the step number, and write "
            "nothing after it.",
        ]
    )
    return _messages(
        shared_prefix(trajectory, contents, with_ground_truth=with_ground_truth), question
    )


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
    blocks = [
        context_block(trajectory),
        task_block(trajectory, with_ground_truth),
        f"The system failed. {where}",
    ]
    user = "\n\n".join(
        [
            *(block for block in blocks if block is not None),
            "\n".join(lines),
            f"The decisive mistake is at one of these steps: {choices}. Name the agent whose "
            "mistake is directly responsible for the failure and the step at which it made it.",
            FIELDS_FORMAT,
        ]
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
