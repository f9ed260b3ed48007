"""`replay` and `annotate` run a recording's stored commands unasked only when this user
signed it on this machine and nobody changed it (issue 9)."""

import dataclasses
import json
import stat
import sys
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.replay import recording as rec
from agentracer.replay.session import record
from agentracer.replay.signing import KEY_FILE, config_dir, is_trusted
from tests.replay.conftest import FakeUpstream, team

runner = CliRunner()


def _replay(source: Path, out: Path, *flags: str):
    return runner.invoke(app, [
        "replay", str(source), "--at", "0", "--content", "x", "--model", "openai/unused",
        "--base-url", "http://127.0.0.1:9/v1", "--out", str(out), *flags,
    ])  # fmt: skip


def test_a_recording_is_signed_with_a_private_key(tmp_path: Path) -> None:
    recording = record(team(), FakeUpstream(), tmp_path / "rec")
    assert recording.signature and is_trusted(rec.load(tmp_path / "rec"))
    key = config_dir() / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_an_edited_recording_runs_nothing_unconfirmed(tmp_path: Path) -> None:
    record(team(), FakeUpstream(), tmp_path / "rec")
    path = tmp_path / "rec" / rec.RECORDING_FILE
    data = json.loads(path.read_text())
    marker = tmp_path / "pwned"
    data["check"] = f"{sys.executable} -c \"open('{marker}', 'w')\""
    path.write_text(json.dumps(data))
    assert not is_trusted(rec.load(tmp_path / "rec"))
    refused = _replay(tmp_path / "rec", tmp_path / "rep")
    assert refused.exit_code == 2
    assert "refusing to run commands" in refused.stderr and str(marker) in refused.stderr
    assert not marker.exists() and not (tmp_path / "rep").exists()
    annotate = runner.invoke(app, ["annotate", str(tmp_path / "rec"), "--out", str(tmp_path / "d"),
                                   "--analyzer", "openai/unused"])  # fmt: skip
    assert annotate.exit_code == 2 and "refusing" in annotate.stderr
    declined = runner.invoke(app, ["replay", str(tmp_path / "rec"), "--at", "0", "--content", "x",
                                   "--out", str(tmp_path / "rep")], input="n\n")  # fmt: skip
    assert declined.exit_code == 2 and not marker.exists()


def test_a_signed_recording_replays_unasked_and_yes_confirms_a_foreign_one(
    tmp_path: Path, monkeypatch
) -> None:
    from tests.llm.loopback import ScriptedServer

    record(team(), FakeUpstream(), tmp_path / "rec")
    with ScriptedServer() as server:
        flags = ("--model", "openai/scripted", "--base-url", server.base_url)
        base = ["replay", str(tmp_path / "rec"), "--at", "2", "--content", "approved"]
        mine = runner.invoke(app, [*base, "--out", str(tmp_path / "a"), *flags])
        assert mine.exit_code == 0, mine.output
        assert "not made by you" not in mine.stderr
        monkeypatch.setenv("AGENTRACER_CONFIG_DIR", str(tmp_path / "another-user"))
        foreign = runner.invoke(app, [*base, "--out", str(tmp_path / "b"), *flags, "--yes"])
        assert foreign.exit_code == 0, foreign.output
        assert "not made by you" in foreign.stderr and "team.py" in foreign.stderr


def _tampered(program, directory: Path, project: Path) -> Path:
    """Record `program` in `project`, then change its check into one that leaves a marker
    there (what a tampered or foreign recording would run); returns the marker's path."""
    project.mkdir(exist_ok=True)
    record(dataclasses.replace(program, cwd=project), _upstream_for(program), directory)
    path = directory / rec.RECORDING_FILE
    data = json.loads(path.read_text())
    marker = project / "pwned"
    data["check"] = f"{sys.executable} -c \"open('{marker}', 'w')\""
    path.write_text(json.dumps(data))
    return marker


def _upstream_for(program):
    from tests.systems.scripted import ScriptedSimUpstream

    return (
        ScriptedSimUpstream()
        if "agentracer.systems" in " ".join(program.command)
        else (FakeUpstream())
    )


def test_feedback_and_faithfulness_ask_before_running_a_stored_command(tmp_path: Path) -> None:
    """Issue 18, item 5: the same trust rule, and --yes, for every command that runs a stored
    command; before, `feedback` and `faithfulness` ran a tampered recording's check unasked."""
    from tests.llm.loopback import ScriptedServer
    from tests.systems.test_simulations import simulation

    failed = _tampered(team(expect="rejected"), tmp_path / "failed", tmp_path / "team")
    sim = _tampered(
        simulation("economy", "--agents", "2", "--months", "2"), tmp_path / "sim", tmp_path / "eco"
    )
    with ScriptedServer() as server:
        endpoint = ["--model", "openai/scripted", "--base-url", server.base_url]
        feedback = runner.invoke(app, [
            "feedback", str(tmp_path / "failed"), "--tracer", "first-agent-step",
            "--out", str(tmp_path / "fb"), *endpoint,
        ])  # fmt: skip
        faithfulness = runner.invoke(app, [
            "faithfulness", str(tmp_path / "sim"), "--scorer", "random", "--top", "1",
            "--variant", "insertion", "--work-dir", str(tmp_path / "fw"), *endpoint,
        ])  # fmt: skip
    for result, marker in ((feedback, failed), (faithfulness, sim)):
        assert result.exit_code == 2, result.output
        assert "refusing to run commands" in result.stderr and str(marker) in result.stderr
        assert not marker.exists()
    assert not (tmp_path / "fb").exists() and not (tmp_path / "fw").exists()
    with ScriptedServer() as server:
        endpoint = ["--model", "openai/scripted", "--base-url", server.base_url]
        confirmed = runner.invoke(app, [
            "feedback", str(tmp_path / "failed"), "--tracer", "first-agent-step",
            "--out", str(tmp_path / "fb"), "--yes", *endpoint,
        ])  # fmt: skip
    assert confirmed.exit_code == 0, confirmed.output
    assert "not made by you" in confirmed.stderr and failed.exists()  # shown, then run
