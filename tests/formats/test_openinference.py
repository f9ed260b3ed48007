"""The OpenInference importer, on spans written by openinference-instrumentation-openai around
the real openai SDK (see data/make_otel_traces.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentracer.formats import detect_format, load_file, load_one
from agentracer.formats.openinference import unflatten
from agentracer.formats.registry import Probe
from agentracer.trajectory import Outcome, StepKind
from tests.formats.otel_helpers import GENAI, OPENINFERENCE, WRONG, raw_spans, span_holding


def test_instrumented_openai_calls_read_as_agent_steps() -> None:
    assert detect_format(Probe(OPENINFERENCE)).name == "openinference"
    trajectory = load_one(OPENINFERENCE)
    assert trajectory.agents == ["Planner", "Researcher", "Writer"]
    assert trajectory.question.startswith("What is the population")
    assert trajectory.outcome is Outcome.FAILURE
    writer = next(s for s in trajectory.steps if WRONG in s.content)
    assert writer.agent == "Writer"
    key = "llm.output_messages.0.message.content"
    assert writer.source_id == span_holding(OPENINFERENCE, key, WRONG)["spanId"]
    kinds = [s.kind for s in trajectory.steps]
    assert (
        kinds
        == [StepKind.USER, StepKind.AGENT, StepKind.AGENT, StepKind.TOOL] + [StepKind.AGENT] * 2
    )


def test_tool_calls_from_the_instrumentation_join_the_tool_span() -> None:
    trajectory = load_one(OPENINFERENCE)
    call_step = next(s for s in trajectory.steps if s.tool_calls)
    assert call_step.agent == "Researcher"
    assert call_step.tool_calls[0].id == "call_pop_1"
    assert json.loads(call_step.tool_calls[0].arguments) == {"city": "Paris"}
    tool = trajectory.steps[trajectory.metadata["tool_steps"]["call_pop_1"]]
    assert (tool.agent, tool.content) == ("lookup_population", "2102650")
    assert (
        tool.source_id
        == next(s for s in raw_spans(OPENINFERENCE) if s["name"] == "lookup_population")["spanId"]
    )


def test_without_agent_spans_the_agent_is_inferred_and_noted(tmp_path: Path) -> None:
    document = json.loads(OPENINFERENCE.read_text())
    spans = document["resourceSpans"][0]["scopeSpans"]
    for scope in spans:
        scope["spans"] = [
            s
            for s in scope["spans"]
            if not any(
                a["key"] == "openinference.span.kind" and a["value"]["stringValue"] == "AGENT"
                for a in s["attributes"]
            )
        ]
    path = tmp_path / "no_agents.json"
    path.write_text(json.dumps(document))
    trajectory = load_one(path)
    assert trajectory.agents == ["scripted"]  # the LLM spans are orphans now: named by model
    assert any(
        "no agent.name, no AGENT span above" in n and "the model ('scripted')" in n
        for n in trajectory.notes
    )
    assert any("parent that is not in the file" in note for note in trajectory.notes)


def test_detectors_do_not_fire_on_each_others_files() -> None:
    assert detect_format(Probe(GENAI)).name == "otel-genai"
    assert detect_format(Probe(OPENINFERENCE)).name == "openinference"


def test_unflatten_rebuilds_lists_and_objects() -> None:
    flat = {
        "llm.output_messages.0.message.role": "assistant",
        "llm.output_messages.0.message.tool_calls.1.tool_call.id": "b",
        "other": 1,
    }
    assert unflatten(flat, "llm.output_messages.") == [
        {"message": {"role": "assistant", "tool_calls": [{}, {"tool_call": {"id": "b"}}]}}
    ]


@pytest.mark.parametrize("path", [GENAI, OPENINFERENCE])
def test_every_trace_of_the_file_is_a_trajectory(path: Path) -> None:
    traces = {s["traceId"] for s in raw_spans(path)}
    assert {t.id for t in load_file(path)} == traces
