"""Phoenix both ways, against a real Arize Phoenix server (`phoenix_server.py`): traces sent by
the real OpenTelemetry SDK are read back through Phoenix's REST API, attributed, and the verdict
is written as a span annotation on the blamed span, then read back through Phoenix's own API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.export.phoenix import PhoenixClient, identifier
from agentracer.export.phoenix_sync import PhoenixAnnotator, PhoenixWatcher
from agentracer.tracers import create_tracer
from tests.export.phoenix_runs import PROJECT, SentRuns, annotations, send_runs
from tests.export.phoenix_server import Phoenix
from tests.formats.otel_helpers import WRONG
from tests.llm.loopback import Reply, completion

pytestmark = pytest.mark.slow
runner = CliRunner()
WRITER, RESEARCHER, PLANNER = 5, 2, 1  # the failed run's steps


@pytest.fixture(scope="module")
def runs(phoenix: Phoenix, tmp_path_factory: pytest.TempPathFactory) -> SentRuns:
    return send_runs(phoenix.url, tmp_path_factory.mktemp("runs"))


def _ours(phoenix: Phoenix, runs: SentRuns, tracer: str) -> list[dict]:  # type: ignore[type-arg]
    spans = list(runs.span_of_step.values())
    mine = identifier(tracer, runs.failed_trace)
    return [a for a in annotations(phoenix.url, PROJECT, spans) if a["identifier"] == mine]


def _phoenix(phoenix: Phoenix, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(
        app, ["phoenix", "--url", phoenix.url, "--project", PROJECT, "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_one_command_annotates_the_blamed_span_and_a_rerun_updates_it(
    phoenix: Phoenix, runs: SentRuns
) -> None:
    first = _phoenix(phoenix, "--tracer", "last-agent-step", "--since", "1h")
    assert first["version"] == 1 and first["kind"] == "phoenix"
    status = {r["trace_id"]: r["status"] for r in first["results"]}
    assert status == {runs.failed_trace: "annotated", runs.ok_trace: "not failed"}
    [annotation] = _ours(phoenix, runs, "last-agent-step")
    assert annotation["span_id"] == runs.span_of_step[WRITER]  # the Writer's model call
    assert annotation["name"] == "agentracer.blame"
    assert annotation["annotator_kind"] == "CODE"  # a baseline asks no model
    result = annotation["result"]
    assert result["label"] == "blamed" and result["score"] == pytest.approx(0.25)
    assert "the last step taken by an agent" in result["explanation"]
    assert WRONG in result["explanation"]  # the evidence quote
    assert annotation["metadata"]["agent"] == "Writer" and annotation["metadata"]["step"] == WRITER

    _phoenix(phoenix, "--tracer", "last-agent-step")  # the same run again: an update
    [again] = _ours(phoenix, runs, "last-agent-step")
    assert again["id"] == annotation["id"] and again["span_id"] == annotation["span_id"]


def test_a_rerun_that_blames_another_span_moves_the_annotation(
    phoenix: Phoenix, runs: SentRuns, scripted, cache_dir: Path
) -> None:
    scripted.script = [
        Reply(body=completion("Agent Name: Writer\nStep Number: 5\nReason for Mistake: 21.0")),
        Reply(body=completion("Agent Name: Researcher\nStep Number: 2\nReason for Mistake: x")),
    ]
    model = ["--tracer", "all-at-once", "--model", "openai/scripted", "--base-url",
             scripted.base_url, "--no-cache", "--trace", runs.failed_trace]  # fmt: skip
    _phoenix(phoenix, *model)
    [before] = _ours(phoenix, runs, "all-at-once")
    assert before["span_id"] == runs.span_of_step[WRITER]
    assert before["annotator_kind"] == "LLM" and before["metadata"]["model"] == "openai/scripted"
    _phoenix(phoenix, *model)
    [after] = _ours(phoenix, runs, "all-at-once")  # one blamed span per tracer, never two
    assert after["span_id"] == runs.span_of_step[RESEARCHER]


def test_traces_are_picked_by_time_window_or_id(phoenix: Phoenix, runs: SentRuns) -> None:
    old = _phoenix(phoenix, "--tracer", "first-agent-step", "--until", "1h")
    assert old["results"] == []  # both runs started less than an hour ago
    one = _phoenix(phoenix, "--tracer", "first-agent-step", "--trace", runs.ok_trace)
    assert [(r["trace_id"], r["status"]) for r in one["results"]] == [(runs.ok_trace, "not failed")]


def test_bad_project_or_server_is_one_line(phoenix: Phoenix) -> None:
    result = runner.invoke(app, ["phoenix", "--url", phoenix.url, "--project", "nosuch"])
    assert result.exit_code == 2
    assert "has no project 'nosuch'" in result.stderr and PROJECT in result.stderr
    result = runner.invoke(app, ["phoenix", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot be reached" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_attribute_exports_to_phoenix_as_a_sink(phoenix: Phoenix, runs: SentRuns) -> None:
    destination = f"phoenix+{phoenix.url}?project={PROJECT}"
    result = runner.invoke(
        app, ["attribute", str(runs.failed_file), "--tracer", "first-agent-step",
              "--export-verdicts", destination],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 sent, 0 not delivered" in result.stderr
    [annotation] = _ours(phoenix, runs, "first-agent-step")
    assert annotation["span_id"] == runs.span_of_step[PLANNER]


def test_the_watcher_annotates_new_failed_traces_once(phoenix: Phoenix, runs: SentRuns) -> None:
    def watcher() -> PhoenixWatcher:
        client = PhoenixClient(phoenix.url)
        tracer = create_tracer("most-frequent-agent")
        annotator = PhoenixAnnotator(client, PROJECT, tracer, tracer_name="most-frequent-agent")
        since = datetime.now(UTC) - timedelta(hours=1)
        return PhoenixWatcher(annotator, since=since, every=1, settle=0)

    import asyncio

    first = watcher()
    results = asyncio.run(first.poll())
    assert {r.trace_id: r.status for r in results}[runs.failed_trace] == "annotated"
    assert asyncio.run(first.poll()) == []  # finished traces are not looked at again
    restarted = watcher()  # a restarted service keeps what is there
    results = asyncio.run(restarted.poll())
    assert {r.trace_id: r.status for r in results}[runs.failed_trace] == "kept"
    assert len(_ours(phoenix, runs, "most-frequent-agent")) == 1


def test_serve_phoenix_annotates_continuously(
    phoenix: Phoenix, runs: SentRuns, tmp_path: Path
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.serve.conftest import interruptible
    from tests.serve.test_receiver import wait_for

    command = [sys.executable, "-m", "agentracer.cli", "serve", "--port", "0", "--store",
               str(tmp_path / "store"), "--tracer", "first-hand-off", "--settle", "0.5",
               "--phoenix", phoenix.url, "--phoenix-project", PROJECT, "--phoenix-every", "1"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    server = subprocess.Popen(
        command, env=env, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible
    )
    try:
        wait_for(lambda: _ours(phoenix, runs, "first-hand-off") or None, timeout=120)
    finally:
        server.send_signal(signal.SIGINT)
        _, stderr = server.communicate(timeout=60)
    assert f"Phoenix: {phoenix.url} (project {PROJECT})" in stderr
    [annotation] = _ours(phoenix, runs, "first-hand-off")
    assert annotation["annotator_kind"] == "CODE"
