"""What a new user sees on a plain 80-column terminal: help wraps whole words, table headers
stay whole, and no machine-read line depends on the terminal's width."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.cli.traces import inconsistency_warning
from agentracer.formats import load_one
from agentracer.trajectory import Verdict
from tests.conftest import EXAMPLE

NARROW = CliRunner(env={"COLUMNS": "80"})


def test_eval_help_is_not_cut_mid_word() -> None:
    result = NARROW.invoke(app, ["eval", "--help"])
    assert result.exit_code == 0
    assert "…" not in result.stdout
    assert "openai/gpt-4o-mini" in result.stdout
    assert all(len(line) <= 80 for line in result.stdout.splitlines())


def test_version() -> None:
    result = NARROW.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert re.fullmatch(r"agentracer \S+ \(agentracer-attribution\)\n", result.stdout)


def test_eval_table_headers_are_whole(tmp_path: Path, data_dir: Path) -> None:
    result = NARROW.invoke(app, [
        "eval", "--bench", "tracertraj", "--tracer", "random", "--data", str(data_dir),
        "--out", str(tmp_path / "run"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "offici…" not in result.stdout and "unpar…" not in result.stdout
    assert "unparsed" in result.stdout and "official" in result.stdout


def test_long_paths_do_not_wrap_machine_read_lines(tmp_path: Path) -> None:
    deep = tmp_path / ("a-rather-long-directory-name-" * 4) / "out.jsonl"
    deep.parent.mkdir(parents=True)
    result = NARROW.invoke(app, ["convert", str(EXAMPLE), str(deep)])
    assert result.exit_code == 0
    assert f"wrote 1 trajectory to {deep}" in result.output


def test_attribute_on_a_directory_lists_what_is_inside(tmp_path: Path) -> None:
    (tmp_path / "run.json").write_text(EXAMPLE.read_text())
    result = NARROW.invoke(app, ["attribute", str(tmp_path), "--tracer", "random"])
    assert result.exit_code == 2
    assert "is a directory" in result.output and "run.json" in result.output
    assert "--out results.jsonl" in result.output


def test_a_verdict_naming_an_agent_who_did_not_act_there_is_flagged() -> None:
    trajectory = load_one(EXAMPLE)
    step = trajectory.agent_steps()[0]
    other = next(agent for agent in trajectory.agents if agent != step.agent)
    warning = inconsistency_warning(Verdict(agent=other, step=step.index), trajectory)
    assert warning is not None
    assert f"names {other} but step {step.index} was taken by {step.agent}" in warning
    assert inconsistency_warning(Verdict(agent=step.agent, step=step.index), trajectory) is None


def test_history_problems_are_said(tmp_path: Path) -> None:
    not_a_list = tmp_path / "dict.json"
    not_a_list.write_text('{"question": "q", "history": {"0": "x"}}')
    result = NARROW.invoke(app, ["show", str(not_a_list)])
    assert result.exit_code == 2 and "'history' is a JSON dict, not a list" in result.output
    no_content = tmp_path / "no_content.json"
    no_content.write_text('{"question": "q", "history": [{"name": "A", "role": "assistant"}]}')
    result = NARROW.invoke(app, ["show", str(no_content)])
    assert result.exit_code == 0 and "had no 'content'" in result.output
