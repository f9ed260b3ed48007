"""One evaluation at a time per run directory.

Two `eval` processes on one `--out` would both compute everything and append duplicate lines.
The first takes an exclusive `flock` on `<run dir>/.lock` and writes who it is (pid, host,
start time) into it; a second one is refused with that holder named. The kernel drops the
lock when its process dies however it dies, so the lock file of a killed run is simply taken
over by the next one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from agentracer.errors import RunDirectoryError

LOCK_FILE = ".lock"


class RunLock:
    """`with RunLock(run_dir):` holds the run directory or raises `RunDirectoryError`.

    `name`, `holder` and `hint` let other commands lock their directories the same way (e.g.
    `serve` its trace store): what the second process is told is in use by what, and what to do.
    """

    def __init__(
        self,
        directory: Path,
        *,
        name: str = LOCK_FILE,
        holder: str = "another evaluation",
        hint: str = "wait for it to finish, or use another --out",
    ) -> None:
        self.path = directory / name
        self.holder = holder
        self.hint = hint
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(os.read(fd, 4096))
            os.close(fd)
            raise RunDirectoryError(
                f"is in use by {self.holder} ({holder}); {self.hint}", path=self.path.parent
            ) from None
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def _describe(raw: bytes) -> str:
    try:
        holder = json.loads(raw.decode("utf-8"))
        return f"pid {holder['pid']} on {holder['host']}, started {holder['started']}"
    except (ValueError, KeyError, TypeError):
        return "a process that has not said who it is yet"
