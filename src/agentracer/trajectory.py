"""The canonical data model: one multi-agent run, its gold label, and a tracer's verdict.

Every loader produces a `Trajectory`; every tracer consumes one and returns a `Verdict`; the
evaluation harness compares a verdict with the trajectory's `Label`. All four are plain
pydantic models whose JSON round trip is lossless.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agentracer.naming import normalise_agent


class StepKind(StrEnum):
    """Who acted at a step. Only `agent` steps can be blamed for a failure."""

    AGENT = "agent"
    USER = "user"
    TOOL = "tool"
    HARNESS = "harness"  # the program around the agents (e.g. a model call outside every agent)


class Outcome(StrEnum):
    FAILURE = "failure"
    SUCCESS = "success"
    UNKNOWN = "unknown"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ToolCall(_Model):
    """A tool call an agent made at a step, in the OpenAI chat-completions shape."""

    id: str | None = None
    name: str
    arguments: str = ""


class Step(_Model):
    """One turn of the run: exactly one actor produced `content` at position `index`."""

    index: int = Field(ge=0, description="0-based position in the run")
    agent: str = Field(description="who acted: an agent name, a tool name, or the user")
    speaker: str = Field(description="the speaker string exactly as the source recorded it")
    kind: StepKind = StepKind.AGENT
    content: str = ""
    role: str | None = Field(
        default=None, description="chat role recorded beside the speaker, if the source has one"
    )
    tool_calls: list[ToolCall] = Field(default_factory=list)
    source_id: str | None = Field(
        default=None,
        description="the source's own id for this step (span id, message id, run id), so a "
        "verdict can point back into the user's tool",
    )


class Provenance(_Model):
    """How a label was made: by hand, by counterfactual replay, by fault injection, ..."""

    method: str = "unknown"
    source: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class AnnotatedFailure(_Model):
    """One failure an annotator marked in the run; a run may hold several (AgentRx does)."""

    agent: str
    step: int = Field(ge=0)
    category: str | None = None
    reason: str = ""


class Label(_Model):
    """The decisive error: the agent that acted at the earliest step whose fix flips the outcome.

    `agent` and `step` are always the decisive one (what top-1 is scored on); `failures` holds
    every failure the annotators marked, the decisive one included, when the source has more
    than one (scored as "hit any annotated failure").
    """

    agent: str
    step: int = Field(ge=0)
    reason: str = ""
    provenance: Provenance = Field(default_factory=Provenance)
    failures: list[AnnotatedFailure] = Field(
        default_factory=list,
        description="every annotated failure (decisive one included); empty when only one",
    )

    def failure_steps(self) -> list[int]:
        """Steps of every annotated failure, the decisive one included, in order."""
        return sorted({self.step, *(failure.step for failure in self.failures)})


class Source(_Model):
    """Where a trajectory was read from; `raw` is the original record, kept verbatim."""

    format: str
    subset: str | None = None
    path: str | None = None
    record: str | None = Field(
        default=None, description="record key inside `path` (file stem, row)"
    )
    raw: dict[str, Any] | None = None


class Trajectory(_Model):
    """A multi-agent run: the task, the ordered steps, the outcome and (optionally) the gold label."""

    id: str
    question: str = ""
    ground_truth: str | None = None
    context: str = Field(
        default="",
        description="what the agents were told before the run (a system prompt, a policy): "
        "shown and given to tracers, never a step that can be blamed",
    )
    steps: list[Step]
    agents: list[str] = Field(
        default_factory=list, description="blamable agents, in order of first appearance"
    )
    outcome: Outcome = Outcome.FAILURE
    label: Label | None = None
    flags: list[str] = Field(
        default_factory=list, description="known problems with this record, e.g. its label"
    )
    notes: list[str] = Field(
        default_factory=list,
        description="what the reader had to infer or skip, e.g. how an agent name was found",
    )
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: Source | None = None

    @model_validator(mode="after")
    def _check_consistency(self) -> Trajectory:
        if not self.steps:
            raise ValueError("the trajectory has zero steps")
        for position, step in enumerate(self.steps):
            if step.index != position:
                raise ValueError(
                    f"step indices must be 0, 1, 2, ...: position {position} has index {step.index}"
                )
        if self.label is not None:
            for labelled in self.label.failure_steps():
                if labelled >= len(self.steps):
                    raise ValueError(
                        f"the labelled step {labelled} is outside the history "
                        f"(steps 0..{len(self.steps) - 1})"
                    )
        return self

    def agent_steps(self) -> list[Step]:
        """Steps taken by blamable agents (not the user, not tools)."""
        return [step for step in self.steps if step.kind is StepKind.AGENT]

    def match_agent(self, name: str | None) -> str | None:
        """The trajectory's own spelling of `name` among its agents, or None when it names none."""
        key = normalise_agent(name)
        return next((agent for agent in self.agents if normalise_agent(agent) == key), None)


ParseStatus = Literal["parsed", "partial", "unparsed", "direct"]
"""`parsed`: agent and step read from model output; `partial`: only one of them; `unparsed`:
neither (scored wrong); `direct`: the tracer computed the verdict without parsing text."""


class Usage(_Model):
    """Cost of producing a verdict."""

    calls: int = 0
    cached_calls: int = Field(default=0, description="calls answered from the response cache")
    prompt_tokens: int = 0
    cached_prompt_tokens: int = Field(
        default=0,
        description="of the prompt tokens, those the server read from its prompt cache, where it "
        "says so (0 when it does not)",
    )
    completion_tokens: int = 0
    seconds: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            calls=self.calls + other.calls,
            cached_calls=self.cached_calls + other.cached_calls,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            cached_prompt_tokens=self.cached_prompt_tokens + other.cached_prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=self.seconds + other.seconds,
        )


class Evidence(_Model):
    """A short quote from the log that supports a verdict, with the step it comes from."""

    step: int = Field(ge=0)
    quote: str
    role: Literal["blamed", "failure", "other"] = Field(
        default="other",
        description="`blamed`: from the blamed step; `failure`: from where the failure shows",
    )


class Verdict(_Model):
    """A tracer's answer for one failed run: which agent, at which 0-based step, and why.

    The structured fields (`confidence`, `evidence`, `suggested_fix`, `category`) default to
    empty, so verdicts written before they existed still load.
    """

    agent: str | None = None
    step: int | None = Field(default=None, ge=0)
    reason: str = ""
    confidence: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="the tracer's estimate that the blamed step is the decisive one; what it "
        "means differs per tracer (see docs/verdicts.md); None: the tracer gives none",
    )
    evidence: list[Evidence] = Field(default_factory=list)
    suggested_fix: str = ""
    category: str | None = Field(
        default=None,
        description="a failure mode of the MAST taxonomy (Cemri et al. 2025), e.g. `FM-2.6`",
    )
    candidates: list[int] = Field(
        default_factory=list, description="other suspect steps, most likely first"
    )
    tracer: str = ""
    raw_output: str | None = None
    parse_status: ParseStatus = "direct"
    usage: Usage = Field(default_factory=Usage)
    notes: list[str] = Field(
        default_factory=list, description="what the tracer had to do, e.g. truncate the log"
    )

    def __str__(self) -> str:
        """One line a person reads: who, where, how sure, and why."""
        if self.agent is None or self.step is None:
            return f"no verdict ({self.parse_status}): {self.reason}".rstrip(": ")
        sure = "" if self.confidence is None else f" (confidence {self.confidence:.2f})"
        return f"{self.agent} at step {self.step}{sure}: {self.reason}".rstrip(": ")
