"""The fast tracer under an honest protocol on Who&When, beside the baselines and published numbers.

Prints one table:
  (a) the shipped model (trained on TracerTraj only, never on Who&When) on all 184 records;
  (b) 5-fold cross-validation on Who&When, folds grouped by `question_ID` (no question in
      both a training and a test fold), three seeds (fold assignment and LightGBM seed), mean
      and standard deviation;
  (c) trained on one Who&When subset and tested on the other (records of the training subset
      whose question also occurs in the test subset are left out of training);
then the model-free baselines on the same 184 records, and published numbers (PAPER_NOTES).
All LightGBM settings are the fixed defaults of `TrainSettings`; nothing is tuned on a test
fold. Also prints the fast tracer's speed over all 184 records (features + model, one core).

Run from the repository root: python benchmarks/fast_protocol.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from agentracer.evaluation.baselines import score_baselines
from agentracer.forecast.crossval import grouped_folds, question_of
from agentracer.formats import load_benchmark
from agentracer.naming import same_agent
from agentracer.tracers.fast.model import FastModel, TrainSettings, train
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer, cached_model
from agentracer.trajectory import Trajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HC, AG = "hand-crafted", "algorithm-generated"
SEEDS = (0, 1, 2)
FOLDS = 5
# agent % / step %, hand-crafted then algorithm-generated, as published (PAPER_NOTES.md).
PUBLISHED = [
    ("GPT-4o all-at-once (WW), with G", (55.17, 5.26), (54.33, 12.50)),
    ("GPT-4o step-by-step (WW), with G", (34.48, 7.02), (35.20, 25.51)),
    ("Claude-Sonnet-4 (AT), with G", (56.90, 17.24), (57.93, 40.65)),
    ("AgenTracer-8B, with G", (69.10, 20.68), (69.62, 42.86)),
    ("AgenTracer-8B, without G", (63.82, None), (63.73, 37.30)),
    ("A2P, gpt-oss-120b (step only)", (None, 29.31), (None, 47.46)),
]

Scores = dict[str, tuple[float, float]]  # subset -> (agent %, step %)


def _predict(model: FastModel, trajectories: Sequence[Trajectory]) -> dict[str, tuple[bool, bool]]:
    tracer = FastTracer(model)
    hits = {}
    for trajectory in trajectories:
        verdict = asyncio.run(tracer.attribute(trajectory))
        label = trajectory.label
        assert label is not None
        hits[trajectory.id] = (same_agent(verdict.agent, label.agent), verdict.step == label.step)
    return hits


def _score(hits: dict[str, tuple[bool, bool]], by_subset: dict[str, list[Trajectory]]) -> Scores:
    scores: Scores = {}
    for subset, trajectories in by_subset.items():
        rows = [hits[t.id] for t in trajectories if t.id in hits]
        if rows:
            scores[subset] = (
                100 * sum(a for a, _ in rows) / len(rows),
                100 * sum(s for _, s in rows) / len(rows),
            )
    return scores


def _fmt(value: float | None, spread: float | None = None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if spread is None else f"{value:.2f} ± {spread:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()

    bench = load_benchmark("who-and-when", data=args.data)
    pairs = list(bench.trajectories())
    everything = [t for _, t in pairs]
    by_subset = {HC: [t for s, t in pairs if s == HC], AG: [t for s, t in pairs if s == AG]}
    by_subset["all"] = everything
    rows: list[tuple[str, str, Scores, Scores | None]] = []

    # (a) the shipped model, with its speed over all 184 records
    started = time.perf_counter()
    shipped = cached_model(str(DEFAULT_MODEL))
    shipped_hits = _predict(shipped, everything)
    seconds = time.perf_counter() - started
    rows.append(
        ("(a) held out", "fast, shipped (TracerTraj only)", _score(shipped_hits, by_subset), None)
    )

    # (b) 5-fold grouped cross-validation, three seeds
    per_seed: list[Scores] = []
    for seed in SEEDS:
        hits: dict[str, tuple[bool, bool]] = {}
        for fold in grouped_folds(everything, FOLDS, seed):
            held = set(fold)
            training = [t for i, t in enumerate(everything) if i not in held]
            model = train(training, TrainSettings(seed=seed), calibrate=False)
            hits.update(_predict(model, [everything[i] for i in fold]))
        per_seed.append(_score(hits, by_subset))
    mean: Scores = {}
    spread: Scores = {}
    for subset in by_subset:
        agents = [s[subset][0] for s in per_seed]
        steps = [s[subset][1] for s in per_seed]
        mean[subset] = (statistics.mean(agents), statistics.mean(steps))
        spread[subset] = (statistics.stdev(agents), statistics.stdev(steps))
    rows.append(("(b) 5-fold CV by question, 3 seeds", "fast, trained on W&W folds", mean, spread))

    # (c) one subset -> the other, without questions shared with the test subset
    for source, target in ((HC, AG), (AG, HC)):
        test_questions = {question_of(t) for t in by_subset[target]}
        training = [t for t in by_subset[source] if question_of(t) not in test_questions]
        model = train(training, TrainSettings(), calibrate=False)
        scores = _score(_predict(model, by_subset[target]), {target: by_subset[target]})
        rows.append((f"(c) train {source} ({len(training)}), test {target}", "fast", scores, None))

    baselines = score_baselines(pairs, [HC, AG], [1, 3])
    print(
        f"Who&When, exact scoring (agent % / step %); machine: {platform.machine()}, "
        f"{platform.python_version()}, CPU only"
    )
    header = [
        "protocol",
        "method",
        "HC agent",
        "HC step",
        "AG agent",
        "AG step",
        "all agent",
        "all step",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for protocol, method, scores, spreads in rows:
        cells = []
        for subset in (HC, AG, "all"):
            for k in (0, 1):
                value = scores.get(subset, (None, None))[k]
                sd = spreads.get(subset, (None, None))[k] if spreads else None
                cells.append(_fmt(value, sd))
        lines.append("| " + " | ".join([protocol, method, *cells]) + " |")
    for name, figures in baselines.items():
        cells = []
        for subset in (HC, AG, "all"):
            f = figures[subset]
            cells += [_fmt(100 * f["agent_accuracy"]), _fmt(100 * f["step_accuracy"])]
        lines.append("| " + " | ".join(["baseline, same 184 records", name, *cells]) + " |")
    for name, hc, ag in PUBLISHED:
        cells = [_fmt(hc[0]), _fmt(hc[1]), _fmt(ag[0]), _fmt(ag[1]), "-", "-"]
        lines.append("| " + " | ".join(["published (PAPER_NOTES)", name, *cells]) + " |")
    print("\n".join(lines))
    print(
        f"\nspeed: the shipped fast tracer attributed {len(everything)} trajectories in "
        f"{seconds:.1f} s ({len(everything) / seconds:.1f} trajectories/s), model load, "
        "feature extraction and evidence included; no sentence embeddings"
    )


if __name__ == "__main__":
    main()
