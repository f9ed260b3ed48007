"""Failure categories from MAST, the Multi-Agent System failure Taxonomy.

Source: Cemri, Pan, Yang, et al., "Why Do Multi-Agent LLM Systems Fail?" (arXiv 2503.13657,
2025). MAST sorts 14 failure modes into three groups: specification issues (FC1), inter-agent
misalignment (FC2) and task verification (FC3). A verdict's `category` is one of the codes below.

`categorise` assigns a mode from cues in the blamed step and its surroundings (repetition, a
declared final answer, verification language, hedged assumptions, errors after the step). It is
a transparent keyword heuristic, not a classifier trained on MAST's annotations: read the
category as a first guess that the evidence quotes let a person check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from agentracer.trajectory import Step, StepKind, Trajectory

TAXONOMY = "MAST (Cemri et al., 2025, arXiv 2503.13657)"


@dataclass(frozen=True)
class FailureMode:
    code: str
    name: str
    group: str
    fix: str  # a suggested fix, written for the agent at the blamed step


_GROUPS = {
    "FC1": "specification issues",
    "FC2": "inter-agent misalignment",
    "FC3": "task verification",
}

MODES: dict[str, FailureMode] = {
    mode.code: mode
    for mode in [
        FailureMode(
            "FM-1.1",
            "disobey task specification",
            "FC1",
            "restate the task's requirements in this agent's prompt and have it check its output "
            "against them before handing off",
        ),
        FailureMode(
            "FM-1.2",
            "disobey role specification",
            "FC1",
            "narrow this agent's role in its system prompt so it does not do another agent's job",
        ),
        FailureMode(
            "FM-1.3",
            "step repetition",
            "FC1",
            "detect a repeated action and make the agent change approach instead of repeating it",
        ),
        FailureMode(
            "FM-1.4",
            "loss of conversation history",
            "FC1",
            "pass the relevant earlier results to this agent explicitly",
        ),
        FailureMode(
            "FM-1.5",
            "unaware of termination conditions",
            "FC1",
            "state when the task is finished and make the agent stop or continue accordingly",
        ),
        FailureMode(
            "FM-2.1",
            "conversation reset",
            "FC2",
            "keep the conversation's state when the agent restarts a sub-task",
        ),
        FailureMode(
            "FM-2.2",
            "fail to ask for clarification",
            "FC2",
            "make the agent ask (or look up) instead of assuming when information is missing",
        ),
        FailureMode(
            "FM-2.3",
            "task derailment",
            "FC2",
            "keep the agent on the task: give it the question and the current sub-goal each turn",
        ),
        FailureMode(
            "FM-2.4",
            "information withholding",
            "FC2",
            "make the agent pass on every fact the next agent needs",
        ),
        FailureMode(
            "FM-2.5",
            "ignored other agent's input",
            "FC2",
            "make the agent address the previous agent's findings before acting",
        ),
        FailureMode(
            "FM-2.6",
            "reasoning-action mismatch",
            "FC2",
            "check that the agent's action (code, tool call, answer) follows from its own reasoning",
        ),
        FailureMode(
            "FM-3.1",
            "premature termination",
            "FC3",
            "do not let the agent declare a final answer before the result has been checked",
        ),
        FailureMode(
            "FM-3.2",
            "no or incomplete verification",
            "FC3",
            "add a verification step that checks this result (run the code, re-derive the number)",
        ),
        FailureMode(
            "FM-3.3",
            "incorrect verification",
            "FC3",
            "make the verifier check against an independent source or computation, not restate "
            "the claim",
        ),
    ]
}

ERROR_WORDS = re.compile(
    r"\b(error|exception|traceback|failed|failure|exitcode: [1-9]|not found|invalid|timed? ?out"
    r"|cannot|can't|unable)\b",
    re.I,
)
HEDGE_WORDS = re.compile(
    r"\b(assum\w*|probably|likely|maybe|perhaps|might|seems?|appears?|guess\w*|estimate\w*"
    r"|approximately|hypothetical\w*|placeholder|for example|e\.g\.)\b",
    re.I,
)
FINAL_WORDS = re.compile(r"\b(final answer|terminate|the answer is|task is complete)\b", re.I)
VERIFY_WORDS = re.compile(
    r"\b(verif\w*|confirm\w*|checks? out|is correct|are correct|validated?)\b", re.I
)


@lru_cache(maxsize=8192)
def has_error(text: str) -> bool:
    """Whether `text` reports an error (cached: every verdict scans the steps after it)."""
    return ERROR_WORDS.search(text) is not None


@lru_cache(maxsize=8192)
def declares_final(text: str) -> bool:
    return FINAL_WORDS.search(text) is not None


def group_name(mode: FailureMode) -> str:
    return _GROUPS[mode.group]


@lru_cache(maxsize=4096)
def _words(text: str) -> frozenset[str]:
    # cached: the baselines structure a verdict per run, and runs share their long steps
    return frozenset(re.findall(r"[a-z0-9]+", text.lower()))


def similarity(a: str, b: str) -> float:
    """Jaccard overlap of the word sets of `a` and `b` (0 when either is empty)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def repeats_earlier(trajectory: Trajectory, step: Step, threshold: float = 0.8) -> bool:
    """Whether the same agent said nearly the same thing at an earlier step."""
    return any(
        other.agent == step.agent and similarity(other.content, step.content) >= threshold
        for other in trajectory.steps[: step.index]
        if other.content.strip()
    )


def errors_after(trajectory: Trajectory, step: Step, window: int = 2) -> Step | None:
    """The first tool or user step within `window` steps after `step` that reports an error."""
    for other in trajectory.steps[step.index + 1 : step.index + 1 + window]:
        if other.kind is not StepKind.AGENT and has_error(other.content):
            return other
    return None


def categorise(trajectory: Trajectory, step_index: int) -> str:
    """The MAST code that the cues at `step_index` suggest (see the module docstring).

    The first cue that applies wins, in this order: repetition (FM-1.3), verification language
    (FM-3.3), a declared final answer (FM-3.1), a tool error right after the step (FM-2.6),
    hedged assumptions (FM-2.2), a step that shares almost nothing with the task (FM-2.3);
    otherwise the output did not meet the task (FM-1.1).
    """
    step = trajectory.steps[step_index]
    text = step.content
    if repeats_earlier(trajectory, step):
        return "FM-1.3"
    if VERIFY_WORDS.search(text):
        return "FM-3.3"
    if FINAL_WORDS.search(text):
        return "FM-3.1"
    if errors_after(trajectory, step) is not None:
        return "FM-2.6"
    if HEDGE_WORDS.search(text):
        return "FM-2.2"
    off_topic = trajectory.question and similarity(text, trajectory.question) < 0.02
    if off_topic and len(_words(text)) > 20:
        return "FM-2.3"
    return "FM-1.1"


def suggested_fix(category: str, step: Step) -> str:
    """A one-sentence fix for the agent at `step`, from its failure mode."""
    mode = MODES[category]
    return f"At step {step.index}, {step.agent}: {mode.fix} ({mode.code}, {mode.name})."
