from __future__ import annotations

import re

from pydantic import BaseModel, Field

from agentracer.serve.pages import lane_of, lanes_of, render_trace, trace_page
from agentracer.trajectory import Label, Step, Trajectory, Verdict


class Quote(BaseModel):
    step: int
    quote: str
    role: str = "other"


class RichVerdict(Verdict):
    """The verdict fields another change adds (confidence, evidence, fix, category): the page
    shows them when present and works without them."""

    confidence: float | None = None
    evidence: list[Quote] = Field(default_factory=list)
    suggested_fix: str | None = None
    category: str | None = None


def run() -> Trajectory:
    return Trajectory(
        id="run",
        steps=[Step(index=i, agent=a, speaker=a, content=f"{a} says {i}") for i, a in
               enumerate(["Planner", "Solver", "Verifier", "Solver"])],
        agents=["Planner", "Solver", "Verifier"],
        label=Label(agent="Solver", step=1),
    )  # fmt: skip


def test_rich_verdict_fields_are_rendered_when_present() -> None:
    verdict = RichVerdict(
        agent="Solver", step=1, reason="wrong sum", candidates=[3], tracer="agentracer",
        confidence=0.82, evidence=[Quote(step=1, quote="Solver says <1>"), Quote(step=3, quote="3", role="failure")],
        suggested_fix="add 10 minutes", category="calculation error",
    )  # fmt: skip
    html = render_trace(trace_page(run(), [verdict]))
    assert "82%" in html and "calculation error" in html and "add 10 minutes" in html
    assert 'href="#step-1" class="goto" data-step="1">step 1</a>: “Solver says &lt;1&gt;”' in html
    assert 'step 3</a> <span class="muted">(where the failure shows)</span>: “3”' in html
    assert "the tracer agrees" in html


def test_plain_verdicts_and_no_verdict() -> None:
    html = render_trace(trace_page(run(), [Verdict(agent="Verifier", step=2, tracer="x")]))
    assert "confidence" not in html and "the tracer differs" in html
    assert re.search(r'class="step blamed\s*" id="step-2"', html)
    assert re.search(r'class="step gold\s*" id="step-1"', html)
    html = render_trace(trace_page(run(), []))
    assert (
        "<b>gold label:</b> Solver at step 1" in html and '<details class="step blamed' not in html
    )


def test_harness_calls_have_a_lane_of_their_own() -> None:
    """A model call outside every agent (a harness's answer extraction) is neither an agent nor
    the user: it is drawn in a `harness` lane."""
    run = Trajectory.model_validate({
        "id": "h", "question": "q",
        "steps": [
            {"index": 0, "agent": "manager", "speaker": "manager", "content": "plan"},
            {"index": 1, "agent": "harness", "speaker": "harness", "kind": "harness", "content": "extract the answer"},
            {"index": 2, "agent": "user", "speaker": "user", "kind": "user", "content": "thanks"},
        ],
    })  # fmt: skip
    assert [lane_of(step) for step in run.steps] == ["manager", "harness", "user"]
    assert lanes_of(run) == ["manager", "harness", "user"]
