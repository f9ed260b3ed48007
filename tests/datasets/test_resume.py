"""`annotate` survives `kill -9` of its driver (issue 18, item 8): the real command in its own
process, killed while a replay runs, then started again; it resumes, reusing the replays that
had finished and redoing only the one the kill cut off, and no program of the killed run is
left running."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from agentracer.replay.session import record
from tests.llm.loopback import Reply, ScriptedServer
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team

pytestmark = pytest.mark.slow


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _processes_with(marker: str) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            continue
    return found


def _annotate(recording: Path, out: Path, server: ScriptedServer) -> list[str]:
    return [
        sys.executable, "-m", "agentracer.cli", "annotate", str(recording), "--out", str(out),
        "--analyzer", "openai/scripted", "--model", "openai/scripted",
        "--base-url", server.base_url,
    ]  # fmt: skip


def test_annotate_resumes_after_kill_9_redoing_only_the_cut_replay(tmp_path: Path) -> None:
    model = ArithmeticUpstream(buggy=True)
    project = tmp_path / "project"
    project.mkdir()
    scratch = f"scratch-{uuid.uuid4().hex}.txt"  # names this test's programs in /proc
    program = dataclasses.replace(
        team(*ARITHMETIC, "--scratch", scratch, "--scratch-wait", "1.5"), cwd=project
    )
    record(program, model, tmp_path / "rec")
    env = {**os.environ, "AGENTRACER_CACHE_DIR": str(tmp_path / "cache")}
    with ScriptedServer(default=lambda body: Reply(body=model.complete(body))) as server:
        out = tmp_path / "dataset"
        driver = subprocess.Popen(
            _annotate(tmp_path / "rec", out, server), env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        replays = out / "replays"

        def one_done_one_running() -> bool:
            dirs = [d for d in replays.glob("*/*") if (d / "events.jsonl").is_file()]
            done = [d for d in dirs if (d / "recording.json").is_file()]
            return bool(done) and len(dirs) > len(done)

        try:
            wait_for(one_done_one_running, "a finished replay and a running one")
        finally:
            driver.send_signal(signal.SIGKILL)
            driver.wait(timeout=30)
        finished = {d: (d / "recording.json").stat().st_mtime_ns
                    for d in replays.glob("*/*") if (d / "recording.json").is_file()}  # fmt: skip
        cut = [d for d in replays.glob("*/*") if not (d / "recording.json").is_file()]
        assert finished and len(cut) == 1
        # the sandbox dies with its recorder: nothing of the killed run goes on writing
        wait_for(lambda: not _processes_with(scratch), "the killed run's programs to end", 30)

        again = subprocess.run(
            _annotate(tmp_path / "rec", out, server), env=env,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stderr
        fresh = subprocess.run(
            _annotate(tmp_path / "rec", tmp_path / "uninterrupted", server),
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
        assert fresh.returncode == 0, fresh.stderr
    for directory, mtime in finished.items():  # reused as they were, not replayed
        assert (directory / "recording.json").stat().st_mtime_ns == mtime
    assert (cut[0] / "recording.json").is_file()  # the cut replay was run again, whole
    resumed = [json.loads(line) for line in (out / "annotate.log").read_text().splitlines()]
    uninterrupted = [
        json.loads(line)
        for line in (tmp_path / "uninterrupted" / "annotate.log").read_text().splitlines()
    ]
    assert len(resumed) == 1 and resumed[0]["status"] == uninterrupted[0]["status"]
    assert resumed[0]["replays"] == uninterrupted[0]["replays"] >= 2
