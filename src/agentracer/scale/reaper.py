"""A private Ray cluster ends with the process that started it, even one killed with `kill -9`.

`ray.init()` without an address starts a cluster of its own (GCS, raylet, agents, workers) as
descendants of the driver. Ray stops the head processes when the driver dies, but the agents
the raylet started (the dashboard and runtime-env agents) outlive it by a minute or more, and
a killed driver never calls `ray.shutdown()`. So the driver starts this watchdog (`watch`) in
a session of its own (a Ctrl-C meant for the driver does not reach it): it notes the driver's
descendants every second, and once the driver is gone (the pipe it holds closes) it kills
every noted process still alive with the start time it was noted with (a reused PID is never
touched), and their own children, then exits. It only imports the standard library and is
started by its file path, so it costs little.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

POLL_SECONDS = 1.0
GRACE_SECONDS = 3.0


def start_watchdog() -> None:
    """Start the watchdog for this process's descendants (see the module docstring)."""
    read, write = os.pipe()
    subprocess.Popen(
        [sys.executable, "-I", str(Path(__file__)), str(os.getpid()), str(read)],
        pass_fds=(read,),
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(read)
    os.set_inheritable(write, False)
    _HELD.append(write)  # open for as long as this process lives: its end is the signal


_HELD: list[int] = []


def _table() -> dict[int, tuple[int, str]]:
    """Every process: pid -> (parent pid, start time)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def _descendants(roots: set[int], table: dict[int, tuple[int, str]]) -> set[int]:
    found: set[int] = set()
    frontier = set(roots)
    while frontier:
        children = {pid for pid, (parent, _) in table.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def watch(driver: int, pipe: int) -> None:
    """Note `driver`'s descendants until `pipe` closes, then end those still alive."""
    me = os.getpid()
    noted: dict[int, str] = {}
    while True:
        table = _table()
        for pid in _descendants({driver}, table) - {me}:
            noted[pid] = table[pid][1]
        ready, _, _ = select.select([pipe], [], [], POLL_SECONDS)
        if ready and not os.read(pipe, 1):
            break
    for sig in (signal.SIGTERM, signal.SIGKILL):
        table = _table()
        alive = {pid for pid, start in noted.items() if table.get(pid, (0, ""))[1] == start}
        alive |= _descendants(alive, table) - {me}
        for pid in alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        if not alive:
            return
        noted = {pid: table[pid][1] for pid in alive if pid in table}
        select.select([], [], [], GRACE_SECONDS)


if __name__ == "__main__":
    watch(int(sys.argv[1]), int(sys.argv[2]))
