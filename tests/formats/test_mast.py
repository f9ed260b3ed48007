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
    ("text", "framework"),
    [
        (
            "RUN.SH STARTING !#!#\nAUTOGEN_TESTBED_SETTING: [Docker]\nInstalling ...\n",
            "Magentic-One",
        ),
        ("HyperAgent_x - INFO - Initialized HyperAgent instance x\nsome text\n", "HyperAgent"),
        ("2025-01-17 11:40:27 | INFO | metagpt.roles.role:_act:391 - hello\nmore\n", "MetaGPT"),
        ("[2025-17-01 11:36:43 INFO] **[Preprocessing]**\n\n[ChatDev] setup only\n", "ChatDev"),
    ],
)
def test_text_logs_no_reader_reads_are_refused_as_text_naming_the_framework(
    tmp_path: Path, text: str, framework: str
) -> None:
    path = tmp_path / "run.log"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TraceFormatError) as caught:
        load_file(path)
    message = caught.value.message
    assert message.startswith(f"is a plain-text {framework}")
    assert "not valid JSON" not in message and "line " not in message


def test_chatdev_log_is_read_as_role_messages(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "03_ChatDev_ProgramDev.log")
    assert run.source is not None and run.source.format == "chatdev-log"
    assert run.question.startswith("Develop a classic Sudoku puzzle solver/creator")
    assert run.agents[:3] == [
        "Chief Product Officer", "Chief Executive Officer", "Chief Technology Officer",
    ]  # fmt: skip
    assert run.steps[1].speaker == "Chief Product Officer (DemandAnalysis)"
    # the role prompt ChatDev prints before each message is not the agent's words
    assert all(not s.content.startswith("[ChatDev is a software company") for s in run.steps)
    assert "did not start for online log" not in "".join(s.content for s in run.steps)


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


def test_metagpt_communication_log_is_read_as_text(mast_dir: Path) -> None:
    from agentracer.formats import detect_format

    assert detect_format(Probe(mast_dir / "traces" / "16_MetaGPT_MMLU.log")).name == "metagpt-log"
    json_file = Probe(mast_dir / "traces" / "04_MetaGPT_ProgramDev.json")
    assert [s.name for s in format_specs() if s.reads_text and s.format.detect(json_file)] == []
    (run,) = load_file(mast_dir / "traces" / "16_MetaGPT_MMLU.log")
    assert run.source is not None and run.source.format == "metagpt-log"
    assert run.steps[0].kind is StepKind.USER and run.question.startswith("The following are")
    assert [s.agent for s in run.steps[1:]] == [
        "SimpleCoder", "SimpleTester", "SimpleReviewer", "SimpleTester", "SimpleReviewer",
    ]  # fmt: skip
    assert run.steps[1].content.startswith("def find_answer():")
    assert "NEW MESSAGES" not in run.steps[2].content and "-----" not in run.steps[2].content


def test_appworld_log_is_read_as_turns(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "00_AppWorld_Test-C.log")
    assert run.source is not None and run.source.format == "appworld-log"
    assert run.question.startswith("Give a 5-star rating to all songs")
    assert run.agents == ["Supervisor", "Spotify"]
    assert run.outcome is Outcome.FAILURE  # the closing Evaluation lists failures
    assert [(s.agent, s.kind) for s in run.steps[:4]] == [
        ("user", StepKind.USER),
        ("Supervisor", StepKind.AGENT),
        ("python", StepKind.TOOL),
        ("environment", StepKind.TOOL),
    ]
    assert "send_message(app_name='spotify'" in run.steps[1].content
    assert all("Response from" not in s.content for s in run.steps)
    (success,) = load_file(mast_dir / "traces" / "05_AppWorld_Test-C.log")
    assert success.outcome is Outcome.SUCCESS


def test_openmanus_log_is_read_as_plan_thoughts_and_tool_results(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "18_GAIA_OpenManus.log")
    assert run.source is not None and run.source.format == "openmanus-log"
    assert run.agents == ["planning", "Manus"] and run.question == ""
    assert "Plan: Calculate Time to Run from Earth to Moon" in run.steps[0].content
    first_call = run.steps[1]
    assert first_call.agent == "Manus" and first_call.tool_calls[0].name == "browser_use"
    assert '"query":"Eliud Kipchoge marathon pace km/h"' in first_call.tool_calls[0].arguments
    result = run.steps[2]
    assert result.kind is StepKind.TOOL and result.agent == "browser_use"
    assert "Search results for 'Eliud Kipchoge marathon pace km/h'" in result.content
    assert "Token usage" not in "".join(s.content for s in run.steps)
    assert any("does not log the prompt" in note for note in run.notes)


def test_autogen_console_log_of_magentic_one_is_read(mast_dir: Path) -> None:
    (run,) = load_file(mast_dir / "traces" / "17_GAIA_Magentic.log")
    assert run.source is not None and run.source.format == "autogen-console"
    assert run.agents == ["MagenticOneOrchestrator", "WebSurfer"] and len(run.steps) == 13
    assert run.steps[0].kind is StepKind.USER and run.question.startswith("How many at bats")
    assert all("pip" not in s.content and "!#!#" not in s.content for s in run.steps)


def test_mast_benchmark_reads_every_trace(
    data_dir: Path,
) -> None:
    if not (data_dir / "mast").is_dir():
        pytest.skip("MAD data not found")
    bench = load_benchmark("mast", data=data_dir)
    runs = [t for _, t in bench.trajectories()]
    assert len(runs) == 19 and all(t.label is None for t in runs)
    assert sorted({t.metadata["framework"] for t in runs}) == [
        "AG2", "AppWorld", "AutoGen console", "ChatDev", "HyperAgent", "MetaGPT", "OpenManus",
    ]  # fmt: skip
    assert all(isinstance(t.metadata["mast_failure_modes"], list) for t in runs)
    assert bench.problems() == []
    assert system_of("mast") == "mast"
    with pytest.raises(DatasetNotFoundError, match="mast cannot score step attribution: its"):
        require_step_labels("mast")
    require_step_labels("tau-retail")  # every other source has steps


def test_the_python_api_refuses_mast_for_step_scoring(tmp_path: Path) -> None:
    import agentracer

    with pytest.raises(DatasetNotFoundError, match="mast cannot score step attribution"):
        agentracer.evaluate("mast", tracer="last-agent-step", out=tmp_path)
