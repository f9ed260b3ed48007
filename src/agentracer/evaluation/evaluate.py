"""One call to evaluate a tracer on a loaded benchmark and write the run directory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentracer.evaluation.baselines import score_baselines
from agentracer.evaluation.report import summarise, write_reports
from agentracer.evaluation.runner import RecordResult, RunConfig, RunOutcome, run_evaluation
from agentracer.formats.benchmarks import Benchmark
from agentracer.tracers.base import Tracer


def record_counts(benchmark: Benchmark) -> dict[str, int]:
    """Records per subset, loaded or not: the released Who&When scorer's denominator."""
    return {subset: len(entries) for subset, entries in benchmark.subsets.items()}


def evaluate(
    benchmark: Benchmark,
    tracer: Tracer,
    config: RunConfig,
    out_dir: Path,
    on_result: Callable[[RecordResult | None], None] | None = None,
) -> tuple[dict[str, Any], RunOutcome]:
    """Run (or resume) `tracer` on `benchmark` in `out_dir`; returns the summary and the outcome.

    The tracer is closed at the end (its model connection belongs to this call's event loop).
    The model-free baselines are scored on the same trajectories and stored in the summary.
    """

    async def run_and_close() -> RunOutcome:
        try:
            return await run_evaluation(benchmark, tracer, config, out_dir, on_result)
        finally:
            await tracer.aclose()

    outcome = asyncio.run(run_and_close())
    return write_summary(benchmark, config, outcome, out_dir), outcome


def write_summary(
    benchmark: Benchmark, config: RunConfig, outcome: RunOutcome, out_dir: Path
) -> dict[str, Any]:
    """Summarise a finished (or resumed) run, with the model-free baselines scored on the same
    trajectories, and write `summary.json` and `results.md`; however the run was executed."""
    scored = {r.id for r in outcome.results}
    baselines = score_baselines(
        ((s, t) for s, t in benchmark.trajectories() if t.id in scored),
        config.subsets,
        config.tolerances,
        with_ground_truth=config.with_ground_truth,
    )
    summary = summarise(
        config,
        outcome,
        location=benchmark.location,
        baselines=baselines,
        records=record_counts(benchmark),
    )
    write_reports(out_dir, summary)
    return summary
