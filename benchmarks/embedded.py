"""The embedded model (SmolLM2-135M, grammar-constrained) with all-at-once on Who&When.

Prints accuracy, parse rate and seconds per trajectory beside the random baseline. The small
model is there to try the tool offline; this measures what it does, not what a real tracer does.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from agentracer.evaluation import RunConfig, evaluate
from agentracer.formats import Benchmark, load_benchmark
from agentracer.llm import ConnectionSettings
from agentracer.tracers import TracerSettings, create_tracer

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def _first_agent_share(out: Path, bench: Benchmark) -> float:
    """How often the verdict names the run's first-listed agent (a small model's habit)."""
    firsts = {t.id: t.agents[0] if t.agents else None for _, t in bench.trajectories()}
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return sum(line["verdict"]["agent"] == firsts[line["id"]] for line in lines) / len(lines)


def _run(
    bench: Benchmark, subset: str, tracer: str, settings: TracerSettings, out: Path, with_g: bool
):
    config = RunConfig(
        bench="who-and-when", subsets=[subset], tracer=tracer, settings=settings,
        with_ground_truth=with_g, concurrency=1,
    )  # fmt: skip
    started = time.perf_counter()
    summary, _ = evaluate(bench, create_tracer(tracer, settings), config, out)
    return summary["subsets"][subset], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--subset", default="algorithm-generated")
    parser.add_argument("--limit", type=int, default=None, help="first N trajectories only")
    parser.add_argument("--no-ground-truth", action="store_true")
    args = parser.parse_args()

    bench = load_benchmark("who-and-when", [args.subset], args.data)
    if args.limit:
        bench.subsets[args.subset] = bench.subsets[args.subset][: args.limit]
    model = "local/smollm2-135m"
    # No response cache: every trajectory is really attributed, so the timings are real.
    llm = TracerSettings(model=model, connection=ConnectionSettings(use_cache=False, concurrency=1))
    with tempfile.TemporaryDirectory() as scratch:
        with_g = not args.no_ground_truth
        s, wall = _run(bench, args.subset, "all-at-once", llm, Path(scratch) / "llm", with_g)
        first_share = _first_agent_share(Path(scratch) / "llm", bench)
        r, _ = _run(
            bench, args.subset, "random", TracerSettings(seed=0), Path(scratch) / "random", with_g
        )
    n = s["n"]
    cost = s["cost"]["per_trajectory"]
    setting = "without" if args.no_ground_truth else "with"
    print(
        f"embedded: all-at-once, {model} (Q4_1 GGUF via xllamacpp, grammar-constrained, temperature 0, seed 0)"
    )
    print(
        f"data: Who&When {args.subset}, {n} trajectories, {setting} ground truth; machine: {platform.machine()}, CPU only"
    )
    print(f"agent accuracy: {_pct(s['agent_accuracy'])} [{_pct(s['agent_accuracy_ci95'][0])}, {_pct(s['agent_accuracy_ci95'][1])}]"
          f"   random: {_pct(r['agent_accuracy'])} measured (seed 0), {_pct(r['expected']['agent_accuracy']['value'])} expected")  # fmt: skip
    print(f"step accuracy:  {_pct(s['step_accuracy'])} [{_pct(s['step_accuracy_ci95'][0])}, {_pct(s['step_accuracy_ci95'][1])}]"
          f"   random: {_pct(r['step_accuracy'])} measured (seed 0), {_pct(r['expected']['step_accuracy']['value'])} expected")  # fmt: skip
    print(
        f"step within ±1: {_pct(s['step_accuracy_within']['1'])}, within ±3: {_pct(s['step_accuracy_within']['3'])}"
    )
    print(f"verdicts naming the run's first-listed agent: {_pct(first_share)}")
    parse = s["parse"]
    print(
        f"parse rate: {parse['parsed']}/{n} parsed ({_pct(parse['parsed'] / n)}), {parse['partial']} partial, {parse['unparsed']} unparsed"
    )
    print(f"seconds per trajectory: {wall / n:.2f} wall, {cost['seconds']:.2f} in the model; "
          f"tokens per trajectory: {cost['prompt_tokens']:.0f} prompt, {cost['completion_tokens']:.0f} completion")  # fmt: skip


if __name__ == "__main__":
    main()
