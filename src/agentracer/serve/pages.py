"""The HTML pages: the trace list and the trace page, rendered from jinja2 templates.

Shared by the live UI (`agentracer serve`) and the single-file reports (`agentracer view`):
every page is self-contained (inline CSS and JavaScript, no network requests), and every
string that came from a trace is escaped by jinja2's autoescaping, so a step holding `<script>`
shows as text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from agentracer.trajectory import Step, StepKind, Trajectory, Verdict

_ENV: Environment | None = None


def environment() -> Environment:
    """The jinja2 environment (autoescape on for every template)."""
    global _ENV
    if _ENV is None:
        env = Environment(
            loader=PackageLoader("agentracer.serve", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        env.filters["when"] = _when
        _ENV = env
    return _ENV


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return ""
    moment = dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Evidence:
    step: int | None
    text: str
    role: str | None = None  # "blamed", "failure" or "other" when the tracer says


@dataclass
class VerdictView:
    """A verdict as the page shows it; fields added to `Verdict` later are read when present."""

    verdict: Verdict
    confidence: float | None
    category: str | None
    suggested_fix: str | None
    evidence: list[Evidence]

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictView:
        confidence = getattr(verdict, "confidence", None)
        return cls(
            verdict=verdict,
            confidence=None if confidence is None else float(confidence),
            category=_text_or_none(getattr(verdict, "category", None)),
            suggested_fix=_text_or_none(getattr(verdict, "suggested_fix", None)),
            evidence=[_evidence(item) for item in getattr(verdict, "evidence", None) or []],
        )


def _text_or_none(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(getattr(value, "value", value))


def _evidence(item: Any) -> Evidence:
    if isinstance(item, str):
        return Evidence(None, item)
    get = (
        item.get
        if isinstance(item, dict)
        else lambda key, default=None: getattr(item, key, default)
    )
    step = get("step", None)
    text = get("quote", None) or get("text", None) or get("content", None) or str(item)
    role = get("role", None)
    return Evidence(None if step is None else int(step), str(text), _text_or_none(role))


@dataclass
class StepView:
    step: Step
    lane: int
    classes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """Original and replayed run, side by side from the step where the replay changed it."""

    at: int
    original: list[StepView]
    replayed: list[StepView]
    original_outcome: str
    replayed_outcome: str
    substituted: str


@dataclass
class TracePage:
    """Everything the trace page shows."""

    title: str
    trajectory: Trajectory
    verdicts: list[VerdictView]
    lanes: list[str]
    steps: list[StepView]
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    comparison: Comparison | None = None

    @property
    def verdict(self) -> VerdictView | None:
        return self.verdicts[0] if self.verdicts else None


def lane_of(step: Step) -> str:
    """The swimlane a step is drawn in: its agent, or one lane each for tools, the harness (model
    calls outside every agent) and the user."""
    if step.kind is StepKind.AGENT:
        return step.agent
    if step.kind is StepKind.TOOL:
        return "tools"
    return "harness" if step.kind is StepKind.HARNESS else "user"


def lanes_of(trajectory: Trajectory) -> list[str]:
    """Swimlanes in order: the agents as they first acted, then tools and the user."""
    lanes = list(trajectory.agents)
    for step in trajectory.steps:
        if lane_of(step) not in lanes:
            lanes.append(lane_of(step))
    return lanes


def step_views(trajectory: Trajectory, verdict: Verdict | None, lanes: list[str]) -> list[StepView]:
    """Steps with the marks the page draws: blamed, candidate, gold."""
    label = trajectory.label
    views = []
    for step in trajectory.steps:
        view = StepView(step, lanes.index(lane_of(step)))
        if verdict is not None and verdict.step == step.index:
            view.classes.append("blamed")
            view.notes.append(f"blamed by {verdict.tracer or 'the tracer'}")
        elif verdict is not None and step.index in verdict.candidates:
            view.classes.append("candidate")
            view.notes.append("other candidate")
        if label is not None and label.step == step.index:
            view.classes.append("gold")
            view.notes.append("gold label")
        views.append(view)
    return views


def trace_page(
    trajectory: Trajectory,
    verdicts: list[Verdict],
    *,
    title: str | None = None,
    facts: list[tuple[str, str]] | None = None,
    problems: list[str] | None = None,
    comparison: Comparison | None = None,
) -> TracePage:
    """The page model of one trajectory and its verdicts (the first is the one highlighted)."""
    lanes = lanes_of(trajectory)
    views = [VerdictView.of(v) for v in verdicts]
    return TracePage(
        title=title or trajectory.id,
        trajectory=trajectory,
        verdicts=views,
        lanes=lanes,
        steps=step_views(trajectory, verdicts[0] if verdicts else None, lanes),
        facts=facts or [],
        problems=problems or [],
        comparison=comparison,
    )


def render_trace(page: TracePage, *, live: bool = False) -> str:
    """The trace page as HTML (`live`: with links back to the server's list)."""
    return environment().get_template("trace.html").render(page=page, live=live)


def render(template: str, **context: Any) -> str:
    """Render any template of this package."""
    return environment().get_template(template).render(**context)
