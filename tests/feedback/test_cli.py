"""`agentracer feedback` on the command line, with the teachable scripted model on loopback."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from tests.feedback.test_feedback import TeachableUpstream
from tests.llm.loopback import Reply, ScriptedServer

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def teachable() -> Iterator[ScriptedServer]:
    model = TeachableUpstream()
    with ScriptedServer(default=lambda body: Reply(body=model.complete(body))) as server:
        yield server


def test_feedback_replays_with_the_critique_and_the_run_succeeds(
    teachable: ScriptedServer, tmp_path: Path
) -> None:
    module = [sys.executable, "-m", "agentracer.systems.math_team"]
    endpoint = ["--model", "openai/scripted", "--base-url", teachable.base_url]
    recorded = runner.invoke(app, [
        "record", *endpoint, "--out", str(tmp_path / "rec"),
        "--check", " ".join([*module, "check", "--problem", "add"]),
        "--", *module, "run", "--problem", "add",
    ])  # fmt: skip
    assert recorded.exit_code == 0 and "failure" in recorded.output, recorded.output
    for mode in ("replay", "task"):
        result = runner.invoke(app, [
            "feedback", str(tmp_path / "rec"), "--tracer", "first-agent-step", "--mode", mode,
            "--out", str(tmp_path / mode), *endpoint,
        ])  # fmt: skip
        assert result.exit_code == 0, result.output
        assert "critique for Solver (step 0, template)" in result.output
        assert "outcome success" in result.output
        if mode == "replay":  # issue 20 item 16: the re-run blamed call is marked
            assert re.search(r"call 0 \[substituted\] Solver:", result.stdout), result.stdout
    bad = runner.invoke(app, ["feedback", str(tmp_path / "rec"), "--mode", "x", "--out", "o"])
    assert bad.exit_code == 2 and "replay or task" in bad.output


def test_feedback_refuses_a_run_that_did_not_fail(
    teachable: ScriptedServer, tmp_path: Path
) -> None:
    """Issue 18, item 17: there is nothing to critique in a successful run; before, feedback
    blamed a step of it and ran it again."""
    module = [sys.executable, "-m", "agentracer.systems.math_team"]
    endpoint = ["--model", "openai/scripted", "--base-url", teachable.base_url]
    recorded = runner.invoke(app, [
        "record", *endpoint, "--out", str(tmp_path / "rec"),
        "--check", " ".join([*module, "check", "--problem", "add"]),
        "--", *module, "run", "--problem", "add", "--feedback", "the sum at step 0 is wrong",
    ])  # fmt: skip
    assert recorded.exit_code == 0 and "outcome success" in recorded.output, recorded.output
    asked = len(teachable.requests)
    result = runner.invoke(app, [
        "feedback", str(tmp_path / "rec"), "--tracer", "first-agent-step",
        "--out", str(tmp_path / "again"), *endpoint,
    ])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "outcome is 'success', not a failure" in result.stderr
    assert len(teachable.requests) == asked and not (tmp_path / "again").exists()


def test_the_readme_explains_the_substituted_marker() -> None:
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert (
        "the calls `feedback` prints mark the blamed agent's calls from the blamed one on "
        "`[substituted]`" in readme
    )
