"""The one `--json` schema: `attribute --json` carries the run, the verdict, and every step's
source ids (trace, span, message or call id), so a verdict points back into the user's tool."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.export.document import SCHEMA_VERSION
from agentracer.formats import load_file
from tests.formats.otel_helpers import OPENINFERENCE, WRONG, span_holding

runner = CliRunner()


def _attribute(path: str, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(app, ["attribute", path, "--tracer", "last-agent-step", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_attribute_json_carries_every_steps_source_ids() -> None:
    document = _attribute(str(OPENINFERENCE))
    assert (document["version"], document["kind"]) == (1, "attribution")
    writer = span_holding(OPENINFERENCE, "llm.output_messages.0.message.content", WRONG)
    trace_id = writer["traceId"]
    assert document["trajectory"]["trace_id"] == trace_id
    assert document["trajectory"]["format"] == "openinference"
    blamed = document["blamed"]
    assert blamed["span_id"] == blamed["source_id"] == writer["spanId"]
    assert blamed["trace_id"] == trace_id and blamed["index"] == document["verdict"]["step"]
    [trajectory] = load_file(OPENINFERENCE)
    assert [s["source_id"] for s in document["steps"]] == [s.source_id for s in trajectory.steps]
    assert all(s["trace_id"] == trace_id and s["span_id"] for s in document["steps"])
    calls = [s["tool_call_ids"] for s in document["steps"] if s["tool_call_ids"]]
    assert calls == [["call_pop_1"]]  # the Researcher's tool call


def test_message_ids_are_source_ids_not_span_ids() -> None:
    document = _attribute("tests/formats/data/autogen/swarm_task_result.json")
    assert document["trajectory"]["trace_id"] is None  # a message log, not a trace
    assert all(s["span_id"] is None for s in document["steps"])
    assert any(s["source_id"] for s in document["steps"])  # AutoGen's message ids
    assert any(s["tool_call_ids"] for s in document["steps"])


def test_the_text_output_names_the_trace() -> None:
    result = runner.invoke(app, ["attribute", str(OPENINFERENCE), "--tracer", "last-agent-step"])
    writer = span_holding(OPENINFERENCE, "llm.output_messages.0.message.content", WRONG)
    assert f"source id: {writer['spanId']}" in result.stdout
    assert f"trace id: {writer['traceId']}" in result.stdout


@pytest.mark.parametrize(
    ("args", "kind"),
    [
        (["tracers"], "tracers"),
        (["formats"], "formats"),
        (["models", "list"], "models"),
        (["show", "examples/failed_run.json"], "trajectory"),
        (["attribute", "examples/failed_run.json", "--tracer", "fast"], "attribution"),
        (["forecast", "examples/failed_run.json", "--tracer", "fast-hazard"], "forecast"),
        (
            ["eval", "--bench", "examples/failed_run.json", "--tracer", "first-agent-step"],
            "evaluation",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else " ".join(value[:2]),
)
def test_every_json_output_is_one_versioned_document(
    args: list[str], kind: str, tmp_path: Path
) -> None:
    extra = ["--out", str(tmp_path / "run")] if args[0] == "eval" else []
    result = runner.invoke(app, [*args, *extra, "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["version"] == SCHEMA_VERSION == 1 and document["kind"] == kind


def test_show_json_carries_the_run_and_its_ids() -> None:
    result = runner.invoke(app, ["show", str(OPENINFERENCE), "--json"])
    document = json.loads(result.stdout)
    assert document["trajectory"]["steps"][0]["source_id"] == document["steps"][0]["span_id"]
