"""`agentracer faithfulness` on the command line, with a scripted model on loopback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from tests.llm.loopback import Reply, ScriptedServer
from tests.systems.scripted import ScriptedSimUpstream

runner = CliRunner()


@pytest.fixture
def sim_server() -> Iterator[ScriptedServer]:
    model = ScriptedSimUpstream()
    with ScriptedServer(default=lambda body: Reply(body=model.complete(body))) as server:
        yield server


def test_faithfulness_prints_the_table_and_writes_the_report(
    sim_server: ScriptedServer, tmp_path: Path
) -> None:
    module = [sys.executable, "-m", "agentracer.systems.social_network"]
    recorded = runner.invoke(app, [
        "record", "--model", "openai/scripted", "--base-url", sim_server.base_url,
        "--out", str(tmp_path / "sn"), "--check", " ".join([*module, "check"]),
        "--", *module, "run", "--agents", "2", "--rounds", "2",
    ])  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    result = runner.invoke(app, [
        "faithfulness", str(tmp_path / "sn"), "--tracer", "first-agent-step",
        "--scorer", "random", "--top", "1", "--top", "2", "-k", "1",
        "--model", "openai/scripted", "--base-url", sim_server.base_url,
        "--out", str(tmp_path / "report.json"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "RD@1" in result.output and "tracer:first-agent-step" in result.output
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["neutral_action"] == "PASS" and report["actions"] == 4
    assert [r["scorer"] for r in report["rankings"]] == ["random", "tracer:first-agent-step"]
    assert report["rankings"][1]["order"][0] == 0
    assert len(report["points"]) == 2 * 2 * 2
    assert (tmp_path / "sn.faithfulness").is_dir()
    # The replays stay; the same command again reuses every one of them (issue 18, item 8).
    again = runner.invoke(app, [
        "faithfulness", str(tmp_path / "sn"), "--tracer", "first-agent-step",
        "--scorer", "random", "--top", "1", "--top", "2", "-k", "1",
        "--model", "openai/scripted", "--base-url", sim_server.base_url,
    ])  # fmt: skip
    assert again.exit_code == 0, again.output
    assert f"resumed: {report['replays']} of {report['replays']} replays" in again.output


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    for flags, message in [
        (["--top", "0"], "at least 1"),
        (["--scorer", "oracle"], "unknown scorer"),
        (["--variant", "both"], "deletion or insertion"),
        (["--tracer", "nope"], "unknown tracer"),
    ]:
        result = runner.invoke(app, ["faithfulness", str(tmp_path), *flags])
        assert result.exit_code == 2, result.output
        assert message in result.output
