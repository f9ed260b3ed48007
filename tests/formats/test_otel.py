"""The OpenTelemetry GenAI importer, on traces the real OpenTelemetry SDK wrote (see
data/make_otel_traces.py), and on the variants real files come in."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

from agentracer.formats import detect_format, load_file, parse_document
from agentracer.formats.registry import Probe
from agentracer.trajectory import Outcome, StepKind
from tests.formats.otel_helpers import GENAI, WRONG, one_document, raw_spans, span_holding


def test_the_sdk_export_reads_as_two_runs_in_execution_order() -> None:
    assert detect_format(Probe(GENAI)).name == "otel-genai"
    first, second = load_file(GENAI)
    assert first.agents == ["Planner", "Researcher", "Writer"]
    assert first.question.startswith("What is the population of the capital of France")
    assert [s.kind for s in first.steps][:1] == [StepKind.USER]
    assert first.outcome is Outcome.FAILURE
    assert "wrong answer" in str(first.metadata["errors"])
    # The wrong number is the Writer's step, which points back at the span that wrote it.
    writer = next(s for s in first.steps if WRONG in s.content)
    assert writer.agent == "Writer"
    assert writer.source_id == span_holding(GENAI, "gen_ai.output.messages", WRONG)["spanId"]
    # Every step keeps a span id of the file.
    ids = {s["spanId"] for s in raw_spans(GENAI)}
    assert all(s.source_id in ids for s in first.steps)
    assert second.agents == ["Coder", "Reviewer", "summarise"]
    assert second.outcome is Outcome.SUCCESS


def test_tool_calls_and_tool_steps_are_joined_by_call_id() -> None:
    first = load_file(GENAI)[0]
    call_step = next(s for s in first.steps if s.tool_calls)
    assert call_step.agent == "Researcher"
    call = call_step.tool_calls[0]
    assert (call.id, call.name, json.loads(call.arguments)) == (
        "call_pop_1",
        "lookup_population",
        {"city": "Paris"},
    )
    tool = first.steps[first.metadata["tool_steps"]["call_pop_1"]]
    assert tool.index == call_step.index + 1
    assert (tool.kind, tool.agent, tool.content) == (StepKind.TOOL, "lookup_population", "2102650")
    execute = [s for s in raw_spans(GENAI) if s["name"] == "execute_tool lookup_population"]
    assert tool.source_id == execute[0]["spanId"]
    assert "lookup_population" not in first.agents


def test_older_conventions_and_an_unnamed_agent_are_noted() -> None:
    second = load_file(GENAI)[1]
    assert [s.content for s in second.steps][1].startswith("def add(a, b):")  # indexed form
    assert second.steps[2].content == "Looks correct to me."  # gen_ai.completion JSON
    note = next(n for n in second.notes if "step(s) 3" in n)
    assert "enclosing span's name ('summarise')" in note


def test_one_document_in_any_span_order_reads_the_same() -> None:
    from_lines = load_file(GENAI)
    document = one_document(GENAI)
    random.Random(0).shuffle(document["resourceSpans"][0]["scopeSpans"][0]["spans"])
    from_document = parse_document(document)
    assert [t.steps for t in from_document] == [t.steps for t in from_lines]


def test_base64_ids_string_enums_and_numeric_times_are_accepted() -> None:
    document = one_document(GENAI)
    for span in document["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for key in ("traceId", "spanId", "parentSpanId"):
            if span.get(key):
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
        span["startTimeUnixNano"] = int(span["startTimeUnixNano"])
        span["kind"] = "SPAN_KIND_INTERNAL"
        if span.get("status", {}).get("code") == 2:
            span["status"]["code"] = "STATUS_CODE_ERROR"
    assert [t.steps for t in parse_document(document)] == [t.steps for t in load_file(GENAI)]


def test_a_tool_result_only_in_the_next_prompt_becomes_a_tool_step(tmp_path: Path) -> None:
    lines = GENAI.read_text().splitlines()
    kept = [line for line in lines if "execute_tool" not in line]
    assert len(kept) == len(lines) - 1
    path = tmp_path / "no_tool_span.jsonl"
    path.write_text("\n".join(kept) + "\n")
    first = load_file(path)[0]
    tool = next(s for s in first.steps if s.kind is StepKind.TOOL)
    assert (tool.agent, tool.content) == ("lookup_population", "2102650")
    assert WRONG in first.steps[-1].content


def test_the_real_sdk_writes_what_the_importer_reads(tmp_path: Path) -> None:
    """Regenerate the traces now, with the installed SDKs, and read them."""
    from tests.formats.data.make_otel_traces import main

    main(tmp_path)
    first = load_file(tmp_path / "otel_genai.jsonl")[0]
    assert first.agents == ["Planner", "Researcher", "Writer"]
    assert WRONG in first.steps[-1].content
    assert load_file(tmp_path / "openinference_openai.json")[0].agents == [
        "Planner",
        "Researcher",
        "Writer",
    ]
