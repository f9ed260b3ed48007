"""From a verdict to a critique for the blamed agent: what it got wrong at which step and what
to do instead, never the answer itself.

Without a model the critique is a template filled from the verdict (agent, step, reason; a
reason that states the task's correct answer is left out). With
a model, the model writes it from the log and the verdict; a written critique that quotes the
task's correct answer is discarded for the template (the critique must not give it away).
The generic control critique ("reflect on your answer") carries no attribution at all.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from agentracer.errors import AgenTracerError
from agentracer.llm import ChatModel, ChatRequest
from agentracer.tracers.prompts import render_log, task_block
from agentracer.trajectory import StepKind, Trajectory, Verdict

GENERIC = (
    "Reflect on your answer: re-check your reasoning and your arithmetic step by step before "
    "you reply."
)
MAX_CRITIQUE = 600


class NoBlameError(AgenTracerError):
    """The verdict names no usable agent step, so there is nobody to give feedback to."""


class Critique(BaseModel):
    """Feedback for one agent of a failed run."""

    agent: str
    step: int = Field(description="the blamed 0-based step of the trajectory")
    text: str
    source: str = Field(description="template, or the model that wrote it")
    notes: list[str] = Field(default_factory=list)


def blamed_step(trajectory: Trajectory, verdict: Verdict) -> int:
    """The verdict's step when it is an agent step; a blamed tool step (an environment report)
    goes to the agent step just before it."""
    if verdict.step is None or not 0 <= verdict.step < len(trajectory.steps):
        raise NoBlameError(
            f"the verdict names no step of the run (step {verdict.step}, "
            f"{verdict.parse_status}); try another tracer or model"
        )
    for index in range(verdict.step, -1, -1):
        if trajectory.steps[index].kind is StepKind.AGENT:
            return index
    raise NoBlameError(f"no agent acted at or before step {verdict.step}")


def template_critique(trajectory: Trajectory, verdict: Verdict) -> Critique:
    """The critique written from the verdict alone."""
    step = blamed_step(trajectory, verdict)
    agent = trajectory.steps[step].speaker
    reason = " ".join(verdict.reason.split())[:300]
    notes = []
    if gives_away(reason, trajectory.ground_truth):  # a tracer's reason may quote the answer
        reason, notes = "", ["the verdict's reason stated the answer; left out"]
    reason = reason or "it led the team to a wrong final result"
    text = (
        f"A review of an earlier attempt found that your output at step {step} was where the "
        f"team went wrong: {reason}. Do that step again carefully, checking each fact and "
        "calculation it relies on, instead of repeating the earlier output."
    )
    return Critique(agent=agent, step=step, text=text, source="template", notes=notes)


def gives_away(text: str, answer: str | None) -> bool:
    """Whether `text` states the correct answer (as a whole token)."""
    if not answer or not answer.strip():
        return False
    return re.search(rf"(?<![\w.]){re.escape(answer.strip())}(?![\w]|\.\d)", text) is not None


async def model_critique(
    trajectory: Trajectory, verdict: Verdict, model: ChatModel, *, max_tokens: int = 160
) -> Critique:
    """A critique written by `model` from the log and the verdict; falls back to the template
    when the model writes nothing or gives the answer away."""
    fallback = template_critique(trajectory, verdict)
    contents = [s.content for s in trajectory.steps]
    log = render_log(trajectory, contents, range(len(contents)), numbered=True)
    prompt = "\n\n".join(
        [
            task_block(trajectory, with_ground_truth=False),
            f"A multi-agent system failed this task. Its log:\n{log}",
            f"A tracer blamed step {fallback.step} by {fallback.agent}: {verdict.reason}",
            f"Write feedback addressed to {fallback.agent} in two or three sentences: what it "
            "got wrong at that step and how to fix it. Do not state the final answer.",
        ]
    )
    request = ChatRequest(messages=[{"role": "user", "content": prompt}], max_tokens=max_tokens)
    text = " ".join((await model.chat(request)).text.split())[:MAX_CRITIQUE]
    if not text:
        return fallback.model_copy(update={"notes": ["the model wrote nothing"]})
    if gives_away(text, trajectory.ground_truth):
        return fallback.model_copy(update={"notes": ["the model's critique gave the answer away"]})
    return Critique(agent=fallback.agent, step=fallback.step, text=text, source=model.name)
