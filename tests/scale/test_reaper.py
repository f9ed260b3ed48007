"""A killed `annotate --ray` driver leaves no Ray process behind (issue 18, item 17): a driver
starts its own local Ray cluster as `annotate --ray` does (`scale.cluster.start_private`) and
runs the real `annotate_on_ray`; it is killed with SIGKILL while a replay runs, and every
process it had started (GCS, raylet, agents, workers, the sandboxed replay) is gone within
seconds. Before, Ray's dashboard and runtime-env agents outlived the driver by a minute or
more. (The driver starts its cluster explicitly: `annotate --ray` itself first joins any
cluster already running on the machine, such as the test suite's.)"""

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

DRIVER = """
import sys
from pathlib import Path
from agentracer.llm import ConnectionSettings
from agentracer.scale.annotate import annotate_on_ray
from agentracer.scale.cluster import start_private

start_private(num_cpus=1)
annotate_on_ray([Path(sys.argv[1])], Path(sys.argv[2]), analyzer="openai/scripted",
                upstream_for=lambda _: "openai/scripted",
                connection=ConnectionSettings(base_url=sys.argv[3]))
"""


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
            [sys.executable, "-c", DRIVER, str(tmp_path / "rec"), str(tmp_path / "ds"),
             server.base_url],
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
    assert any(name.endswith("/raylet") for name in names), names  # its own cluster

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
