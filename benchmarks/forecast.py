"""Error forecasting on Who&When: alarm step accuracy (exact, ±1, ±3), η and false alarms.

Cases: every labelled Who&When run (an alarm is expected at its labelled step) and the same run
cut just before its label ("no alarm yet": any alarm there is a false alarm). Who&When holds no
successful run. Forecasters:

- fast-hazard, shipped: the shipped fast model (trained on TracerTraj only) with the threshold
  chosen on TracerTraj only (`forecast/fast_threshold.json`); never fitted on Who&When;
- fast-hazard, 5-fold CV by question: per fold, a fast model trained on the other folds and a
  threshold chosen on the other folds (out-of-fold hazards inside them); no test label is used;
- prefix:fast: the post-hoc fast tracer in prefix mode (alarm when it blames the newest step);
- the baselines first-step, never, random hazard (p = TracerTraj's geometric hazard);
- with `--llm N`: the LLM auditor (`llm-prefix`) on the embedded SmolLM2-135M, on the N shortest
  runs (fewest steps), without the correct answer, beside the other forecasters on those runs;
  no run is started after `--llm-budget` seconds and the table covers the runs finished.

Run from the repository root:
    python benchmarks/forecast.py [--data ../shared/data] [--seeds 0 1 2] [--llm 20]
        [--llm-budget 600] [--only-llm]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from agentracer.forecast.crossval import CrossValidatedHazard
from agentracer.forecast.evaluate import ForecastRecord, ForecastRunConfig, _cases, run_forecasts
from agentracer.forecast.metrics import ForecastCase, ForecastSummary, forecast_cases, summarize
from agentracer.forecast.online import Forecaster
from agentracer.forecast.registry import DEFAULT_RANDOM_P, create_forecaster, shipped_threshold
from agentracer.formats import load_benchmark
from agentracer.llm import ConnectionSettings
from agentracer.tracers import TracerSettings
from agentracer.trajectory import Trajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KS = [1, 3]


def score_cases(
    forecaster: Forecaster, trajectories: Sequence[Trajectory], *, verbose: bool = False
) -> tuple[list[ForecastCase], float, int]:
    """The scored cases of `trajectories`, the seconds it took and the model calls."""
    cases = [("", t) for t in forecast_cases(trajectories)]
    config = ForecastRunConfig(bench="who-and-when", subsets=[], forecaster=forecaster.name)
    started = time.perf_counter()

    def show(record: ForecastRecord | None) -> None:
        if verbose and record is not None and record.result is not None:
            r = record.result
            print(f"  {record.id}: alarm {r.alarm} (label {record.label}), read {r.read}/"
                  f"{r.steps}, {r.usage.calls} calls, {time.perf_counter() - started:.0f} s",
                  file=sys.stderr, flush=True)  # fmt: skip

    records, _, failed = asyncio.run(run_forecasts(cases, forecaster, config, None, show))
    assert not failed, failed
    calls = sum(r.result.usage.calls for r in records if r.result)
    return _cases(records), time.perf_counter() - started, calls


def score(
    forecaster: Forecaster, trajectories: Sequence[Trajectory]
) -> tuple[ForecastSummary, float, int]:
    """The summary, the seconds it took and the model calls (LLM forecasters)."""
    cases, seconds, calls = score_cases(forecaster, trajectories)
    return summarize(cases, ks=KS), seconds, calls


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def row(name: str, s: ForecastSummary, extra: str = "") -> str:
    return (f"| {name} | {pct(s.step_accuracy)} | {pct(s.within[1])} | {pct(s.within[3])} | "
            f"{pct(s.eta)} | {pct(s.false_alarms)} | {s.failed} / {s.negatives} | {extra} |")  # fmt: skip


HEADER = (
    "| forecaster | exact % | ±1 % | ±3 % | η % | false alarms % | n (failed / no-alarm) | notes |\n"
    "|---|---|---|---|---|---|---|---|"
)


def baselines() -> list[Forecaster]:
    return [create_forecaster(n) for n in ("first-step", "never", "random-hazard")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--llm", type=int, default=0, help="the N shortest runs for llm-prefix")
    parser.add_argument("--only-llm", action="store_true", help="skip the all-runs table")
    parser.add_argument("--llm-budget", type=float, default=600.0,
                        help="start no LLM run after this many seconds")  # fmt: skip
    args = parser.parse_args()
    runs = [t for _, t in load_benchmark("who-and-when", data=args.data).trajectories()
            if t.label is not None]  # fmt: skip
    chosen = shipped_threshold()
    print(f"Who&When, {len(runs)} labelled runs; python {platform.python_version()}")
    print(f"shipped threshold {chosen['threshold']:.4f} ({chosen['chosen_on']}); "
          f"random hazard p = {DEFAULT_RANDOM_P}\n")  # fmt: skip
    if not args.only_llm:
        all_runs(runs, args.seeds)
    if args.llm:
        llm_runs(runs, args.llm, args.llm_budget)


def all_runs(runs: list[Trajectory], seeds: list[int]) -> None:
    print(HEADER)
    summary, seconds, _ = score(create_forecaster("fast-hazard"), runs)
    print(row("fast-hazard, shipped model + TracerTraj threshold", summary, f"{seconds:.0f} s"))
    cv_rows: list[ForecastSummary] = []
    for seed in seeds:
        cv = CrossValidatedHazard(runs, folds=5, seed=seed)
        summary, seconds, _ = score(cv, runs)
        cv_rows.append(summary)
        thresholds = ", ".join(f"{c.threshold:.2f}" for _, c in sorted(cv.choices.items()))
        print(row(f"fast-hazard, 5-fold CV by question, seed {seed}", summary,
                  f"fold thresholds {thresholds}; {seconds:.0f} s"))  # fmt: skip
    if len(cv_rows) > 1:
        exact = [s.step_accuracy or 0 for s in cv_rows]
        print(f"| (CV mean ± sd of exact over {len(cv_rows)} seeds) | "
              f"{100 * statistics.mean(exact):.1f} ± {100 * statistics.stdev(exact):.1f} "
              "| | | | | | |")  # fmt: skip
    summary, seconds, _ = score(create_forecaster("fast"), runs)
    print(row("prefix:fast (post-hoc tracer, alarm when it blames step t)", summary))
    for baseline in baselines():
        print(row(f"baseline: {baseline.name}", score(baseline, runs)[0]))


def llm_runs(runs: list[Trajectory], n: int, budget: float) -> None:
    """llm-prefix on the n shortest runs, one run (and its cut copy) at a time; no run is started
    after `budget` seconds, and the table covers the runs finished by then."""
    shortest = sorted(runs, key=lambda t: (len(t.steps), t.id))[:n]
    with tempfile.TemporaryDirectory() as cache:
        settings = TracerSettings(
            model="local/smollm2-135m",
            connection=ConnectionSettings(cache_dir=cache, concurrency=1, constrain=True),
        )
        llm = create_forecaster("llm-prefix", settings)
        started = time.perf_counter()
        done: list[Trajectory] = []
        cases: list[ForecastCase] = []
        calls = 0
        for trajectory in shortest:
            if done and time.perf_counter() - started > budget:
                break
            summary_cases, seconds, used = score_cases(llm, [trajectory], verbose=True)
            cases += summary_cases
            calls += used
            done.append(trajectory)
        seconds = time.perf_counter() - started
        unreadable = getattr(llm, "unreadable", 0)
    steps = [len(t.steps) for t in done]
    print(f"\nthe {len(done)} shortest runs ({min(steps)}-{max(steps)} steps; {len(shortest)} "
          f"asked, budget {budget:.0f} s), without the correct answer\n")  # fmt: skip
    print(HEADER)
    print(row("llm-prefix, local/smollm2-135m (grammar-constrained)", summarize(cases, ks=KS),
              f"{calls} calls, {seconds:.0f} s, {unreadable} unreadable"))  # fmt: skip
    print(row("fast-hazard, shipped", score(create_forecaster("fast-hazard"), done)[0]))
    for baseline in baselines():
        print(row(f"baseline: {baseline.name}", score(baseline, done)[0]))


if __name__ == "__main__":
    main()
