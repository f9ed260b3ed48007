"""What the hybrid tracer can gain and what it costs, before any model is asked.

For every Who&When record and k = 1, 3, 5: how often the gold step is in the fast tracer's
shortlist (recall@k: the ceiling of the hybrid's step accuracy, since on embedded models the
grammar only allows shortlisted steps), and the prompt size of all-at-once, of the hybrid
(whole log, shortlist marked) and of the hybrid with `only_shortlist=true`, in characters.

With `--embedded N` it also runs all-at-once and the hybrid (k = 1, 3, 5) with the embedded
SmolLM2-135M on the N shortest algorithm-generated records and prints accuracy and tokens.

Run from the repository root: python benchmarks/hybrid_budget.py [--embedded N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from agentracer.evaluation import RunConfig, evaluate
from agentracer.formats import load_benchmark
from agentracer.llm import ConnectionSettings
from agentracer.tracers import TracerSettings, create_tracer, prompts
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer, cached_model

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KS = (1, 3, 5)


def _chars(messages: list[dict[str, str]]) -> int:
    return sum(len(m["content"]) for m in messages)


def _budget(bench) -> None:
    fast = FastTracer(cached_model(str(DEFAULT_MODEL)))
    for subset in ("hand-crafted", "algorithm-generated"):
        runs = [t for s, t in bench.trajectories() if s == subset]
        recall = dict.fromkeys(KS, 0)
        sizes: dict[str, list[int]] = {}
        for trajectory in runs:
            assert trajectory.label is not None
            ranked = [i for i, _ in fast.ranked(trajectory)]
            contents = [s.content for s in trajectory.steps]
            variants = {
                "all-at-once": prompts.all_at_once(
                    trajectory, contents, with_ground_truth=True, numbered=True
                )
            }
            for k in KS:
                shortlist = sorted(ranked[:k])
                recall[k] += trajectory.label.step in shortlist
                for only in (False, True):
                    name = f"hybrid k={k}" + (" only_shortlist" if only else "")
                    variants[name] = prompts.hybrid(
                        trajectory, contents, shortlist, with_ground_truth=True, only_shortlist=only
                    )
            for name, messages in variants.items():
                sizes.setdefault(name, []).append(_chars(messages))
        n = len(runs)
        print(
            f"\n{subset} ({n} records): recall@k of the shipped fast model = ceiling of hybrid step %"
        )
        print(" | ".join(f"k={k}: {100 * recall[k] / n:.2f}%" for k in KS))
        print("| prompt | mean size | median |\n|---|---|---|")
        for name, values in sizes.items():
            print(f"| {name} | {statistics.mean(values):.0f} | {statistics.median(values):.0f} |")


def _embedded(bench, n: int) -> None:
    runs = sorted(
        (t for s, t in bench.trajectories() if s == "algorithm-generated"),
        key=lambda t: sum(len(s.content) for s in t.steps),
    )[:n]
    bench.subsets = {"algorithm-generated": runs}
    connection = ConnectionSettings(use_cache=False, concurrency=1)
    configs = [("all-at-once", {"step_numbers": True})] + [("hybrid", {"k": k}) for k in KS]
    print(f"\nembedded local/smollm2-135m on the {n} shortest algorithm-generated records")
    print("| method | agent % | step % | prompt tokens / run | completion tokens / run | s / run |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        for tracer, options in configs:
            settings = TracerSettings(
                model="local/smollm2-135m", options=options, connection=connection
            )
            config = RunConfig(
                bench="who-and-when", subsets=["algorithm-generated"], tracer=tracer,
                settings=settings, concurrency=1,
            )  # fmt: skip
            started = time.perf_counter()
            out = Path(scratch) / f"{tracer}-{len(options)}-{options}"
            summary, _ = evaluate(bench, create_tracer(tracer, settings), config, out)
            s = summary["subsets"]["all"]
            cost = s["cost"]["per_trajectory"]
            label = tracer + "".join(f" {k}={v}" for k, v in options.items())
            print(
                f"| {label} | {100 * s['agent_accuracy']:.2f} | {100 * s['step_accuracy']:.2f} | "
                f"{cost['prompt_tokens']:.0f} | {cost['completion_tokens']:.0f} | "
                f"{(time.perf_counter() - started) / len(runs):.1f} |"
            )
        fho = summary["baselines"]["first-hand-off"]["all"]
        print(
            f"| first-hand-off (baseline) | {100 * fho['agent_accuracy']:.2f} | "
            f"{100 * fho['step_accuracy']:.2f} | 0 | 0 | 0 |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--embedded", type=int, default=0, help="also run N records")
    args = parser.parse_args()
    bench = load_benchmark("who-and-when", data=args.data)
    print("prompt sizes in characters (about 3-4 characters a token)")
    _budget(bench)
    if args.embedded:
        _embedded(bench, args.embedded)


if __name__ == "__main__":
    main()
