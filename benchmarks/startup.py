"""How fast the command starts: whole-process wall time of `agentracer --version` and of a
model-free `attribute` of the example, median of N runs (after one warm-up run that leaves the
bytecode caches an installed package has), and the imports that dominate each.

Targets: `--version` <= 0.25 s, `attribute examples/failed_run.json --tracer first-agent-step`
<= 0.5 s (median of 5).

    python benchmarks/startup.py                      # this checkout (its src/ first)
    python benchmarks/startup.py --src OLD/src        # another checkout, e.g. before a change
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = {
    "--version": ["--version"],
    "attribute": ["attribute", "examples/failed_run.json", "--tracer", "first-agent-step"],
}


def _env(src: Path) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(src)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its bytecode cached
    return env


def _run(args: list[str], env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, *extra, "-m", "agentracer", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"agentracer {' '.join(args)} failed: {done.stderr.strip()[-300:]}")
    return done


def wall_times(args: list[str], env: dict[str, str], runs: int) -> list[float]:
    _run(args, env)  # warm-up: writes the bytecode caches
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        _run(args, env)
        times.append(time.perf_counter() - started)
    return times


def top_imports(args: list[str], env: dict[str, str], n: int = 4) -> str:
    """The top-level imports that took longest (`-X importtime`, cumulative microseconds)."""
    lines = _run(args, env, "-X", "importtime").stderr.splitlines()
    found = []
    for line in lines:
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\S.*)$", line)
        if match:  # no indentation: imported by the command itself, not by another module
            found.append((int(match.group(1)), match.group(2)))
    found.sort(reverse=True)
    return ", ".join(f"{name} {us / 1000:.0f} ms" for us, name in found[:n])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the package's src/")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = _env(args.src.resolve())
    print(f"{args.src}: Python {platform.python_version()}, {platform.machine()}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    for command in COMMANDS.values():
        times = wall_times(command, env, args.runs)
        print(f"agentracer {' '.join(command)}: median {statistics.median(times):.3f} s "
              f"(min {min(times):.3f}, max {max(times):.3f}, {args.runs} runs); "
              f"slowest imports: {top_imports(command, env)}")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
