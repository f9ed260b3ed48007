"""Leave-one-system-out: the headline score of every learned tracer (issue 19, item 2).

For each system left out, every learned tracer is trained on all the other systems (the
package's own `fast.model.train`, fixed `TrainSettings`, mean over seeds) and tested on it,
beside every model-free rule and both analytic randoms. Printed per system: decisive-step top-1
(exact, %) with its 95% interval, and top-3 (%). Nothing is tuned on the system left out: the
rankers' settings are fixed, and "rule chosen on the others" picks the model-free rule with the
best mean top-1 on the training systems only.

Systems (the protocol is data, `SYSTEMS`): Who&When hand-crafted (Magentic-One; AgentRx's
re-annotation of the same logs would be the same system), Who&When algorithm-generated
(CaptainAgent/AG2), TracerTraj (MetaGPT code), and tau-bench retail when a loader for it is
installed. A run whose gold step is not an agent step is a miss for everyone.

Learned tracers are named by their feature families (`families.FAMILIES`): `base` (the shipped
features), `transfer` (relative to the run: hand-off structure, within-run percentiles, tool
errors, corrections, contested content), and the model signals `surprise` and `embeddings`
(read from the on-disk signal cache; `--families` adds them, `signals_precompute.py` fills it).

Rule rankings for top-3 are `fast.anchor.RULES`: first-agent-step ranks agent steps first to last, last-agent-step last
to first, first-hand-off by distance from the first hand-off (earlier first on ties),
most-frequent-agent that agent's steps first, in order. Randoms are analytic: uniform over agent
steps (top-1 = 1/m, top-3 = 3/m), and agent-then-step (uniform over the agents that acted, then
over its steps; top-3 = chance the gold step is among three draws without replacement).

Intervals: Wilson for a tracer whose hits are 0/1; for a mean over seeds or an analytic random,
a percentile bootstrap over runs (2,000 resamples, seed 0).

    python benchmarks/loso.py [--data ../shared/data] [--seeds 3] [--rankers base;transfer;base,transfer]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from agentracer.evaluation.metrics import wilson_interval
from agentracer.formats import load_benchmark
from agentracer.formats.who_and_when import FLAG_GOLD_NOT_BLAMABLE
from agentracer.tracers.fast.anchor import RULES, choose_anchor, rule_ranking
from agentracer.tracers.fast.families import feature_set
from agentracer.tracers.fast.model import preset, train
from agentracer.trajectory import Outcome, StepKind, Trajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SYSTEMS: dict[str, tuple[str, list[str] | None]] = {
    "WW hand-crafted": ("who-and-when", ["hand-crafted"]),
    "WW algorithm-generated": ("who-and-when", ["algorithm-generated"]),
    "TracerTraj": ("tracertraj", None),
    "tau-bench retail": ("tau-retail", ["tau-retail"]),
}
DEFAULT_RANKERS = (
    "base;transfer;base,transfer;base,transfer@small;base@small+anchor;base,transfer@small+anchor"
)
Hits = list[tuple[float, float]]  # per run: (top-1 hit, top-3 hit); fractional when averaged


def labelled(bench: str, subsets: list[str] | None, data: Path) -> list[Trajectory]:
    """The labelled runs whose gold agent can be blamed (a run blaming a simulated user is
    flagged by its reader and left out of every row, as `formats.benchmarks.runs_by_system`)."""
    benchmark = load_benchmark(bench, subsets, data)
    return [
        t for _, t in benchmark.trajectories()
        if t.label is not None and FLAG_GOLD_NOT_BLAMABLE not in t.flags
    ]  # fmt: skip


def successes(bench: str, subsets: list[str] | None, data: Path) -> list[Trajectory]:
    """The successful runs of a source (tau-bench retail has 73; Who&When and TracerTraj none)."""
    benchmark = load_benchmark(bench, subsets, data)
    return [t for _, t in benchmark.trajectories() if t.outcome is Outcome.SUCCESS]


def gold_rank(t: Trajectory) -> int | None:
    """The gold step's position among the agent steps; None when an agent did not take it."""
    assert t.label is not None
    indices = [s.index for s in t.agent_steps()]
    return indices.index(t.label.step) if t.label.step in indices else None


def hits_of(order: Sequence[int], t: Trajectory) -> tuple[float, float]:
    assert t.label is not None
    gold = t.label.step
    if t.steps[gold].kind is not StepKind.AGENT:
        return 0.0, 0.0
    return float(order[:1] == [gold]), float(gold in order[:3])


# -- model-free rules, as rankings of the agent steps (the package's own, `fast.anchor`) ---------


def rule_hits(rule: str, test: Sequence[Trajectory]) -> Hits:
    return [hits_of(rule_ranking(rule, t), t) for t in test]


# -- analytic randoms ------------------------------------------------------------------------


def uniform_hits(test: Sequence[Trajectory]) -> Hits:
    hits = []
    for t in test:
        m = len(t.agent_steps())
        hits.append((1 / m, min(3, m) / m) if m and gold_rank(t) is not None else (0.0, 0.0))
    return hits


def _top3_without_replacement(p: Sequence[float], g: int) -> float:
    """Chance that item g is among three draws without replacement, weights `p` (sum 1)."""
    total = p[g]
    others = [k for k in range(len(p)) if k != g]
    for i in others:
        total += p[i] * p[g] / (1 - p[i])
        for j in others:
            if j != i:
                total += p[i] * p[j] / (1 - p[i]) * p[g] / (1 - p[i] - p[j])
    return total


def agent_then_step_hits(test: Sequence[Trajectory]) -> Hits:
    hits = []
    for t in test:
        agent_steps = t.agent_steps()
        rank = gold_rank(t)
        if rank is None:
            hits.append((0.0, 0.0))
            continue
        counts: dict[str, int] = {}
        for s in agent_steps:
            counts[s.agent] = counts.get(s.agent, 0) + 1
        p = [1 / len(counts) / counts[s.agent] for s in agent_steps]
        top3 = 1.0 if len(p) <= 3 else min(1.0, _top3_without_replacement(p, rank))
        hits.append((p[rank], top3))
    return hits


# -- learned tracers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranker:
    """A learned tracer: feature families, a settings preset, and whether it leads with the
    rule chosen on its training runs. Spelled `FAMILIES[@PRESET][+anchor]`, e.g.
    `base,transfer@small+anchor`."""

    families: str
    preset: str = "default"
    anchor: bool = False

    @classmethod
    def parse(cls, text: str) -> Ranker:
        anchor = text.endswith("+anchor")
        text = text.removesuffix("+anchor")
        families, _, name = text.partition("@")
        return cls(families, name or "default", anchor)

    @property
    def label(self) -> str:
        settings = "" if self.preset == "default" else f", {self.preset} settings"
        lead = ", led by the rule chosen on its training runs" if self.anchor else ""
        return f"fast: {self.families.replace(',', ' + ')}{settings}{lead}"


def ranker_hits(
    train_runs: Sequence[Trajectory], test: Sequence[Trajectory], ranker: Ranker, memo: dict,
    seeds: Sequence[int],
) -> Hits:  # fmt: skip
    per_seed = []
    features = feature_set(ranker.families, memo)
    for seed in seeds:
        model = train(
            train_runs, preset(ranker.preset, seed), calibrate=False, features=features,
            anchor=ranker.anchor,
        )  # fmt: skip
        per_seed.append([hits_of(model.ranking(t), t) for t in test])
    return [
        (statistics.mean(h[i][0] for h in per_seed), statistics.mean(h[i][1] for h in per_seed))
        for i in range(len(test))
    ]


# -- printing ---------------------------------------------------------------------------------


def interval(hits: Hits) -> tuple[float, float]:
    firsts = [h[0] for h in hits]
    if all(x in (0.0, 1.0) for x in firsts):
        return wilson_interval(int(sum(firsts)), len(firsts))
    rng = random.Random(0)
    means = sorted(statistics.mean(rng.choices(firsts, k=len(firsts))) for _ in range(2000))
    return means[49], means[1949]


def cell(hits: Hits) -> str:
    low, high = interval(hits)
    top1 = 100 * statistics.mean(h[0] for h in hits)
    top3 = 100 * statistics.mean(h[1] for h in hits)
    return f"{top1:5.1f} [{100 * low:4.1f}, {100 * high:4.1f}] | {top3:5.1f}"


def top1(hits: Hits) -> float:
    return 100 * statistics.mean(h[0] for h in hits)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seeds", type=int, default=3, help="LightGBM seeds per ranker")
    parser.add_argument(
        "--rankers", default=DEFAULT_RANKERS,
        help="learned tracers to train, ';'-separated, each a ','-separated list of families",
    )  # fmt: skip
    parser.add_argument("--only", help="left-out systems to run, ';'-separated (default: all)")
    parser.add_argument(
        "--write-record", type=Path,
        help="model directory whose TRAINING.json gets the rows of --record-ranker (the model card)",
    )  # fmt: skip
    parser.add_argument("--record-ranker", default="base,transfer@small+anchor")
    args = parser.parse_args()
    os.environ.setdefault("AGENTRACER_THREADS", "1")
    started = time.perf_counter()
    runs = {name: labelled(bench, subsets, args.data) for name, (bench, subsets) in SYSTEMS.items()}
    memo: dict = {}
    rankers = [r for r in args.rankers.split(";") if r]
    seeds = range(args.seeds)
    wanted = args.only.split(";") if args.only else list(runs)
    summary: list[tuple[str, str, float, float]] = []
    recorded: list[dict] = []
    for system in wanted:
        test = runs[system]
        others = [s for s in runs if s != system]
        train_runs = [t for s in others for t in runs[s]]
        print(f"\n### Left out: {system} (n = {len(test)}; trained on {', '.join(others)})\n")
        print("| tracer | kind | top-1 % [95% CI] | top-3 % |")
        print("|---|---|---|---|")
        rows: dict[str, tuple[str, Hits]] = {}
        for text in rankers:
            ranker = Ranker.parse(text)
            rows[ranker.label] = ("learned", ranker_hits(train_runs, test, ranker, memo, seeds))
        chosen, _ = choose_anchor(train_runs)
        rows[f"rule chosen on the others (`{chosen}`)"] = ("learned", rule_hits(chosen, test))
        for rule in RULES:
            rows[f"`{rule}`"] = ("rule", rule_hits(rule, test))
        rows["random: agent, then step"] = ("random", agent_then_step_hits(test))
        rows["random: uniform over agent steps"] = ("random", uniform_hits(test))
        for name, (kind, hits) in rows.items():
            print(f"| {name} | {kind} | {cell(hits)} |")
        bar = max(top1(h) for kind, h in rows.values() if kind in ("rule", "random"))
        best_rule = max(
            (n for n, (k, _) in rows.items() if k == "rule"), key=lambda n: top1(rows[n][1])
        )
        mine = rows.get(Ranker.parse(args.record_ranker).label)
        if mine is not None:
            low, high = interval(mine[1])
            recorded.append({
                "left_out": system, "n": len(test), "trained_on": others,
                "tracer": Ranker.parse(args.record_ranker).label,
                "top1": round(top1(mine[1]), 1), "top1_ci95": [round(100 * low, 1), round(100 * high, 1)],
                "top3": round(100 * statistics.mean(h[1] for h in mine[1]), 1),
                "best_rule": best_rule.strip("`"), "best_rule_top1": round(top1(rows[best_rule][1]), 1),
                "best_rule_or_random_top1": round(bar, 1),
            })  # fmt: skip
        for name, (kind, hits) in rows.items():
            if kind == "learned":
                summary.append(
                    (system, name, top1(hits) - bar, 100 * statistics.mean(h[1] for h in hits))
                )
        print(f"\nbest rule or random on this system (picked on it): top-1 {bar:.1f}")
    print(
        "\n### Against the targets (top-1 at least 5 points above the best rule and randoms; top-3 at least 40%)\n"
    )
    print("| left out | tracer | top-1 minus best rule/random | top-3 % | meets both |")
    print("|---|---|---|---|---|")
    for system, name, margin, top3 in summary:
        ok = "yes" if margin >= 5 and top3 >= 40 else "no"
        print(f"| {system} | {name} | {margin:+.1f} | {top3:.1f} | {ok} |")
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.write_record:
        write_record(args.write_record, recorded, args, len(seeds))


def write_record(directory: Path, rows: list[dict], args: argparse.Namespace, seeds: int) -> None:
    """Put the recorded ranker's rows into the model's TRAINING.json (its model card's table)."""
    import json
    from datetime import UTC, datetime

    from agentracer.tracers.fast.training import LOSO_KEY, TRAINING_FILE

    path = directory / TRAINING_FILE
    record = json.loads(path.read_text(encoding="utf-8"))
    record[LOSO_KEY] = {
        "command": "python benchmarks/loso.py " + " ".join(sys.argv[1:]),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seeds": seeds,
        "note": "each row: trained on the other systems only, tested on the one left out; the "
        "shipped model itself was trained on all of them",
        "rows": rows,
    }
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"wrote the leave-one-system-out rows of {args.record_ranker} into {path}")


if __name__ == "__main__":
    main()
