"""Task success with a tracer's critique against a plain retry and a generic critique.

Each task of a reference system runs once; each failed run gets one more run per condition
(retry, generic, critique-task, critique-replay: see agentracer.feedback.experiment). Prints the
success rate per system x condition and the paired gain over each control with a 95% bootstrap
interval over tasks. Crashes and timeouts count as failures.

    python benchmarks/feedback.py --system math --tasks 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from agentracer.feedback.experiment import (
    CONDITIONS,
    TaskResult,
    paired_gain,
    run_task,
    success_rates,
)
from agentracer.llm import ConnectionSettings
from agentracer.llm.client import get_model
from agentracer.replay.session import Program
from agentracer.replay.upstream import make_upstream
from agentracer.systems.math_team import PROBLEMS
from agentracer.tracers import TracerSettings, create_tracer


def tasks(system: str, limit: int) -> list[tuple[str, Program]]:
    if system == "math":
        module = [sys.executable, "-m", "agentracer.systems.math_team"]
        names = sorted(PROBLEMS)[:limit]
        flag = "--problem"
    else:
        from agentracer.systems.coding_team import problems

        module = [sys.executable, "-m", "agentracer.systems.coding_team"]
        names = list(problems())[:limit]
        flag = "--task"
    return [
        (name, Program(
            command=[*module, "run", flag, name],
            check=" ".join([*module, "check", flag, name]),
            timeout=1800,
        ))
        for name in names
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/smollm2-135m")
    parser.add_argument("--system", action="append", choices=["math", "code"])
    parser.add_argument("--tasks", type=int, default=20, help="tasks per system")
    parser.add_argument("--tracer", default="agentracer")
    parser.add_argument("--write", action="store_true", help="the model writes the critique")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="feedback-"))
    connection = ConnectionSettings(timeout=900)
    upstream = make_upstream(args.model, connection)
    tracer = create_tracer(args.tracer, TracerSettings(model=args.model, connection=connection))
    critic = get_model(args.model, connection) if args.write else None
    loop = asyncio.new_event_loop()
    started = time.perf_counter()
    results: dict[str, list[TaskResult]] = {}
    for system in args.system or ["math"]:
        results[system] = []
        for name, program in tasks(system, args.tasks):
            result = run_task(
                name, program, upstream, tracer, work / system / name.replace("/", "_"), loop,
                critic=critic,
            )  # fmt: skip
            results[system].append(result)
            print(json.dumps({"system": system, **result.model_dump(exclude={"critique"})}),
                  flush=True)  # fmt: skip
    print(
        f"\nmodel {args.model}, tracer {args.tracer}, critique "
        f"{'written by the model' if args.write else 'template'}; {platform.machine()}, "
        f"{time.perf_counter() - started:.0f} s wall; work dir {work}\n"
    )
    print("| system | tasks | first-run failures | " + " | ".join(CONDITIONS) + " |")
    print("|" + "---|" * (3 + len(CONDITIONS)))
    for system, rs in results.items():
        rates = success_rates(rs)
        failures = sum(r.first != "success" for r in rs)
        cells = [f"{rates[c]:.2f}" for c in CONDITIONS]
        print(f"| {system} | {len(rs)} | {failures} | " + " | ".join(cells) + " |")
    print("\n| system | condition | vs | gain | 95% CI |\n|---|---|---|---|---|")
    for system, rs in results.items():
        for condition in ("critique-task", "critique-replay"):
            for control in ("retry", "generic"):
                g = paired_gain(rs, condition, control)
                print(f"| {system} | {condition} | {control} | {g.gain:+.3f} | "
                      f"[{g.low:+.3f}, {g.high:+.3f}] |")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
