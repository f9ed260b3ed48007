"""Task success with a tracer's critique against a plain retry and a generic critique.

Each task of a reference system runs once; each failed run gets one more run per condition
(retry, generic, critique-task, critique-replay: see agentracer.feedback.experiment). Prints the
success rate per system x condition and the paired gain over each control with a 95% bootstrap
interval over tasks. Crashes and timeouts count as failures.

Resumable: each finished task is appended to WORK/results.jsonl; the same command again skips
the tasks already there (an interrupted task starts over). Progress goes to stderr.

    python benchmarks/feedback.py --system math --system code --tasks 20 --work runs/fb
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from agentracer.feedback.experiment import (
    CONDITIONS,
    ResultLog,
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


def tasks(system: str, limit: int, timeout: float) -> list[tuple[str, Program]]:
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
            timeout=timeout,
        ))
        for name in names
    ]  # fmt: skip


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s"


def _progress(system: str, index: int, total: int, result: TaskResult, started: float) -> None:
    runs = (
        "no feedback run needed"
        if result.outcomes.get("retry") == "first-run-succeeded"
        else ", ".join(f"{c} {'ok' if result.success[c] else 'fail'}" for c in CONDITIONS)
    )
    print(
        f"[feedback] {system} {index}/{total} {result.task}: first {result.first}; {runs} "
        f"({result.seconds:.0f} s; {_clock(time.perf_counter() - started)} elapsed)",
        file=sys.stderr, flush=True,
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/smollm2-135m")
    parser.add_argument("--system", action="append", choices=["math", "code"])
    parser.add_argument("--tasks", type=int, default=20, help="tasks per system")
    parser.add_argument("--tracer", default="agentracer")
    parser.add_argument("--write", action="store_true", help="the model writes the critique")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "agentracer-feedback",
        help="runs and results.jsonl go here; the same command again resumes, skipping the "
        "tasks already in results.jsonl",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run")
    parser.add_argument(
        "--budget-minutes", type=float,
        help="start no new task after this many minutes (the rest are listed as not run)",
    )  # fmt: skip
    parser.add_argument(
        "--reverse", action="store_true",
        help="take each system's tasks last to first: a second process with --reverse and "
        "another --work splits a long run in two; append the second results.jsonl's lines "
        "(after its first) to the first's, and the same command again prints the whole table",
    )  # fmt: skip
    args = parser.parse_args()
    systems = args.system or ["math"]
    settings = {"model": args.model, "tracer": args.tracer, "write": args.write, "seed": 0}
    log = ResultLog(args.work / "results.jsonl", settings)
    connection = ConnectionSettings(timeout=args.timeout)
    upstream = make_upstream(args.model, connection)
    tracer = create_tracer(args.tracer, TracerSettings(model=args.model, connection=connection))
    critic = get_model(args.model, connection) if args.write else None
    loop = asyncio.new_event_loop()
    started = time.perf_counter()
    results: dict[str, list[TaskResult]] = {}
    not_run: list[str] = []
    for system in systems:
        results[system] = []
        todo = tasks(system, args.tasks, args.timeout)
        todo = todo[::-1] if args.reverse else todo
        for index, (name, program) in enumerate(todo, 1):
            result = log.get(system, name)
            if result is None:
                elapsed = (time.perf_counter() - started) / 60
                if args.budget_minutes is not None and elapsed >= args.budget_minutes:
                    not_run.append(f"{system}:{name}")
                    continue
                work_dir = args.work / system / name.replace("/", "_")
                shutil.rmtree(work_dir, ignore_errors=True)  # an interrupted task starts over
                result = run_task(
                    name, program, upstream, tracer, work_dir, loop, critic=critic,
                    timeout=args.timeout,
                )  # fmt: skip
                log.append(system, result)
                _progress(system, index, len(todo), result, started)
            else:
                print(f"[feedback] {system} {index}/{len(todo)} {name}: already in "
                      f"{log.path}, skipped", file=sys.stderr, flush=True)  # fmt: skip
            results[system].append(result)
    results = {system: rs for system, rs in results.items() if rs}
    task_seconds = sum(r.seconds for rs in results.values() for r in rs)
    print(
        f"\nmodel {args.model}, tracer {args.tracer}, critique "
        f"{'written by the model' if args.write else 'template'}, temperature 0, seed 0; "
        f"{platform.machine()}, {os.cpu_count()} CPUs; this invocation "
        f"{_clock(time.perf_counter() - started)} wall, all tasks {_clock(task_seconds)} of runs; "
        f"results in {log.path}\n"
    )
    if not_run:
        print(f"not run (--budget-minutes {args.budget_minutes:g}): {', '.join(not_run)}\n")
    print(
        "| system | tasks | runs per condition | first run | "
        + " | ".join(CONDITIONS) + " | wall |"
    )  # fmt: skip
    print("|" + "---|" * (5 + len(CONDITIONS)))
    for system, rs in results.items():
        rates = success_rates(rs)
        first = sum(r.outcomes.get("retry") == "first-run-succeeded" for r in rs) / len(rs)
        cells = [f"{rates[c]:.2f}" for c in CONDITIONS]
        failures = sum(r.outcomes.get("retry") != "first-run-succeeded" for r in rs)
        print(f"| {system} | {len(rs)} | {failures} | {first:.2f} | " + " | ".join(cells)
              + f" | {_clock(sum(r.seconds for r in rs))} |")  # fmt: skip
    print("\n| system | condition | vs | n | gain | 95% CI |\n|---|---|---|---|---|---|")
    for system, rs in results.items():
        for condition in ("critique-task", "critique-replay"):
            for control in ("retry", "generic"):
                g = paired_gain(rs, condition, control)
                print(f"| {system} | {condition} | {control} | {len(rs)} | {g.gain:+.3f} | "
                      f"[{g.low:+.3f}, {g.high:+.3f}] |")  # fmt: skip
    outcomes: dict[str, int] = {}
    for rs in results.values():
        for r in rs:
            for status in r.outcomes.values():
                key = status.split(":", 1)[0]
                outcomes[key] = outcomes.get(key, 0) + 1
    print(
        "\noutcomes of the feedback runs: "
        + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
