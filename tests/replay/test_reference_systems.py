"""The reference systems recorded and replayed through the proxy against the real embedded model."""

import sys
from pathlib import Path

import pytest

from agentracer.llm.embedded import EmbeddedBackend
from agentracer.replay.proxy import encode
from agentracer.replay.session import Program, record, replay
from agentracer.replay.upstream import EmbeddedUpstream
from agentracer.systems.coding_team import FINAL_MARK, problems


def _math(problem: str) -> Program:
    module = [sys.executable, "-m", "agentracer.systems.math_team"]
    return Program(
        command=[*module, "run", "--problem", problem],
        check=" ".join([*module, "check", "--problem", problem]),
        timeout=300,
    )


@pytest.fixture(scope="module")
def math_recording(tmp_path_factory: pytest.TempPathFactory, embedded: EmbeddedBackend) -> Path:
    directory = tmp_path_factory.mktemp("math") / "rec"
    recording = record(_math("add"), EmbeddedUpstream(embedded), directory)
    assert recording.outcome.status in ("success", "failure"), recording.outcome
    return directory


def test_the_math_team_is_recorded_with_its_agents(math_recording: Path) -> None:
    from agentracer.replay.recording import load

    recording = load(math_recording)
    calls = recording.calls()
    assert [(c.agent, c.agent_source, c.stream) for c in calls] == [
        ("Solver", "user", False),
        ("Verifier", "user", True),
    ]
    assert all(c.origin == "live" and c.content() for c in calls)
    assert recording.task.ground_truth == "5"


def test_replay_serves_the_prefix_substitutes_and_goes_live(
    math_recording: Path, embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    from agentracer.replay.recording import load

    original = load(math_recording).calls()
    # Replace the verifier: the frozen solver call is served byte for byte, the team's final
    # answer now follows the substitute, so the run fails.
    verdict = replay(
        math_recording, 1, "VERDICT: wrong\nANSWER: 9", EmbeddedUpstream(embedded), tmp_path / "v"
    )
    calls = verdict.calls()
    assert [c.origin for c in calls] == ["recorded", "substituted"]
    assert encode(calls[0].response) == encode(original[0].response)
    assert (tmp_path / "v" / "mas.stdout").read_text().strip() == "FINAL ANSWER: 9"
    assert verdict.outcome.status == "failure"
    # Replace the solver: the verifier is asked about the substitute and answers live.
    solver = replay(
        math_recording, 0, "2 + 3 = 5\nANSWER: 5", EmbeddedUpstream(embedded), tmp_path / "s"
    )
    calls = solver.calls()
    assert [c.origin for c in calls] == ["substituted", "live"]
    assert "ANSWER: 5" in calls[1].request["messages"][-1]["content"]
    assert calls[1].content()  # the live model's answer


def test_the_coding_team_flips_to_success_when_the_coder_is_fixed(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    task = "HumanEval/2"
    module = [sys.executable, "-m", "agentracer.systems.coding_team"]
    program = Program(
        command=[*module, "run", "--task", task],
        check=" ".join([*module, "check", "--task", task]),
        timeout=600,
    )
    recording = record(program, EmbeddedUpstream(embedded), tmp_path / "rec")
    agents = [c.agent for c in recording.calls()]
    assert agents[:2] == ["Planner", "Coder"] and set(agents) == {"Planner", "Coder"}
    assert any(e.kind == "tool" and e.agent == "Tester" for e in recording.events)
    problem = problems()[task]
    fixed = f"```python\n{problem['prompt']}{problem['canonical_solution']}```"
    replayed = replay(tmp_path / "rec", 1, fixed, EmbeddedUpstream(embedded), tmp_path / "fixed")
    assert replayed.outcome.status == "success", (tmp_path / "fixed" / "check.out").read_text()
    assert [c.origin for c in replayed.calls()] == [
        "recorded",
        "substituted",
    ]  # examples pass: no revision
    assert FINAL_MARK in (tmp_path / "fixed" / "mas.stdout").read_text()


def test_a_real_framework_is_recorded_and_replayed(
    embedded: EmbeddedBackend, tmp_path: Path
) -> None:
    """smolagents' CodeAgent, unchanged, talking to the proxy like to any OpenAI endpoint."""
    from tests.replay.conftest import PROGRAMS

    program = Program(
        command=[sys.executable, str(PROGRAMS / "smol_agent.py")],
        check=f"{sys.executable} {PROGRAMS / 'check.py'} 'FINAL: 5'",
        timeout=600,
        agent_patterns=["expert assistant=CodeAgent"],
    )
    recording = record(program, EmbeddedUpstream(embedded), tmp_path / "rec")
    calls = recording.calls()
    assert calls and calls[0].agent == "CodeAgent" and calls[0].agent_source == "pattern"
    assert recording.outcome.status in ("success", "failure")
    # Replace the agent's first step with working code: the framework runs it and finishes.
    fixed = replay(
        tmp_path / "rec",
        0,
        "Thought: add.\n<code>\nfinal_answer(5)\n</code>",
        EmbeddedUpstream(embedded),
        tmp_path / "fixed",
    )
    assert fixed.calls()[0].origin == "substituted"
    assert fixed.outcome.status == "success", (tmp_path / "fixed" / "mas.stdout").read_text()
