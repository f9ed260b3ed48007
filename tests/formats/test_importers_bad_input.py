"""Damaged and unusual exports, format by format: spans in any order, parents missing from the
file, unknown span kinds, several traces in one file, failures recorded by the framework, and
files cut short. Each gives trajectories with notes, or a one-line named error."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import TraceFormatError
from agentracer.formats import iter_file, load_file
from agentracer.trajectory import Outcome, StepKind
from tests.formats.samples import DATA

runner = CliRunner()
AGENTS_SDK = DATA / "agents_sdk" / "handoff_trace.jsonl"
LANGSMITH = DATA / "langsmith" / "runs.jsonl"
LANGFUSE = DATA / "langfuse" / "observations.json"
SMOLAGENTS = DATA / "smolagents" / "managed_memory.json"


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _steps(path: Path) -> list[tuple[str, str, str]]:
    [trajectory] = load_file(path)
    return [(s.kind.value, s.agent, s.content) for s in trajectory.steps]


def test_spans_in_any_order_read_the_same(tmp_path: Path) -> None:
    for source in (AGENTS_SDK, LANGSMITH):
        records = _lines(source)
        random.Random(7).shuffle(records)
        shuffled = _write_lines(tmp_path / source.name, records)
        assert _steps(shuffled) == _steps(source)
    document = json.loads(LANGFUSE.read_text())
    document["data"].reverse()
    (tmp_path / "langfuse.json").write_text(json.dumps(document))
    assert _steps(tmp_path / "langfuse.json") == _steps(LANGFUSE)


def test_several_traces_in_one_file_are_several_trajectories(tmp_path: Path) -> None:
    first = _lines(AGENTS_SDK)
    second = [
        {
            **r,
            "trace_id": "trace_second",
            **({"id": "trace_second"} if r["object"] == "trace" else {}),
        }
        for r in first
    ]
    for r in second:  # the second run started a minute later
        if r["object"] == "trace.span":
            r["started_at"] = r["started_at"].replace("T01:", "T02:")
    path = _write_lines(tmp_path / "two.jsonl", second + first)
    trajectories = load_file(path)
    assert [t.id for t in trajectories] == [first[0]["trace_id"], "trace_second"]
    assert all(t.agents == ["Triage", "Researcher"] for t in trajectories)
    result = runner.invoke(app, ["attribute", str(path), "--tracer", "last-agent-step"])
    assert result.exit_code == 2 and "--index" in result.output  # asks which run


def test_agents_sdk_missing_parents_and_unknown_kinds_are_noted(tmp_path: Path) -> None:
    records = [
        r
        for r in _lines(AGENTS_SDK)
        if r.get("span_data", {}).get("type") not in ("agent", "custom")  # parents gone
    ]
    records.append({**records[0], "id": "span_mystery", "span_data": {"type": "mystery"}})
    [trajectory] = load_file(_write_lines(tmp_path / "orphans.jsonl", records))
    assert [s.kind for s in trajectory.steps].count(StepKind.TOOL) == 2  # nothing dropped
    notes = " ".join(trajectory.notes)
    assert "name a parent that is not in the file" in notes
    assert "no enclosing agent span; its agent is called 'assistant'" in notes
    assert "1 mystery" in notes
    assert trajectory.agents == ["assistant"]


def test_agents_sdk_span_errors_make_a_failure(tmp_path: Path) -> None:
    records = _lines(AGENTS_SDK)
    for r in records:
        if r.get("span_data", {}).get("type") == "function":
            r["error"] = {"message": "Error running tool", "data": {"error": "timeout"}}
    [trajectory] = load_file(_write_lines(tmp_path / "error.jsonl", records))
    assert trajectory.outcome is Outcome.FAILURE
    assert any("get_population) failed: Error running tool" in n for n in trajectory.notes)


def test_langsmith_run_errors_and_missing_parents(tmp_path: Path) -> None:
    records = [r for r in _lines(LANGSMITH) if r["name"] != "researcher"]  # node runs gone
    for r in records:
        if r["run_type"] == "tool":
            r["error"] = "ToolException: service down"
    [trajectory] = load_file(_write_lines(tmp_path / "runs.jsonl", records))
    assert trajectory.outcome is Outcome.FAILURE
    assert trajectory.agents == ["planner", "researcher"]  # langgraph_node still names them
    assert any("run(s) name a parent that is not in the file" in n for n in trajectory.notes)


def test_langfuse_error_level_and_unknown_types(tmp_path: Path) -> None:
    document = json.loads(LANGFUSE.read_text())
    for obs in document["data"]:
        if obs["type"] == "TOOL":
            obs["level"], obs["statusMessage"] = "ERROR", "lookup failed"
    extra = {**document["data"][0], "id": "x1", "type": "HOLOGRAM"}
    document["data"].append(extra)
    (tmp_path / "obs.json").write_text(json.dumps(document))
    [trajectory] = load_file(tmp_path / "obs.json")
    assert trajectory.outcome is Outcome.FAILURE
    assert any("lookup failed" in n for n in trajectory.notes)
    assert any("unknown type HOLOGRAM" in n for n in trajectory.notes)


def test_langchain_messages_without_names_say_how_the_agent_was_named(tmp_path: Path) -> None:
    messages = json.loads((DATA / "langgraph" / "messages.json").read_text())
    for m in messages:
        m["data"]["name"] = None
    (tmp_path / "messages.json").write_text(json.dumps(messages))
    [trajectory] = load_file(tmp_path / "messages.json")
    assert trajectory.agents == ["assistant"]
    assert any("attributed to the agent 'assistant'" in n for n in trajectory.notes)


def test_smolagents_manager_memory_alone_names_the_managed_agent(tmp_path: Path) -> None:
    memories = json.loads(SMOLAGENTS.read_text())
    (tmp_path / "manager.json").write_text(json.dumps(memories["manager"]))
    [trajectory] = load_file(tmp_path / "manager.json")
    assert trajectory.agents == ["agent", "researcher"]
    answer = next(s for s in trajectory.steps if s.agent == "researcher")
    assert answer.kind is StepKind.AGENT and "about 3 million" in answer.content
    notes = " ".join(trajectory.notes)
    assert "does not name its agent" in notes and "own steps are not in the file" in notes


def test_smolagents_managed_agent_memory_alone_is_named_from_its_task(tmp_path: Path) -> None:
    memories = json.loads(SMOLAGENTS.read_text())
    (tmp_path / "researcher.json").write_text(json.dumps(memories["researcher"]))
    [trajectory] = load_file(tmp_path / "researcher.json")
    assert trajectory.agents == ["researcher"]
    # no final answer from the top agent of the file: the run did not finish as far as it shows
    assert trajectory.outcome is Outcome.UNKNOWN


def test_ag2_magentic_one_style_role_names(tmp_path: Path) -> None:
    log = [
        {"role": "human", "content": "What is the population of Paris?"},
        {"role": "Orchestrator (thought)", "content": "Ask the WebSurfer."},
        {"role": "Orchestrator (-> WebSurfer)", "content": "Find the population of Paris."},
        {"role": "WebSurfer", "content": "About 3 million."},
        {"role": "Orchestrator (termination condition)", "content": "Done."},
    ]
    (tmp_path / "magentic.json").write_text(json.dumps(log))
    [trajectory] = load_file(tmp_path / "magentic.json")
    assert trajectory.agents == ["Orchestrator", "WebSurfer"]
    assert trajectory.steps[0].kind is StepKind.USER
    assert trajectory.steps[2].speaker == "Orchestrator (-> WebSurfer)"


def test_a_stray_record_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    path = _write_lines(tmp_path / "stray.jsonl", [*_lines(AGENTS_SDK), {"foo": 1}])
    items = list(iter_file(path))
    errors = [i for i in items if isinstance(i, TraceFormatError)]
    assert len(errors) == 1 and "line13" in str(errors[0])
    assert len(items) == 2


def test_cut_short_exports_are_one_line_errors(tmp_path: Path) -> None:
    for source in (AGENTS_SDK, LANGSMITH, DATA / "autogen" / "swarm_task_result.json"):
        text = source.read_text()
        cut = tmp_path / source.name
        cut.write_text(text[: len(text) // 2])
        result = runner.invoke(app, ["show", str(cut)])
        assert result.exit_code == 2, result.output
        assert "not valid JSON" in result.output and "Traceback" not in result.output
        assert len(result.output.strip().splitlines()) == 1


def test_langfuse_input_and_output_as_json_text_read_the_same(tmp_path: Path) -> None:
    # the observations API returns input/output as JSON text unless parseIoAsJson is set
    document = json.loads(LANGFUSE.read_text())
    for obs in document["data"]:
        for key in ("input", "output"):
            if key in obs and not isinstance(obs[key], str):
                obs[key] = json.dumps(obs[key])
    (tmp_path / "text_io.json").write_text(json.dumps(document))
    assert _steps(tmp_path / "text_io.json") == _steps(LANGFUSE)


def test_near_misses_say_what_is_missing(tmp_path: Path) -> None:
    span = {k: v for k, v in _lines(AGENTS_SDK)[0].items() if k != "object"}
    run = {k: v for k, v in _lines(LANGSMITH)[0].items() if k != "id"}
    cases = {
        "span.jsonl": ([span, span], "closest is openai-agents, but the record has 'span_data'"),
        "run.jsonl": ([run, run], "closest is langsmith, but the run has no 'id'"),
        "chat.json": ([{"name": "a", "content": "hi"}], "closest is ag2, but the message has"),
    }
    for name, (records, message) in cases.items():
        path = _write_lines(tmp_path / name, records)
        result = runner.invoke(app, ["show", str(path)])
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output


def test_formats_lists_every_importer() -> None:
    result = runner.invoke(app, ["formats"])
    assert result.exit_code == 0, result.output
    for name in ("openai-agents", "autogen", "ag2", "langchain-messages", "langsmith"):
        assert name in result.stdout
    assert "langfuse" in result.stdout and "smolagents" in result.stdout


def test_autogen_several_task_results_and_unknown_message_types(tmp_path: Path) -> None:
    result = json.loads((DATA / "autogen" / "swarm_task_result.json").read_text())
    odd = {"id": "m-odd", "source": "researcher", "type": "FancyEvent", "content": "hmm"}
    chunk = {"source": "researcher", "type": "ModelClientStreamingChunkEvent", "content": "h"}
    second = {**result, "messages": [*result["messages"], odd, chunk]}
    (tmp_path / "runs.json").write_text(json.dumps([result, second]))
    first_run, second_run = load_file(tmp_path / "runs.json")
    assert (first_run.id, second_run.id) == ("runs-0", "runs-1")
    assert len(second_run.steps) == len(first_run.steps) + 1
    assert second_run.steps[-1].source_id == "m-odd"
    notes = " ".join(second_run.notes)
    assert "read as plain messages: 1 FancyEvent" in notes
    assert "1 ModelClientStreamingChunkEvent" in notes
    assert second_run.metadata["stop_reason"] == "Text 'TERMINATE' mentioned"
