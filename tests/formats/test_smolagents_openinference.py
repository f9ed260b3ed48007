"""smolagents traced by openinference-instrumentation-smolagents (issue 20 item 3), on a real
run: a manager that plans, then hands a task to its managed researcher, whose tool fails; and
an answer-extraction model call the harness makes after the run, outside every agent span
(data/smolagents/make_openinference.py wrote the committed trace).

The task comes from the top agent span's input (`{"task": ...}`), not from the planning
prompt; the harness's call is a `harness` step, shown and never blamed; steps are named after
their agent (`manager`, not `manager.run`, never `Step 1`).
"""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from agentracer.formats import load_one
from agentracer.tracers import create_tracer
from agentracer.trajectory import Outcome, StepKind, Trajectory
from tests.formats.samples import DATA

TRACE = DATA / "smolagents" / "openinference_managed.json"
TASK = (
    "What is the population of Paris?"  # make_openinference.TASK (not imported: needs smolagents)
)
PLAN = "1. Ask the researcher for the population of Paris."
EXTRACTED = "3000000"


def _kind(span: dict[str, Any]) -> str | None:
    for item in span["attributes"]:
        if item["key"] == "openinference.span.kind":
            return str(item["value"].get("stringValue"))
    return None


def _without(path: Path, drop: Any, tmp_path: Path) -> Path:
    """The committed trace without the spans `drop` picks."""
    document = json.loads(path.read_text(encoding="utf-8"))
    document = copy.deepcopy(document)
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            scope["spans"] = [s for s in scope["spans"] if not drop(s)]
    out = tmp_path / path.name
    out.write_text(json.dumps(document), encoding="utf-8")
    return out


def _check(trajectory: Trajectory) -> None:
    assert trajectory.question == TASK
    assert trajectory.steps[0].kind is StepKind.USER and trajectory.steps[0].content == TASK
    assert trajectory.agents == ["manager", "researcher"]
    assert trajectory.outcome is Outcome.FAILURE
    kinds = [(s.kind.value, s.agent) for s in trajectory.steps]
    assert kinds == [
        ("user", "user"),
        ("agent", "manager"),  # the planning step
        ("agent", "manager"),  # hands the task to the researcher
        ("agent", "researcher"),
        ("tool", "get_population"),  # fails
        ("agent", "researcher"),  # guesses "about 3 million"
        ("tool", "final_answer"),
        ("agent", "manager"),
        ("tool", "final_answer"),
        ("harness", "harness"),  # the answer extraction after the run
    ]
    assert trajectory.steps[1].content.startswith(PLAN)
    assert "census service is down" in trajectory.steps[4].content
    harness = trajectory.steps[-1]
    assert harness.content == EXTRACTED and harness.source_id
    assert any("outside every agent span" in n and "never blamed" in n for n in trajectory.notes)


def test_the_committed_run_reads_as_the_agents_ran_it() -> None:
    _check(load_one(TRACE))


def test_the_harness_call_is_never_blamed() -> None:
    trajectory = load_one(TRACE)
    verdict = asyncio.run(create_tracer("last-agent-step").attribute(trajectory))
    assert (verdict.agent, verdict.step) == ("manager", 7)


def test_without_agent_spans_steps_are_never_named_after_step_spans(tmp_path: Path) -> None:
    """The AGENT spans lost (e.g. not exported): no agent is called `Step 1`; the harness's
    call, which reaches the trace's root outside every step span, is still the harness's, and
    comes last (the orphaned steps are interleaved with the root's by time)."""
    path = _without(TRACE, lambda s: _kind(s) == "AGENT", tmp_path)
    trajectory = load_one(path)
    assert not any(a.lower().startswith("step") for a in trajectory.agents), trajectory.agents
    assert trajectory.agents == ["scripted"]  # the model: nothing else names the agent
    harness = [s for s in trajectory.steps if s.kind is StepKind.HARNESS]
    assert [s.content for s in harness] == [EXTRACTED]
    assert trajectory.steps[-1] == harness[0]  # orphaned work and the harness, in time order
    assert trajectory.steps[1].content.startswith(PLAN)  # after the (planning) prompt, step 0
    assert any("named after the model" in n for n in trajectory.notes)


def test_without_the_harness_span_its_call_is_still_the_harness(tmp_path: Path) -> None:
    """The harness's root span lost: its call hangs from the same missing span as the agents'
    run, beside it, so it is still outside every agent."""
    path = _without(TRACE, lambda s: s["name"] == "harness run", tmp_path)
    trajectory = load_one(path)
    assert trajectory.question == TASK
    assert trajectory.agents == ["manager", "researcher"]
    assert trajectory.steps[-1].kind is StepKind.HARNESS
    assert any("not in the file" in n for n in trajectory.notes)


def test_a_live_run_reads_the_same(tmp_path: Path) -> None:
    """Today's smolagents and instrumentation, run now against the loopback server."""
    pytest.importorskip("openinference.instrumentation.smolagents")
    from tests.formats.data.smolagents.make_openinference import write

    write(tmp_path / "live.json")
    _check(load_one(tmp_path / "live.json"))


def test_the_same_rule_holds_for_the_genai_conventions(tmp_path: Path) -> None:
    """A GenAI trace (invoke_agent spans) run inside a harness span that then makes its own
    chat call: that call is the harness's, and `last-agent-step` blames the Writer."""
    from tests.formats.otel_helpers import GENAI, raw_spans

    spans = [s for s in raw_spans(GENAI) if s["traceId"].startswith("e93769")]
    team = next(s for s in spans if s["name"] == "invoke_agent TripTeam")
    trace, harness_id = team["traceId"], "00000000000000aa"
    team["parentSpanId"] = harness_id
    end = max(int(s["endTimeUnixNano"]) for s in spans)
    chat = copy.deepcopy(next(s for s in spans if s["name"].startswith("chat")))
    chat.update(spanId="00000000000000ab", parentSpanId=harness_id,
                startTimeUnixNano=str(end + 1), endTimeUnixNano=str(end + 2))  # fmt: skip
    chat["attributes"] = [a for a in chat["attributes"] if "messages" not in a["key"]] + [
        {"key": "gen_ai.output.messages", "value": {"stringValue": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": EXTRACTED}]}])}},
    ]  # fmt: skip
    harness = {"traceId": trace, "spanId": harness_id, "name": "harness",
               "startTimeUnixNano": team["startTimeUnixNano"], "endTimeUnixNano": str(end + 3)}  # fmt: skip
    path = tmp_path / "genai.json"
    document = {
        "resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": [*spans, chat, harness]}]}]
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    trajectory = load_one(path)
    assert trajectory.agents == ["Planner", "Researcher", "Writer"]
    assert (trajectory.steps[-1].kind, trajectory.steps[-1].content) == (
        StepKind.HARNESS,
        EXTRACTED,
    )
    verdict = asyncio.run(create_tracer("last-agent-step").attribute(trajectory))
    assert verdict.agent == "Writer" and verdict.step == len(trajectory.steps) - 2
