"""A killed `annotate --ray` driver leaves no Ray process behind (issue 18, item 17): the real
command starts its own local Ray cluster, is killed with SIGKILL while a replay runs, and
every process it had started (GCS, raylet, agents, workers, the sandboxed replay) is gone
within seconds. Before, Ray's dashboard and runtime-env agents outlived the driver by a
minute or more."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentracer.replay.session import record
from agentracer.scale.reaper import _descendants, _table
from tests.datasets.test_resume import wait_for
from tests.llm.loopback import Reply, ScriptedServer
from tests.replay.conftest import ARITHMETIC, ArithmeticUpstream, team

pytestmark = pytest.mark.slow
pytest.importorskip("ray", reason="needs the [scale] extra")


def _names(pids: dict[int, str]) -> list[str]:
    names = []
    for pid in pids:
        try:
            names.append(Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode())
        except OSError:
            continue
    return names


def test_a_killed_annotate_ray_driver_leaves_no_ray_process(tmp_path: Path) -> None:
    model = ArithmeticUpstream(buggy=True)
    project = tmp_path / "project"
    project.mkdir()
    program = team(*ARITHMETIC, "--scratch", "scratch.txt", "--scratch-wait", "20")
    record(dataclasses.replace(program, cwd=project), model, tmp_path / "rec")
    env = {**os.environ, "AGENTRACER_CACHE_DIR": str(tmp_path / "cache")}
    env.pop("RAY_ADDRESS", None)
    with ScriptedServer(default=lambda body: Reply(body=model.complete(body))) as server:
        driver = subprocess.Popen(
            [sys.executable, "-m", "agentracer.cli", "annotate", str(tmp_path / "rec"),
             "--out", str(tmp_path / "ds"), "--ray", "--analyzer", "openai/scripted",
             "--model", "openai/scripted", "--base-url", server.base_url],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        started: dict[int, str] = {}
        try:

            def replaying() -> bool:
                table = _table()
                for pid in _descendants({driver.pid}, table):
                    started[pid] = table[pid][1]
                return any((tmp_path / "ds" / "replays").glob("*/*/events.jsonl"))

            wait_for(replaying, "a replay on the Ray cluster", timeout=300)
            time.sleep(1)
            replaying()  # every process up by now: GCS, raylet, agents, worker, sandbox
            names = _names(started)
        finally:
            driver.send_signal(signal.SIGKILL)
            driver.wait(timeout=30)
    if not any(name.endswith("/raylet") for name in names):
        pytest.skip("the driver joined a Ray cluster already running here (not its own)")

    def alive() -> dict[int, str]:
        table = _table()
        return {pid: start for pid, start in started.items() if table.get(pid, (0, ""))[1] == start}

    try:
        wait_for(lambda: not alive(), "the killed driver's processes to end", timeout=20)
    finally:
        left = alive()
        for pid in left:  # never leave them to the next test
            os.kill(pid, signal.SIGKILL)
    assert not left, _names(left)
