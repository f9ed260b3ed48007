"""`show`, `convert` and `attribute --tracer last-agent-step` on the real SDKs' exports, with no
format hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.formats import load_file
from tests.formats.otel_helpers import GENAI, OPENINFERENCE, WRONG, span_holding

runner = CliRunner()
CASES = [
    (GENAI, "gen_ai.output.messages"),
    (OPENINFERENCE, "llm.output_messages.0.message.content"),
]


@pytest.mark.parametrize(("path", "key"), CASES)
def test_attribute_names_the_last_agent_step_and_its_span(path: Path, key: str) -> None:
    result = runner.invoke(
        app, ["attribute", str(path), "--index", "0", "--tracer", "last-agent-step", "--json"]
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)["verdict"]
    assert (verdict["agent"], verdict["step"]) == ("Writer", 5)
    plain = runner.invoke(
        app, ["attribute", str(path), "--index", "0", "--tracer", "last-agent-step"]
    )
    assert span_holding(path, key, WRONG)["spanId"] in plain.stdout


@pytest.mark.parametrize(("path", "key"), CASES)
def test_show_and_convert(path: Path, key: str, tmp_path: Path) -> None:
    shown = runner.invoke(app, ["show", str(path), "--index", "0"])
    assert shown.exit_code == 0, shown.output
    for name in ("Planner", "Researcher", "Writer", "lookup_population (tool)"):
        assert name in shown.stdout
    out = tmp_path / "out.jsonl"
    converted = runner.invoke(app, ["convert", str(path), str(out)])
    assert converted.exit_code == 0, converted.output
    assert [t.steps for t in load_file(out)] == [t.steps for t in load_file(path)]
    record = tmp_path / "record.json"
    assert (
        runner.invoke(app, ["convert", str(path), str(record), "--to", "who-and-when"]).exit_code
        == 0
    )


def test_formats_lists_the_importers() -> None:
    result = runner.invoke(app, ["formats"])
    assert result.exit_code == 0
    for name in ("otel-genai", "openinference", "agentracer-recording"):
        assert name in result.stdout


def test_an_otlp_file_without_either_convention_says_what_is_missing(tmp_path: Path) -> None:
    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {"spans": [{"traceId": "a" * 32, "spanId": "b" * 16, "name": "GET /"}]}
                ]
            }
        ]
    }
    path = tmp_path / "http.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(app, ["show", str(path)])
    assert result.exit_code == 2
    assert "closest is otel-genai" in result.output and "gen_ai" in result.output
