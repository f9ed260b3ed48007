"""`agentracer record`, `replay` and `annotate` on the command line, against a scripted
OpenAI-compatible server on loopback standing in for the model."""

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from tests.llm.loopback import Reply, ScriptedServer
from tests.replay.conftest import ARITHMETIC, PROGRAMS, ArithmeticUpstream

runner = CliRunner()


@pytest.fixture
def arithmetic_server():
    """A loopback server answering like ArithmeticUpstream (worker buggy while `buggy` is set)."""
    model = ArithmeticUpstream(buggy=True)

    def respond(body):
        return Reply(body=model.complete(body))

    with ScriptedServer(default=respond) as server:
        server.model = model
        yield server


def _record(server: ScriptedServer, out: Path, *flags: str):
    return runner.invoke(app, [
        "record", "--model", "openai/scripted", "--base-url", server.base_url, "--out", str(out),
        "--check", f"{sys.executable} {PROGRAMS / 'check.py'} approved",
        "--", sys.executable, str(PROGRAMS / "team.py"), *ARITHMETIC, *flags,
    ])  # fmt: skip


def test_record_replay_annotate_eval(arithmetic_server: ScriptedServer, tmp_path: Path) -> None:
    result = _record(arithmetic_server, tmp_path / "rec")
    assert result.exit_code == 0, result.output
    assert "3 model calls (0 recorded, 0 substituted, 3 live), outcome failure" in " ".join(
        result.stdout.split()
    )
    assert "call 1 [live] Worker: The sum of the two numbers is 6." in result.stdout

    fixed = runner.invoke(app, [
        "replay", str(tmp_path / "rec"), "--at", "1", "--content", "The sum is 5.",
        "--model", "openai/scripted", "--base-url", arithmetic_server.base_url, "--out", str(tmp_path / "rep"),
    ])  # fmt: skip
    assert fixed.exit_code == 0, fixed.output
    assert "(1 recorded, 1 substituted, 1 live), outcome success" in " ".join(fixed.stdout.split())

    shown = runner.invoke(app, ["show", str(tmp_path / "rep")])
    assert shown.exit_code == 0 and "Worker" in shown.stdout and "checker (tool)" in shown.stdout

    dataset = tmp_path / "dataset"
    annotated = runner.invoke(app, [
        "annotate", str(tmp_path / "rec"), "--out", str(dataset), "--analyzer", "openai/scripted",
        "--model", "openai/scripted", "--base-url", arithmetic_server.base_url,
    ])  # fmt: skip
    assert annotated.exit_code == 0, annotated.output
    # The scripted server answers the analyzer like any call: its "fix" for the planner step is
    # the planner's text (no flip), for the worker step the worker's buggy text (no flip either),
    # so a label appears only if some fix flips the run; the dataset is written either way.
    assert (dataset / "tracertraj.jsonl").is_file()
    assert re.search(r"of \d+ recordings? labelled", annotated.stdout)


def test_bad_invocations_are_one_line_errors(
    arithmetic_server: ScriptedServer, tmp_path: Path
) -> None:
    assert _record(arithmetic_server, tmp_path / "rec").exit_code == 0
    again = _record(arithmetic_server, tmp_path / "rec")
    assert again.exit_code == 2 and "already holds files" in again.stderr
    out_of_range = runner.invoke(app, ["replay", str(tmp_path / "rec"), "--at", "9", "--content", "x",
                                       "--model", "openai/scripted", "--base-url", arithmetic_server.base_url,
                                       "--out", str(tmp_path / "r2")])  # fmt: skip
    assert (
        out_of_range.exit_code == 2 and "outside the recording's model calls" in out_of_range.stderr
    )
    not_a_recording = runner.invoke(app, ["replay", str(tmp_path), "--at", "0", "--content", "x",
                                          "--model", "openai/scripted", "--base-url", arithmetic_server.base_url,
                                          "--out", str(tmp_path / "r3")])  # fmt: skip
    assert not_a_recording.exit_code == 2 and "not a recording" in not_a_recording.stderr
    bad_strategy = runner.invoke(
        app,
        ["annotate", str(tmp_path / "rec"), "--out", str(tmp_path / "d"), "--strategy", "magic"],
    )
    assert bad_strategy.exit_code == 2 and "linear or ranked" in bad_strategy.stderr


def test_the_annotate_dataset_is_scored_by_eval(tmp_path: Path) -> None:
    import asyncio

    from agentracer.datasets.builder import annotate
    from agentracer.replay.session import record
    from tests.replay.conftest import team
    from tests.replay.test_counterfactual import ScriptedAnalyzer

    record(team(*ARITHMETIC), ArithmeticUpstream(buggy=True), tmp_path / "failed")
    asyncio.run(annotate([tmp_path / "failed"], tmp_path / "dataset",
                         upstream_for=lambda s: ArithmeticUpstream(buggy=True), analyzer=ScriptedAnalyzer()))  # fmt: skip
    result = runner.invoke(app, ["eval", "--bench", str(tmp_path / "dataset"), "--tracer", "last-agent-step",
                                 "--out", str(tmp_path / "run"), "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    subset = json.loads(result.stdout)["subsets"]["dataset"]
    assert (
        subset["n"] == 1 and subset["agent_accuracy"] == 0.0
    )  # the last agent step is the Reviewer's


BAD_RECORDINGS = {
    # issue 18, item 13: each gave a traceback in every command below
    "events-array": (None, b"[1, 2]\n", "line 1 of events.jsonl is a JSON list, not an object"),
    "events-number": (None, b"42\n", "line 1 of events.jsonl is a JSON int, not an object"),
    "not-utf8": (b'{"id": "\xff\xfe"}', None, "not UTF-8: byte 8 of recording.json"),
    "header-list": (
        None,
        b'{"kind": "header", "recording": [1]}\n',
        "the header of events.jsonl holds no recording object",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDINGS))
def test_a_damaged_recording_is_a_one_line_error_in_every_command(
    case: str, tmp_path: Path
) -> None:
    whole, events, reason = BAD_RECORDINGS[case]
    bad = tmp_path / "bad"
    bad.mkdir()
    if whole is not None:
        (bad / "recording.json").write_bytes(whole)
    if events is not None:
        (bad / "events.jsonl").write_bytes(events)
    endpoint = ["--model", "openai/scripted", "--base-url", "http://127.0.0.1:9/v1"]
    for args in (
        ["show", str(bad)],
        ["attribute", str(bad), "--tracer", "random"],
        ["view", str(bad), "--out", str(tmp_path / "v.html")],
        ["replay", str(bad), "--at", "0", "--content", "x", "--out", str(tmp_path / "r"),
         *endpoint],
    ):  # fmt: skip
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        assert f"error: {bad}: unreadable recording ({reason})" in result.stderr, args
        assert result.exception is None or isinstance(result.exception, SystemExit)
    # annotate: the damaged recording fails alone, with its reason, and nothing is written for it
    annotated = runner.invoke(app, [
        "annotate", str(bad), "--out", str(tmp_path / "ds"), "--analyzer", "openai/scripted",
        "--base-url", "http://127.0.0.1:9/v1",
    ])  # fmt: skip
    assert annotated.exit_code == 0, annotated.output
    assert f"unreadable: {bad}: unreadable recording ({reason})" in annotated.stderr
    assert "0 of 1 recording labelled" in annotated.output
    assert not (tmp_path / "ds" / "annotate.log").exists()  # so a re-run tries it again


def test_a_torn_last_event_line_is_dropped(tmp_path: Path) -> None:
    """A recorder killed while it wrote a line leaves it torn: the rest is still read."""
    from agentracer.replay.recording import load

    (tmp_path / "events.jsonl").write_text(
        '{"kind": "header", "recording": {"id": "x", "command": ["true"], "model": "m"}}\n'
        '{"kind": "tool", "agent": "a", "content": "kept", "after_call": 0}\n{"kind": "to'
    )
    recording = load(tmp_path)
    assert recording.outcome.status == "interrupted" and recording.events[0].content == "kept"
