"""The MAD/MAST traces (../shared/data/mast): what can be read is read; each text log is
refused as text, naming the framework it looks like."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentracer.errors import DatasetNotFoundError, TraceFormatError
from agentracer.formats import format_specs, load_benchmark, load_file
from agentracer.formats.benchmarks import require_step_labels, system_of
from agentracer.formats.registry import Probe
from agentracer.trajectory import Outcome, StepKind


@pytest.fixture(scope="module")
def mast_dir(data_dir: Path) -> Path:
    path = data_dir / "mast"
    if not (path / "traces").is_dir():
        pytest.skip(f"MAD data not found at {path}")
    return path


def test_ag2_wrapper_reads_its_chat(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "07_AG2_GSM-Plus.json")
    assert run.source is not None and run.source.format == "mast-trace"
    assert run.agents == ["mathproxyagent", "assistant"] and len(run.steps) == 4
    assert run.question.startswith("Miss Maria is a middle school teacher")
    assert run.outcome is Outcome.FAILURE  # other_data.correct is false
    assert "Let's use Python to solve a math problem." in run.steps[0].content
    assert "Fail to detect ambiguities/contradictions" in run.metadata["mast_failure_modes"]


def test_hyperagent_wrapper_splits_the_log_into_turns(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "06_HyperAgent_SWE-Bench-Lite.json")
    assert run.agents == ["Planner", "Navigator", "Editor", "Executor"]
    assert len(run.steps) == 18
    first = run.steps[0]
    assert first.agent == "Planner" and "Subgoal:" in first.content
    assert "HyperAgent_" not in first.content  # the log prefix is not the agent's text
    assert {s.speaker for s in run.steps} >= {"Inner-Navigator-Assistant", "Navigator->Planner"}
    assert any("no agent's turn" in note for note in run.notes)


def test_metagpt_run_reads_its_role_turns(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "04_MetaGPT_ProgramDev.json")
    assert run.source is not None and run.source.format == "metagpt-run"
    assert run.question == "develop a program that detects palindromes in a text file"
    assert [s.agent for s in run.steps[:3]] == ["SimpleCoder", "SimpleTester", "SimpleReviewer"]
    assert run.steps[0].speaker == "Alice(SimpleCoder)"
    assert "def detect_palindromes" in run.steps[0].content
    assert all(s.kind is StepKind.AGENT for s in run.steps)


@pytest.mark.parametrize(
    ("name", "framework"),
    [
        ("00_AppWorld_Test-C.log", "AppWorld"),
        ("03_ChatDev_ProgramDev.log", "ChatDev"),
        ("16_MetaGPT_MMLU.log", "MetaGPT"),
        ("17_GAIA_Magentic.log", "Magentic-One"),
        ("18_GAIA_OpenManus.log", "OpenManus"),
    ],
)
def test_text_logs_are_refused_as_text_naming_the_framework(
    mast_dir: Path, name: str, framework: str
) -> None:
    with pytest.raises(TraceFormatError) as caught:
        load_file(mast_dir / "traces" / name)
    message = caught.value.message
    assert message.startswith(f"is a plain-text {framework}")
    assert "not valid JSON" not in message and "line " not in message


def test_an_unknown_text_file_is_refused_as_text(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("first line\nsecond line\nthird\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match="is a plain-text file, not a JSON trace"):
        load_file(path)
    broken = tmp_path / "broken.json"
    broken.write_text('{"history": [\n', encoding="utf-8")
    with pytest.raises(TraceFormatError, match="not valid JSON"):
        load_file(broken)  # broken JSON keeps its own, more useful error


def test_a_dict_that_is_not_a_message_is_not_told_it_lacks_a_role(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"run_id": 3, "content": "log text", "cost": 0.1}))
    with pytest.raises(TraceFormatError) as caught:
        load_file(path)
    assert "role" not in caught.value.message
    assert "keys: content, cost, run_id" in caught.value.message
    message = tmp_path / "message.json"
    message.write_text(json.dumps([{"content": "hi", "name": "a"}]))
    with pytest.raises(TraceFormatError, match="has 'content' but no 'role'"):
        load_file(message)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("traces/02_AG2_GSM-Plus.json", "mast-trace"),
        ("traces/01_HyperAgent_SWE-Bench-Lite.json", "mast-trace"),
        ("traces/09_MetaGPT_ProgramDev.json", "metagpt-run"),
        ("MAD_human_labelled_dataset.json", "mad"),
    ],
)
def test_exactly_one_format_detects_each_mast_file(
    mast_dir: Path, name: str, expected: str
) -> None:
    probe = Probe(mast_dir / name)
    assert [spec.name for spec in format_specs() if spec.format.detect(probe)] == [expected]


def test_mast_benchmark_reads_nine_traces_and_refuses_ten_by_framework(data_dir: Path) -> None:
    if not (data_dir / "mast").is_dir():
        pytest.skip("MAD data not found")
    bench = load_benchmark("mast", data=data_dir)
    runs = [t for _, t in bench.trajectories()]
    assert len(runs) == 9 and all(t.label is None for t in runs)
    assert sorted({t.metadata["mas_name"] for t in runs}) == ["AG2", "HyperAgent", "MetaGPT"]
    assert all(isinstance(t.metadata["mast_failure_modes"], list) for t in runs)
    problems = [p.message for p in bench.problems()]
    assert len(problems) == 10 and all("plain-text" in p for p in problems)
    assert sum("ChatDev" in p for p in problems) == 4
    assert system_of("mast") == "mast"
    with pytest.raises(DatasetNotFoundError, match="mast cannot score step attribution: its"):
        require_step_labels("mast")
    require_step_labels("tau-retail")  # every other source has steps


def test_the_python_api_refuses_mast_for_step_scoring(tmp_path: Path) -> None:
    import agentracer

    with pytest.raises(DatasetNotFoundError, match="mast cannot score step attribution"):
        agentracer.evaluate("mast", tracer="last-agent-step", out=tmp_path)
