"""Running the recorded program apart from the recorder and the user's other processes.

The program is started under `unshare` (util-linux) in its own PID namespace with its own
mount namespace and a fresh `/proc`: it sees only its own processes, so it cannot read the
recorder's environment (`/proc/<parent>/environ`, where the real API key is) nor any other
process's. As root this needs nothing more; as another user it also takes a user namespace
(`--map-root-user`), which most Linux systems allow. Where neither works (no `unshare`, a
container without the privilege, another OS), the program runs unisolated and the reason is
said. The network is shared: the program must reach the proxy on loopback.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass

PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Isolation:
    """How the program is started: `prefix` goes before its command; `description` says what
    it isolates, or why nothing is isolated."""

    prefix: tuple[str, ...]
    description: str

    @property
    def active(self) -> bool:
        return bool(self.prefix)


OFF = Isolation((), "none: turned off (--no-isolate)")


def _candidates(unshare: str) -> list[tuple[str, ...]]:
    base = ("--pid", "--fork", "--mount-proc", "--kill-child")
    as_root = (unshare, *base)
    in_user_namespace = (unshare, "--user", "--map-root-user", *base)
    return [as_root, in_user_namespace] if os.geteuid() == 0 else [in_user_namespace]


@functools.cache
def _probe(prefix: tuple[str, ...]) -> str | None:
    """None when `prefix true` works, else the reason it does not."""
    try:
        done = subprocess.run(
            [*prefix, "true"], capture_output=True, timeout=PROBE_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode == 0:
        return None
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return said[-1] if said else f"exit code {done.returncode}"


def isolation(enabled: bool = True) -> Isolation:
    """The strongest isolation this system allows (or `OFF` when not `enabled`)."""
    if not enabled:
        return OFF
    unshare = shutil.which("unshare")
    if unshare is None:
        return Isolation((), "none: the `unshare` command (util-linux) is not installed")
    reasons = []
    for prefix in _candidates(unshare):
        reason = _probe(prefix)
        if reason is None:
            user = " and user" if "--user" in prefix else ""
            return Isolation(prefix, f"own PID, mount{user} namespaces and /proc (unshare)")
        reasons.append(reason)
    return Isolation((), f"none: this system does not allow new namespaces ({reasons[-1]})")
