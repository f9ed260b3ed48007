"""Do model signals transfer? Leave-one-system-out, with language-model surprise and sentence
embeddings beside the fast tracer's own features.

For each system left out (Who&When hand-crafted = Magentic-One, Who&When algorithm-generated =
CaptainAgent/AG2, TracerTraj = MetaGPT code), prints decisive-step top-1 and top-3 accuracy
(exact, %, 95% Wilson interval for top-1) of:
  - the training-free `surprise` tracer (its fixed rule), each other surprise rule, and the rule
    chosen on the two other systems (best top-1 there);
  - the fast LightGBM ranker (the package's own `fast.model.train`, via `loso.py`) trained on the two other systems with the base features, + surprise,
    + embeddings, + both, and surprise + embeddings alone (no position features); fixed
    `TrainSettings`, mean over three seeds;
  - every model-free rule (the best of them picked on the held-out system itself, as an upper
    bound for "a rule") and random uniform over agent steps (analytic).
A run whose gold step is not an agent step counts as a miss for everyone. Nothing is tuned on
the system left out. Signals come from the on-disk cache (`signals_precompute.py` fills it).

    python benchmarks/signals_transfer.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import loso
from signals_precompute import DEFAULT_DATA, SYSTEMS, labelled

from agentracer.evaluation.metrics import accuracy
from agentracer.tracers import create_tracer
from agentracer.tracers.baselines import BASELINES
from agentracer.tracers.fast.families import FAMILIES, FeatureSet
from agentracer.tracers.surprise import RULES, rule_scores
from agentracer.trajectory import StepKind, Trajectory

SEEDS = (0, 1, 2)
RANKERS = {
    "fast: base features": ("base",),
    "fast: base + surprise": ("base", "surprise"),
    "fast: base + embeddings": ("base", "embeddings"),
    "fast: base + surprise + embeddings": ("base", "surprise", "embeddings"),
    "fast: surprise + embeddings only": ("surprise", "embeddings"),
}
Hits = list[tuple[float, float]]  # per run: (top-1 hit, top-3 hit), fractional for random


def rows_of(trajectory: Trajectory, families: Sequence[str], memo: dict) -> list[list[float]]:
    return FeatureSet(tuple(families), memo).rows(trajectory)[1]


def hits_of(order: Sequence[int], gold: int) -> tuple[float, float]:
    return float(order[:1] == [gold]), float(gold in order[:3])


def ranked_order(indices: Sequence[int], scores: Sequence[float]) -> list[int]:
    return [indices[k] for k in sorted(range(len(indices)), key=lambda k: (-scores[k], indices[k]))]


def ranker_hits(train, test, families, memo, seeds: Sequence[int] = SEEDS) -> Hits:
    """The package's own LambdaRank training (`fast.model.train`), through `loso.py`."""
    return loso.ranker_hits(train, test, loso.Ranker(",".join(families)), memo, seeds)


def rule_hits(rule: str, test, memo) -> Hits:
    hits = []
    for t in test:
        indices = [s.index for s in t.agent_steps()]
        scores = rule_scores(rule, rows_of(t, ("surprise",), memo))
        hits.append(hits_of(ranked_order(indices, scores), t.label.step))
    return hits


def baseline_hits(name: str, test) -> Hits:
    tracer = create_tracer(name)
    hits = []
    for t in test:
        verdict = asyncio.run(tracer.attribute(t))
        order = [verdict.step, *verdict.candidates] if verdict.step is not None else []
        hits.append(hits_of(order, t.label.step))
    return hits


def random_hits(test) -> Hits:
    hits = []
    for t in test:
        m = len(t.agent_steps())
        agent_gold = t.steps[t.label.step].kind is StepKind.AGENT
        hits.append((1 / m, min(3, m) / m) if agent_gold and m else (0.0, 0.0))
    return hits


def top(hits: Hits, k: int) -> float:
    return 100 * statistics.mean(h[k] for h in hits)


def line(name: str, hits: Hits) -> str:
    whole = all(h[0] in (0.0, 1.0) for h in hits)
    if whole:
        a = accuracy([h[0] == 1.0 for h in hits])
        interval = f"[{100 * a.low:4.1f}, {100 * a.high:4.1f}]"
    else:
        interval = "(mean over seeds)" if "fast" in name else "(analytic)"
    return f"| {name} | {top(hits, 0):5.1f} {interval} | {top(hits, 1):5.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--families",
        default=",".join(FAMILIES),
        help="feature families whose rankers to train (the others' rows are left out)",
    )
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="LightGBM seeds per ranker")
    args = parser.parse_args()
    wanted = set(args.families.split(","))
    seeds = tuple(range(args.seeds))
    os.environ.setdefault("AGENTRACER_THREADS", "1")
    runs = {system: labelled(system, args.data) for system in SYSTEMS}
    memo: dict = {}
    started = time.perf_counter()
    for system, test in runs.items():
        others = [s for s in runs if s != system]
        train = [t for s in others for t in runs[s]]
        print(f"\n### Left out: {system} (n = {len(test)}; trained on {', '.join(others)})\n")
        print("| method | top-1 % [95% CI] | top-3 % |")
        print("|---|---|---|")
        print(
            line(
                "surprise tracer (rule `surprise`, training-free)",
                rule_hits("surprise", test, memo),
            )
        )
        chosen = max(
            RULES,
            key=lambda r: statistics.mean(top(rule_hits(r, runs[s], memo), 0) for s in others),
        )
        print(
            line(f"surprise rule chosen on the others (`{chosen}`)", rule_hits(chosen, test, memo))
        )
        for rule in RULES:
            if rule != "surprise":
                print(line(f"surprise rule `{rule}`", rule_hits(rule, test, memo)))
        for name, families in RANKERS.items():
            if not set(families) <= wanted:
                continue
            print(line(name, ranker_hits(train, test, families, memo, seeds)))
        rules = {name: baseline_hits(name, test) for name in BASELINES if name != "random"}
        best = max(rules, key=lambda name: top(rules[name], 0))
        print(line(f"best model-free rule on this system (`{best}`)", rules[best]))
        print(line("random, uniform over agent steps", random_hits(test)))
    print(f"\n{time.perf_counter() - started:.0f} s (signals read from the cache)")


if __name__ == "__main__":
    main()
