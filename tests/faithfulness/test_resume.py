"""`faithfulness` can be run again after Ctrl-C (issue 18, item 8): the real command in its
own process gets SIGINT while a replay runs; the same command again resumes, reusing the
finished replays and redoing the cut one, and reports what an uninterrupted run reports."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agentracer.replay.session import record
from tests.datasets.test_resume import wait_for
from tests.llm.loopback import Reply, ScriptedServer
from tests.systems.scripted import ScriptedSimUpstream
from tests.systems.test_simulations import simulation

pytestmark = pytest.mark.slow


def _faithfulness(recording: Path, work: Path, report: Path, server: ScriptedServer) -> list[str]:
    return [
        sys.executable, "-m", "agentracer.cli", "faithfulness", str(recording),
        "--scorer", "random", "--top", "1", "--top", "2", "--variant", "deletion",
        "--work-dir", str(work), "--out", str(report),
        "--model", "openai/scripted", "--base-url", server.base_url,
    ]  # fmt: skip


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # a suite run in the background ignores it


def test_faithfulness_resumes_after_ctrl_c(tmp_path: Path) -> None:
    model = ScriptedSimUpstream()
    record(simulation("social_network", "--agents", "2", "--rounds", "2"), model, tmp_path / "sn")
    # each answer takes a moment, so that a replay is running when Ctrl-C comes
    slow = lambda body: Reply(body=model.complete(body), delay=0.4)  # noqa: E731
    work, report = tmp_path / "work", tmp_path / "report.json"
    with ScriptedServer(default=slow) as server:
        run = subprocess.Popen(
            _faithfulness(tmp_path / "sn", work, report, server),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_default_sigint,
        )  # fmt: skip

        def one_done_one_running() -> bool:
            dirs = [d for d in work.glob("*") if (d / "events.jsonl").is_file()]
            done = [d for d in dirs if (d / "recording.json").is_file()]
            return bool(done) and len(dirs) > len(done)

        try:
            wait_for(one_done_one_running, "a finished replay and a running one")
        finally:
            run.send_signal(signal.SIGINT)
            run.communicate(timeout=60)
        assert run.returncode != 0 and not report.exists()
        finished = {m: m.stat().st_mtime_ns for m in work.glob("*/edits.json")}
        again = subprocess.run(
            _faithfulness(tmp_path / "sn", work, report, server),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        fresh = subprocess.run(
            _faithfulness(tmp_path / "sn", tmp_path / "work2", tmp_path / "fresh.json", server),
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert fresh.returncode == 0, fresh.stderr
    assert f"resumed: {len(finished)} of 2 replays were already done" in again.stdout
    for marker, mtime in finished.items():
        assert marker.stat().st_mtime_ns == mtime  # reused, not replayed
    resumed, uninterrupted = (
        json.loads(report.read_text()),
        json.loads((tmp_path / "fresh.json").read_text()),
    )
    assert resumed["points"] == uninterrupted["points"] and resumed["replays"] == 2
