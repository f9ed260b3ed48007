"""GRPO on a CPU, small: the tiny random model (2 layers, its own 512-token tokenizer) learns
the answer format and then the reward, on a synthetic task (default) or on TracerTraj.

The synthetic task is a three-agent arithmetic team (Planner, Calculator, Verifier) in the
Who&When schema: one Calculator step adds wrongly, and that step is the label. Its prompts are
short (~300 tokens), so a step takes about a second; TracerTraj prompts are real MAS logs of
~1,500 tokens here, and a step takes several.

Prints, per optimiser step, the format rate (share of rollouts that pass the gate) and the mean
multi-granular reward, with the clip range and seconds per step; then seconds per step over the
run and the process's peak memory. Run from the repository root after
`pip install torch==2.13.0 && pip install -e '.[train]'`:

    python benchmarks/train_small.py [--task synthetic|tracertraj] [--steps 100] [--warmup 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from agentracer.formats import load_benchmark
from agentracer.training.config import TrainConfig
from agentracer.training.data import build_examples
from agentracer.training.grpo import train
from agentracer.training.reward import score
from agentracer.training.warmup import format_target


def synthetic_runs(count: int, seed: int) -> list[dict[str, object]]:
    """Failed runs of a small arithmetic team, labelled with the step that added wrongly."""
    rng = random.Random(seed)
    records = []
    for _ in range(count):
        numbers = [rng.randint(1, 60) for _ in range(rng.randint(2, 4))]
        history = [
            {"name": "Planner", "role": "assistant",
             "content": "Plan: add " + ", ".join(map(str, numbers)) + " one at a time."},
        ]  # fmt: skip
        wrong = rng.randrange(len(numbers) - 1)
        total = numbers[0]
        for i, number in enumerate(numbers[1:]):
            result = total + number + (rng.choice([-10, -1, 1, 10]) if i == wrong else 0)
            history.append(
                {"name": "Calculator", "role": "assistant",
                 "content": f"{total} + {number} = {result}"}
            )  # fmt: skip
            total = result
        history.append(
            {"name": "Verifier", "role": "assistant", "content": f"Checked: the total is {total}."}
        )
        records.append(
            {"question": "Add the numbers " + ", ".join(map(str, numbers)) + ".",
             "ground_truth": str(sum(numbers)), "is_correct": False, "history": history,
             "mistake_agent": "Calculator", "mistake_step": str(1 + wrong),
             "mistake_reason": "the sum at this step is wrong"}
        )  # fmt: skip
    return records


def chance_reward(config: TrainConfig) -> float:
    """The mean reward of answering a uniformly random agent step of each run, in the right
    format: what a model that learned the format and nothing else would score."""
    bench = load_benchmark(config.dataset, data=config.data_dir)
    examples = build_examples([t for _, t in bench.trajectories()], max_prompt_chars=None)
    return statistics.mean(
        statistics.mean(
            score(format_target(agent, step), e["gold_agent"], e["gold_step"])
            for step, agent in e["agent_steps"]
        )
        for e in examples
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=["synthetic", "tracertraj"], default="synthetic")
    parser.add_argument("--data", default="../shared/data", help="directory holding tracertraj/")
    parser.add_argument("--steps", type=int, default=100, help="GRPO optimiser steps")
    parser.add_argument("--warmup", type=int, default=40, help="format warm-up (SFT) steps")
    parser.add_argument("--batch", type=int, default=4, help="prompts per step")
    parser.add_argument("--generations", type=int, default=8, help="rollouts per prompt")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup-lr", type=float, default=1e-2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default=None, help="keep the run here (default: a temp dir)")
    args = parser.parse_args()

    output = Path(args.output or tempfile.mkdtemp(prefix="train-small-"))
    dataset = args.task
    if args.task == "synthetic":
        output.mkdir(parents=True, exist_ok=True)
        dataset = str(output / "synthetic.jsonl")
        Path(dataset).write_text(
            "".join(json.dumps(r) + "\n" for r in synthetic_runs(256, args.seed))
        )
    config = TrainConfig(
        model="tiny", dataset=dataset, data_dir=args.data, output_dir=str(output),
        max_prompt_chars=1500, learning_rate=args.lr, batch_size=args.batch,
        num_generations=args.generations, max_completion_length=24, max_steps=args.steps,
        format_warmup_steps=args.warmup, format_warmup_learning_rate=args.warmup_lr,
        save_steps=10_000, seed=args.seed,
    )  # fmt: skip
    started = time.perf_counter()
    train(config)
    wall = time.perf_counter() - started
    history = json.loads((output / "log_history.json").read_text())
    steps = [entry for entry in history if "reward" in entry]

    print(
        f"\ntiny model (2 layers, hidden 64, vocab 512), task {args.task}, "
        f"{args.batch} prompts x {args.generations} rollouts per step, lr {args.lr}, "
        f"format warm-up {args.warmup} SFT steps, seed {args.seed}"
    )
    print(f"{'step':>4} {'format':>7} {'reward':>7} {'clip':>6} {'s/step':>7}")
    for entry in steps:
        print(
            f"{entry['step']:>4} {entry['rewards/format_reward/mean']:>7.3f} "
            f"{entry['rewards/multi_granular_reward/mean']:>7.3f} "
            f"{entry.get('clip_epsilon', float('nan')):>6.3f} {entry['step_time']:>7.2f}"
        )
    quarter = max(1, len(steps) // 4)
    for label, key in (("format", "rewards/format_reward/mean"), ("reward", "reward")):
        first = statistics.mean(e[key] for e in steps[:quarter])
        last = statistics.mean(e[key] for e in steps[-quarter:])
        print(f"{label} mean, first {quarter} steps {first:.3f} -> last {quarter} steps {last:.3f}")
    print(f"chance (a uniformly random agent step, well formatted): {chance_reward(config):.3f}")
    print(f"seconds per GRPO step: {statistics.mean(e['step_time'] for e in steps):.2f}")
    print(f"wall time (load, warm-up, GRPO, save): {wall:.1f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"peak memory (RSS): {peak / 1024 if sys.platform != 'darwin' else peak / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
