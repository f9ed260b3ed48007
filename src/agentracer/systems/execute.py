"""Run untrusted Python in a subprocess with a time limit, a memory limit and a scratch dir."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

MEMORY_LIMIT = 512 * 1024 * 1024
OUTPUT_LIMIT = 4000


@dataclass
class Execution:
    ok: bool
    output: str
    timed_out: bool = False


def _limits() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_python(code: str, *, timeout: float = 10.0) -> Execution:
    """Execute `code` with `python -I` in a fresh temporary directory."""
    with tempfile.TemporaryDirectory(prefix="exec-") as scratch:
        script = Path(scratch) / "program.py"
        script.write_text(code, encoding="utf-8")
        try:
            done = subprocess.run(
                [sys.executable, "-I", str(script)], cwd=scratch, capture_output=True, text=True,
                timeout=timeout, preexec_fn=_limits, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            return Execution(ok=False, output=f"timed out after {timeout:g} s", timed_out=True)
        output = (done.stdout + done.stderr).replace(scratch, ".")  # no temp paths in the log
        return Execution(ok=done.returncode == 0, output=output[-OUTPUT_LIMIT:])
