"""Early warnings people can leave on, leave-one-system-out (issue 19, item 6).

For each system left out (the systems of `loso.py`), a fast model with the shipped recipe
(`base,transfer` features, `small` settings) is trained on the other systems and a `fast-hazard`
threshold is chosen on them only, from 3-fold out-of-fold hazards:
  - `<= 10% false alarms`: the best exact alarm step accuracy among thresholds at which at most
    10% of the runs that must not alarm raise one (the shipped objective);
  - `exact accuracy only`: the former objective, no bound on false alarms.
Runs that must not alarm: every labelled run cut just before its label ("no alarm yet",
label >= 2), and successful runs where a source has them (tau-bench retail's successes, once
its loader is installed; none of Who&When or TracerTraj is a success). Printed per left-out
system: alarm step accuracy exact / ±1 / ±3 on its labelled runs, η (mean share of the log read
when the alarm goes off, 100% without one), and false alarms on its runs that must not alarm;
beside the baselines `first-step` and `never`.

    python benchmarks/forecast_loso.py [--data ../shared/data] [--write-threshold]

With `--write-threshold`, the threshold for the shipped model (trained on every system, chosen
with the 10% bound) is written to `src/agentracer/forecast/fast_threshold.json`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from loso import DEFAULT_DATA, SYSTEMS, labelled, successes

from agentracer.forecast.hazard import (
    MAX_FALSE_ALARMS,
    NEVER,
    choose_threshold,
    cut_before_label,
    first_alarm,
    hazards,
    out_of_fold_hazards,
    threshold_record,
)
from agentracer.tracers.fast.families import feature_set
from agentracer.tracers.fast.model import preset, train
from agentracer.trajectory import Outcome, StepKind, Trajectory

FAMILIES = "base,transfer"
PRESET = "small"
Sequence_ = list[tuple[int, float]]


def score(
    sequences: Sequence[tuple[Sequence_, int, int]],
    negatives: Sequence[Sequence_],
    threshold: float,
) -> dict[str, float]:
    """(hazard sequence, label, steps) of the failed runs and the negatives' sequences ->
    exact/±1/±3 accuracy, η and false alarms, in %."""
    alarms = [(first_alarm(seq, threshold), label, n) for seq, label, n in sequences]
    within = {
        k: 100 * statistics.mean(a is not None and abs(a - label) <= k for a, label, _ in alarms)
        for k in (0, 1, 3)
    }
    eta = 100 * statistics.mean((a + 1) / n if a is not None else 1.0 for a, _, n in alarms)
    false = [first_alarm(seq, threshold) is not None for seq in negatives]
    return {**{f"within{k}": v for k, v in within.items()}, "eta": eta,
            "false": 100 * statistics.mean(false) if false else float("nan")}  # fmt: skip


def first_step_sequences(runs: Sequence[Trajectory]) -> list[Sequence_]:
    """A hazard that makes `first_alarm` fire at the first agent step (threshold 0)."""
    return [[(s.index, 1.0) for s in t.agent_steps()] for t in runs]


def row(name: str, m: dict[str, float], n: int, negatives: int, note: str = "") -> str:
    return (f"| {name} | {m['within0']:.1f} | {m['within1']:.1f} | {m['within3']:.1f} | "
            f"{m['eta']:.1f} | {m['false']:.1f} | {n} / {negatives} | {note} |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--write-threshold", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    every = {name: labelled(b, s, args.data) for name, (b, s) in SYSTEMS.items()}
    # Labelled failed runs whose gold step an agent took; successes where a source has them.
    failed = {
        name: [t for t in runs if t.outcome is not Outcome.SUCCESS and t.steps[t.label.step].kind is StepKind.AGENT]
        for name, runs in every.items()
    }  # fmt: skip
    good = {name: successes(b, s, args.data) for name, (b, s) in SYSTEMS.items()}
    features = feature_set(FAMILIES)
    settings = preset(PRESET)
    print(
        "| forecaster | exact % | ±1 % | ±3 % | η % | false alarms % | n failed / must not alarm | threshold |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for system, test in failed.items():
        others = [s for s in failed if s != system]
        train_runs = [t for s in others for t in failed[s]]
        scored = out_of_fold_hazards(train_runs, settings, features=features)
        train_negatives = cut_before_label(scored)
        model = train(train_runs, settings, calibrate=False, features=features)
        train_negatives += [hazards(model, t) for s in others for t in good[s]]
        bounded = choose_threshold(
            scored, negatives=train_negatives, max_false_alarms=MAX_FALSE_ALARMS
        )
        plain = choose_threshold(scored)
        sequences = [(hazards(model, t), t.label.step, len(t.steps)) for t in test]
        negatives = cut_before_label([(seq, label) for seq, label, _ in sequences])
        negatives += [hazards(model, t) for t in good[system]]
        n_neg = len(negatives)
        print(f"| **left out: {system}** (trained on {', '.join(others)}) | | | | | | | |")
        for name, choice in (
            ("fast-hazard, <= 10% false alarms", bounded),
            ("fast-hazard, exact accuracy only", plain),
        ):
            note = f"{choice.threshold:.3f}; on the others: exact {100 * choice.accuracy:.1f}%"
            if choice.false_alarms is not None:
                note += f", false alarms {100 * choice.false_alarms:.1f}%"
            print(row(name, score(sequences, negatives, choice.threshold), len(test), n_neg, note))
        first = [
            (seq, t.label.step, len(t.steps))
            for seq, t in zip(first_step_sequences(test), test, strict=True)
        ]
        firsts_neg = cut_before_label([(seq, label) for seq, label, _ in first])
        firsts_neg += first_step_sequences(good[system])
        print(row("baseline: first-step", score(first, firsts_neg, 0.0), len(test), n_neg))
        print(row("baseline: never", score(sequences, negatives, NEVER), len(test), n_neg))
    print(f"\n{time.perf_counter() - started:.0f} s")
    if args.write_threshold:
        every_failed = [t for runs in failed.values() for t in runs]
        every_success = [t for runs in good.values() for t in runs]
        record = threshold_record(
            every_failed, "every labelled source: " + ", ".join(failed), settings,
            features=features, successes=every_success,
        )  # fmt: skip
        path = Path(__file__).resolve().parents[1] / "src/agentracer/forecast/fast_threshold.json"
        old = json.loads(path.read_text(encoding="utf-8"))
        record["random_hazard_p"] = old.get("random_hazard_p")
        record["model"] = "the shipped fast model (src/agentracer/tracers/fast/default)"
        path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {path}: threshold {record['threshold']}")


if __name__ == "__main__":
    main()
