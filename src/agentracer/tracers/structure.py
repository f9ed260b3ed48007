"""Consistent, structured verdicts: one rule for answers whose agent and step disagree, the
check every tracer's verdicts must pass, and the evidence, category and fix beside them.

A verdict is *consistent* when the agent it names acted at the step it names: the step lies in
the log, was taken by a blamable agent, and that agent is the named one. Tracers that pick a
step (baselines, fast, step-by-step, binary search) are consistent by construction; embedded
models are constrained by a grammar that picks the agent first and then only its steps; answers
from endpoints, which may disagree, go through `resolve`.

**The rule** (`resolve`, agent-anchored): keep the named agent and move the step to that
agent's step nearest to the answered one (the earlier on a tie). When the named agent never
acted, keep the step when an agent took it and name that agent; when a step's agent is not
blamable, move to the nearest agent step. The raw answer stays in `raw_output` and a note says
what was changed. Agent-anchored, because published tracers name the agent far more often than
the step (e.g. GPT-4o all-at-once, 54-55% agent vs 5-13% step on Who&When), so the agent is
the part of a disagreeing answer more likely to be right.
"""

from __future__ import annotations

import re
from typing import Literal

from agentracer.naming import normalise_agent
from agentracer.tracers.taxonomy import (
    ERROR_WORDS,
    FINAL_WORDS,
    MODES,
    categorise,
    declares_final,
    errors_after,
    has_error,
    suggested_fix,
)
from agentracer.trajectory import Evidence, Step, StepKind, Trajectory, Verdict

QUOTE_CHARS = 160
Rule = Literal["agent", "step"]


def _agent_steps_of(trajectory: Trajectory, agent: str) -> list[Step]:
    key = normalise_agent(agent)
    return [s for s in trajectory.agent_steps() if normalise_agent(s.agent) == key]


def _nearest(steps: list[Step], index: int) -> Step:
    return min(steps, key=lambda s: (abs(s.index - index), s.index))


def consistency_problems(verdict: Verdict, trajectory: Trajectory) -> list[str]:
    """Why `verdict` is not consistent with `trajectory` (empty when it is).

    A verdict that names neither agent nor step claims nothing and passes; one that names only
    an agent of the run (a partial answer) makes no claim about a step and passes too. Evidence must quote
    the log verbatim at the step it names; confidence must lie in [0, 1]; the category must be
    a MAST code.
    """
    problems: list[str] = []
    n = len(trajectory.steps)
    if verdict.step is not None and not 0 <= verdict.step < n:
        problems.append(f"step {verdict.step} is outside the log (0..{n - 1})")
    elif verdict.step is not None:
        step = trajectory.steps[verdict.step]
        if step.kind is not StepKind.AGENT:
            problems.append(f"step {step.index} was taken by {step.speaker} ({step.kind.value})")
        if verdict.agent is None:
            problems.append("names a step but no agent")
        elif normalise_agent(step.agent) != normalise_agent(verdict.agent):
            problems.append(
                f"names {verdict.agent} but step {step.index} was taken by {step.agent}"
            )
    if verdict.agent is not None and trajectory.match_agent(verdict.agent) is None:
        problems.append(f"{verdict.agent} is not an agent of this run")
    for item in verdict.evidence:
        if not 0 <= item.step < n:
            problems.append(f"evidence cites step {item.step}, outside the log")
        elif item.quote not in trajectory.steps[item.step].content:
            problems.append(f"evidence for step {item.step} is not a quote of that step")
    if verdict.confidence is not None and not 0.0 <= verdict.confidence <= 1.0:
        problems.append(f"confidence {verdict.confidence} is outside [0, 1]")
    if verdict.category is not None and verdict.category not in MODES:
        problems.append(f"category {verdict.category!r} is not a MAST failure mode")
    return problems


def is_consistent(verdict: Verdict, trajectory: Trajectory) -> bool:
    return not consistency_problems(verdict, trajectory)


def resolve(verdict: Verdict, trajectory: Trajectory, rule: Rule = "agent") -> Verdict:
    """`verdict` made consistent by the documented rule (module docstring); unchanged when it
    already is or names no step. A step without a readable agent gets the agent that took
    it (read from the log, not guessed); an agent without a step is left without one.
    `rule="step"` (keep the step, name its agent) exists to measure the alternative."""
    if verdict.step is None or verdict.step >= len(trajectory.steps):
        return verdict
    answered = trajectory.steps[verdict.step]
    same = normalise_agent(answered.agent) == normalise_agent(verdict.agent)
    if answered.kind is StepKind.AGENT and same:
        return verdict
    agent_steps = trajectory.agent_steps()
    if not agent_steps:
        return verdict
    own = [] if verdict.agent is None else _agent_steps_of(trajectory, verdict.agent)
    if rule == "agent" and own:
        chosen = _nearest(own, verdict.step)
    elif answered.kind is StepKind.AGENT:
        chosen = answered
    else:
        chosen = _nearest(agent_steps, verdict.step)
    note = (
        f"answered {verdict.agent or 'no readable agent'} at step {verdict.step}, where "
        f"{answered.speaker} acted; "
        f"resolved to {chosen.agent} at step {chosen.index} ({rule}-anchored rule)"
    )
    return verdict.model_copy(
        update={"agent": chosen.agent, "step": chosen.index, "notes": [*verdict.notes, note]}
    )


def quote(text: str, pattern: re.Pattern[str] | None = None, chars: int = QUOTE_CHARS) -> str:
    """A verbatim excerpt of `text` of at most `chars` characters: the line holding the first
    match of `pattern` when there is one, else the first non-empty line."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return ""
    chosen = lines[0]
    if pattern is not None:
        chosen = next((line for line in lines if pattern.search(line)), chosen)
    chosen = chosen.strip()
    if len(chosen) <= chars:
        return chosen
    if pattern is not None and (found := pattern.search(chosen)):
        start = max(0, min(found.start() - chars // 3, len(chosen) - chars))
        return chosen[start : start + chars]
    return chosen[:chars]


_SALIENT = re.compile(r"\d|```|\b(therefore|so|answer|result|plan|should|will)\b", re.I)


def failure_step(trajectory: Trajectory, blamed: int) -> Step | None:
    """Where the failure shows after the blamed step: the first later step reporting an error,
    else the last step that declares a final answer, else the last step."""
    later = trajectory.steps[blamed + 1 :]
    for step in later:
        if has_error(step.content):
            return step
    finals = [s for s in later if declares_final(s.content)]
    if finals:
        return finals[-1]
    return later[-1] if later else None


def evidence_for(trajectory: Trajectory, blamed: int) -> list[Evidence]:
    """Quotes from the blamed step and from where the failure shows, each with its step."""
    step = trajectory.steps[blamed]
    items: list[Evidence] = []
    text = quote(step.content, _SALIENT)
    if text:
        items.append(Evidence(step=step.index, quote=text, role="blamed"))
    shown = errors_after(trajectory, step) or failure_step(trajectory, blamed)
    if shown is not None:
        pattern = ERROR_WORDS if ERROR_WORDS.search(shown.content) else FINAL_WORDS
        text = quote(shown.content, pattern)
        if text:
            items.append(Evidence(step=shown.index, quote=text, role="failure"))
    return items


def structure(verdict: Verdict, trajectory: Trajectory, *, rule: Rule = "agent") -> Verdict:
    """The finished verdict: made consistent (`resolve`), with evidence, a MAST category and a
    suggested fix filled in where the tracer left them empty."""
    verdict = resolve(verdict, trajectory, rule)
    if verdict.step is None or verdict.step >= len(trajectory.steps):
        return verdict
    step = trajectory.steps[verdict.step]
    category = verdict.category or categorise(trajectory, step.index)
    return verdict.model_copy(
        update={
            "evidence": verdict.evidence or evidence_for(trajectory, step.index),
            "category": category,
            "suggested_fix": verdict.suggested_fix or suggested_fix(category, step),
        }
    )
