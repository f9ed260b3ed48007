"""A new user's rough edges (issue 20): messages that name the right things, in good English,
and commands that fail when nothing ran."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.cli.forecast import follow_line
from agentracer.forecast.registry import SPECS
from agentracer.serve.follow import FollowResult
from agentracer.wording import count, plural
from tests.conftest import EXAMPLE

runner = CliRunner(env={"COLUMNS": "80"})


def test_an_unknown_forecaster_lists_the_forecasters() -> None:
    result = runner.invoke(app, ["forecast", str(EXAMPLE), "--tracer", "nosuch"])
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "unknown forecaster 'nosuch'; forecasters: " + ", ".join(SPECS) in message
    assert message.index("fast-hazard") < message.index("all-at-once")  # tracers come second


def test_eval_forecast_with_an_unknown_forecaster_lists_the_forecasters(tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "eval", "--forecast", "--bench", "tracertraj", "--tracer", "nosuch",
        "--out", str(tmp_path / "run"),
    ])  # fmt: skip
    assert result.exit_code == 2 and "unknown forecaster 'nosuch'" in result.stderr


def test_a_tracer_name_is_still_a_forecaster_in_prefix_mode() -> None:
    result = runner.invoke(app, ["forecast", str(EXAMPLE), "--tracer", "last-agent-step"])
    assert result.exit_code == 0, result.output


def test_recording_a_program_that_does_not_exist_fails(tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "record", "--model", "openai/scripted", "--base-url", "http://127.0.0.1:9/v1",
        "--out", str(tmp_path / "rec"), "--", "nonexistent-program-xyz",
    ])  # fmt: skip
    assert result.exit_code == 2
    assert "cannot start 'nonexistent-program-xyz'" in result.stderr
    assert "nothing was recorded" in result.stderr
    assert "served the live calls" not in result.output


def test_a_program_that_ran_without_model_calls_does_not_claim_live_calls(tmp_path: Path) -> None:
    result = runner.invoke(app, [
        "record", "--model", "openai/scripted", "--base-url", "http://127.0.0.1:9/v1",
        "--out", str(tmp_path / "rec"), "--no-isolate", "--", sys.executable, "-c", "pass",
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "0 model calls" in result.stdout
    assert "served the live calls" not in result.stdout


@pytest.mark.parametrize(
    ("n", "noun", "said"),
    [(1, "trajectory", "1 trajectory"), (2, "trajectory", "2 trajectories"),
     (0, "model call", "0 model calls"), (1, "model call", "1 model call"),
     (3, "day", "3 days"), (2, "match", "2 matches")],
)  # fmt: skip
def test_counted_nouns(n: int, noun: str, said: str) -> None:
    assert count(n, noun) == said
    assert plural("step") == "steps"


def test_convert_of_one_run_says_one_trajectory(tmp_path: Path) -> None:
    result = runner.invoke(app, ["convert", str(EXAMPLE), str(tmp_path / "out.jsonl")])
    assert result.exit_code == 0
    assert "wrote 1 trajectory to" in result.output and "1 trajectories" not in result.output


def test_follow_lines_read_as_english() -> None:
    ended = follow_line(FollowResult("t", 2, 3, 5, True, agent="Coder"))
    assert (
        ended == "alarm at step 2 (Coder), raised after reading 3 of 5 steps; the trace had ended"
    )
    running = follow_line(FollowResult("t", 0, 1, 1, False, agent="Coder"))
    assert running == (
        "alarm at step 0 (Coder), raised while the trace was still running, after reading "
        "1 of 1 step so far"
    )
    assert (
        follow_line(FollowResult("t", None, 1, 1, True)) == "no alarm: the trace ended after 1 step"
    )
