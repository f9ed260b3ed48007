from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.serve.store import TraceStore
from agentracer.trajectory import Step, StepKind, Trajectory, Verdict
from tests.serve.conftest import interruptible
from tests.serve.test_store import span

runner = CliRunner()
TRACE = "a" * 32


def filled_store(path: Path) -> Path:
    store = TraceStore(path)
    store.put_spans([span()], now=1.0)
    trajectory = Trajectory(
        id="run",
        steps=[Step(index=0, agent="Planner", speaker="Planner", content="plan"),
               Step(index=1, agent="python", speaker="python", kind=StepKind.TOOL, content="4"),
               Step(index=2, agent="Solver", speaker="Solver", content="answer: 5")],
        agents=["Planner", "Solver"],
    )  # fmt: skip
    store.put_assembly(TRACE, last_seen=1.0, trajectory=trajectory, failed=True)
    store.put_verdict(TRACE, Verdict(agent="Solver", step=2, tracer="last-agent-step", reason="r"))
    store.put_spans([span(trace="b" * 32)], now=2.0)  # still open
    store.close()
    return path


def test_traces_list_show_export(tmp_path: Path) -> None:
    store = str(filled_store(tmp_path / "store"))
    result = runner.invoke(app, ["traces", "list", "--store", store, "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    assert (listed["version"], listed["kind"]) == (1, "traces")
    rows = listed["traces"]
    assert [(r["trace_id"], r["state"], r["failed"]) for r in rows] == [
        ("b" * 32, "open", None),
        (TRACE, "done", True),
    ]
    assert rows[1]["verdict"]["agent"] == "Solver"
    result = runner.invoke(app, ["traces", "list", "--store", store, "--failed", "--json"])
    assert [r["trace_id"] for r in json.loads(result.stdout)["traces"]] == [TRACE]
    result = runner.invoke(app, ["traces", "list", "--store", store, "--failed"])
    assert (
        result.exit_code == 0 and "1 traces" in result.stdout
    )  # the table wraps with the terminal
    result = runner.invoke(app, ["traces", "show", TRACE, "--store", store])
    assert result.exit_code == 0 and "◀ blamed" in result.stdout and "answer: 5" in result.stdout
    out = tmp_path / "run.json"
    result = runner.invoke(app, ["traces", "export", TRACE, "--store", store, "--out", str(out)])
    assert result.exit_code == 0, result.output
    # The export is our trajectory JSON, so the other commands read it.
    result = runner.invoke(app, ["attribute", str(out), "--tracer", "first-agent-step", "--json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["verdict"]["agent"] == "Planner"


def test_traces_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["traces", "list", "--store", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no trace store in" in result.stderr
    store = str(filled_store(tmp_path / "store"))
    result = runner.invoke(app, ["traces", "show", "c" * 32, "--store", store])
    assert result.exit_code == 2 and "no trace 'ccc" in result.stderr
    result = runner.invoke(app, ["traces", "export", "b" * 32, "--store", store, "--out", "x.json"])
    assert result.exit_code == 2 and "has no trajectory yet (open)" in result.stderr
    result = runner.invoke(app, ["serve", "--failed-if", "os.system('x')", "--store", store])
    assert result.exit_code == 2 and "--failed-if" in result.stderr


def test_serve_warns_loudly_when_not_on_loopback(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "agentracer.cli", "serve", "--host", "0.0.0.0", "--port", "0",
         "--store", str(tmp_path), "--tracer", "random"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "80"},
        preexec_fn=interruptible,
    )  # fmt: skip
    try:
        seen = ""
        deadline = time.monotonic() + 60
        while "OTLP/HTTP" not in seen and time.monotonic() < deadline:
            seen += process.stderr.readline()  # type: ignore[union-attr]
        flat = " ".join(seen.split())
        assert "WARNING: listening on 0.0.0.0, not loopback" in flat
        assert "no authentication" in flat
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
