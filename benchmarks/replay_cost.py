"""Cost of labelling by replay on the reference systems, with the embedded model.

Records the math team on its problems and the coding team on the first HumanEval tasks, then
labels failed runs by counterfactual replay (`linear` and `ranked`) and successful runs by fault
injection (programmatic operators). Prints label yield, replays per label and seconds per replay.
The analyzer is the embedded SmolLM2-135M unless --analyzer names another model, so yields say
what a 135M analyzer manages, not what the method can do.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from agentracer.llm import get_model
from agentracer.replay.convert import to_trajectory
from agentracer.replay.counterfactual import ModelAnalyzer, find_decisive_step
from agentracer.replay.injection import inject_faults
from agentracer.replay.recording import Recording
from agentracer.replay.session import Program, record
from agentracer.replay.upstream import make_upstream
from agentracer.systems.math_team import PROBLEMS


@dataclass
class Tally:
    runs: int = 0
    labels: int = 0
    replays_per_label: list[int] = field(default_factory=list)
    replays: int = 0
    bound: list[int] = field(default_factory=list)

    def line(self, name: str) -> str:
        mean = statistics.mean(self.replays_per_label) if self.replays_per_label else float("nan")
        text = f"{name:<24} labels {self.labels}/{self.runs}   replays {self.replays}   replays per label {mean:.2f}"
        if self.bound:
            text += f"   (target ceil(log2 T)+2, mean {statistics.mean(self.bound):.2f})"
        return text


def programs(math_count: int, code_count: int) -> list[tuple[str, Program]]:
    python = sys.executable
    out = []
    for problem in sorted(PROBLEMS)[:math_count]:
        module = [python, "-m", "agentracer.systems.math_team"]
        out.append((f"math/{problem}", Program([*module, "run", "--problem", problem],
                                                " ".join([*module, "check", "--problem", problem]), timeout=600)))  # fmt: skip
    for i in range(code_count):
        task = f"HumanEval/{i}"
        module = [python, "-m", "agentracer.systems.coding_team"]
        out.append((task, Program([*module, "run", "--task", task], " ".join([*module, "check", "--task", task]), timeout=900)))  # fmt: skip
    return out


async def main_async(args: argparse.Namespace) -> None:
    upstream = make_upstream(args.model)
    analyzer = ModelAnalyzer(get_model(args.analyzer), max_tokens=300)
    root = Path(tempfile.mkdtemp(prefix="replay-cost-"))
    recordings: list[tuple[str, Path, Recording]] = []
    started = time.perf_counter()
    for name, program in programs(args.math, args.code):
        directory = root / "rec" / name.replace("/", "_")
        recordings.append((name, directory, record(program, upstream, directory)))
    record_seconds = time.perf_counter() - started
    failed = [
        (n, d, r) for n, d, r in recordings if r.outcome.status in ("failure", "crashed", "timeout")
    ]
    succeeded = [(n, d, r) for n, d, r in recordings if r.outcome.status == "success"]
    print(f"model {upstream.name}, analyzer {analyzer.name}, k={args.k}; {len(recordings)} runs recorded in "
          f"{record_seconds:.0f} s: {len(failed)} failed, {len(succeeded)} succeeded")  # fmt: skip

    replay_seconds: list[float] = []
    for strategy in ("linear", "ranked"):
        tally = Tally()
        for name, directory, recording in failed:
            t0 = time.perf_counter()
            result = await find_decisive_step(
                directory,
                analyzer,
                upstream,
                root / strategy / name.replace("/", "_"),
                strategy=strategy,
                k=args.k,
            )
            if result.replays:
                replay_seconds.append((time.perf_counter() - t0) / result.replays)
            tally.runs += 1
            tally.replays += result.replays
            if result.step is not None:
                tally.labels += 1
                tally.replays_per_label.append(result.replays)
                agent_steps = len(to_trajectory(recording).agent_steps())
                tally.bound.append(math.ceil(math.log2(max(2, agent_steps))) + 2)
        print(tally.line(f"counterfactual {strategy}"))

    injection = Tally()
    for name, directory, _ in succeeded:
        t0 = time.perf_counter()
        result = await inject_faults(
            directory, upstream, root / "inject" / name.replace("/", "_"), k=args.k
        )
        if result.replays:
            replay_seconds.append((time.perf_counter() - t0) / result.replays)
        injection.runs += 1
        injection.replays += result.replays
        if result.kept():
            injection.labels += 1
            injection.replays_per_label.append(result.replays)
    print(injection.line("fault injection"))
    if replay_seconds:
        print(f"seconds per replay: mean {statistics.mean(replay_seconds):.1f} (includes the analyzer's calls), "
              f"min {min(replay_seconds):.1f}, max {max(replay_seconds):.1f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--math", type=int, default=len(PROBLEMS), help="math problems to run")
    parser.add_argument("--code", type=int, default=2, help="HumanEval tasks to run")
    parser.add_argument("--model", default="local/smollm2-135m", help="the systems' model")
    parser.add_argument("--analyzer", default="local/smollm2-135m")
    parser.add_argument("-k", type=int, default=1, dest="k")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
