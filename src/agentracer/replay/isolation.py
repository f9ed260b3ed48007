"""Running the recorded program in a sandbox it cannot undo, as root too: bubblewrap (`bwrap`).

The program (and the check command) runs under bubblewrap, the sandbox of Flatpak, in:

- its own user namespace, with no capabilities left (not even inside it), `no_new_privs`, and
  no further user namespaces (`--disable-userns`): it cannot unmount or remount anything, so
  what follows holds against a program that runs as root;
- its own PID namespace with a fresh `/proc`: it sees only its own processes, never the
  recorder (whose environment and memory hold the real key) nor any other; `/proc/sys` and
  the other kernel switches under `/proc` are read-only, `/sys` too;
- its own mount namespace holding a read-only view of the host's file system, in which only
  the working directory and a private temporary directory (`TMPDIR`) are writable, the
  agentracer config directory (the recording signing key) is an empty tmpfs, and `/dev` holds
  only the harmless devices (null, zero, random, tty, shm);
- its own IPC namespace. The network is shared: the program must reach the proxy on loopback.

The sandbox dies with the recorder (`--die-with-parent`), whole. Where bubblewrap is missing or
the system forbids user namespaces, the program runs unisolated and the reason is said
(docs/security.md says what that leaves open).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentracer.errors import AgenTracerError

PROBE_TIMEOUT = 10.0
# Kernel switches a process whose uid is the host's root could flip through a fresh /proc.
READ_ONLY_PROC = ("sys", "sysrq-trigger", "irq", "bus", "fs")
DESCRIPTION = (
    "bubblewrap: own user (no capabilities), PID, IPC and mount namespaces and /proc; "
    "read-only file system but the working directory and TMPDIR; config directory hidden"
)


class SandboxError(AgenTracerError):
    """The sandbox cannot protect what it must (a hidden directory inside a writable one)."""


@dataclass(frozen=True)
class Isolation:
    """How the program is started: `bwrap` is the sandbox's path (None: unisolated), and
    `description` says what it isolates, or why nothing is isolated."""

    bwrap: str | None
    description: str

    @property
    def active(self) -> bool:
        return self.bwrap is not None

    def wrap(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        read_only: Sequence[Path] = (),
        writable: Sequence[Path] = (),
        hidden: Sequence[Path] = (),
    ) -> list[str]:
        """`command` run in the sandbox from `cwd`; `cwd` and `writable` are writable,
        `read_only` not (the deeper path decides where they nest), and each directory of
        `hidden` is replaced by an empty one. `command` itself when not active."""
        if self.bwrap is None:
            return list(command)
        binds = [(p.resolve(), "--bind") for p in (cwd, *writable)]
        binds += [(p.resolve(), "--ro-bind") for p in read_only]
        options = _base_options()
        for path, how in sorted(binds, key=lambda bind: len(bind[0].parts)):
            options += [how, str(path), str(path)]
        for path in (p.resolve() for p in hidden if p.is_dir()):
            exposed = [w for w, how in binds if how == "--bind" and path.is_relative_to(w)]
            if exposed:
                raise SandboxError(
                    f"the program's writable directory {exposed[0]} holds {path}, which the "
                    "sandbox must hide (it holds the recording signing key): run from another "
                    "directory, or set AGENTRACER_CONFIG_DIR outside it"
                )
            options += ["--tmpfs", str(path), "--remount-ro", str(path)]
        return [self.bwrap, *options, "--chdir", str(cwd.resolve()), "--", *command]


OFF = Isolation(None, "none: turned off (--no-isolate)")


def _base_options() -> list[str]:
    identity = ["--uid", "0", "--gid", "0"] if os.geteuid() == 0 else []
    options = [
        "--unshare-user", *identity, "--disable-userns", "--cap-drop", "ALL",
        "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
        "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
    ]  # fmt: skip
    for name in READ_ONLY_PROC:
        options += ["--ro-bind-try", f"/proc/{name}", f"/proc/{name}"]
    return options


@functools.cache
def _probe(bwrap: str) -> str | None:
    """None when the sandbox starts here, else the reason it does not."""
    try:
        done = subprocess.run(
            [bwrap, *_base_options(), "--", "true"],
            capture_output=True,
            timeout=PROBE_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return str(error)
    if done.returncode == 0:
        return None
    said = done.stderr.decode("utf-8", "replace").strip().splitlines()
    return said[-1] if said else f"exit code {done.returncode}"


def isolation(enabled: bool = True) -> Isolation:
    """The sandbox, when this system allows it (or `OFF` when not `enabled`)."""
    if not enabled:
        return OFF
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return Isolation(
            None,
            "none: bubblewrap is not installed (apt install bubblewrap, dnf install bubblewrap)",
        )
    reason = _probe(bwrap)
    if reason is not None:
        return Isolation(None, f"none: this system does not allow the sandbox ({reason})")
    return Isolation(bwrap, DESCRIPTION)
