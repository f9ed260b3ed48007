"""What the consistency rule does to agent and step accuracy on Who&When.

A disagreeing answer (the named agent did not act at the named step) is resolved by one rule,
`agentracer.tracers.structure.resolve` (agent-anchored: keep the agent, take its nearest
step). This prints agent and step accuracy of the raw answers, after the agent-anchored rule
and after the step-anchored alternative (keep the step, name the agent that acted there), on:

1. independent answers drawn as the Who&When paper's random baseline does (an agent uniform
   over the run's agents, a step uniform over the whole log), 200 seeds over all 184 records:
   the disagreement a model that treats agent and step separately produces;
2. optionally, the raw outputs stored in run directories of an LLM tracer (`--runs DIR ...`):
   each stored `raw_output` is parsed again with the all-at-once parser and both rules applied.

Run from the repository root: python benchmarks/consistency_rule.py [--runs DIR ...]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from agentracer.evaluation.runner import RESULTS_FILE, read_results
from agentracer.formats import load_benchmark
from agentracer.naming import same_agent
from agentracer.tracers.parsing import parse_fields
from agentracer.tracers.structure import is_consistent, resolve
from agentracer.trajectory import Trajectory, Verdict

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SEEDS = 200


def _tally(pairs: list[tuple[Verdict, Trajectory]]) -> dict[str, tuple[float, float]]:
    out = {}
    for rule in ("raw", "agent", "step"):
        agent_hits = step_hits = 0
        for verdict, trajectory in pairs:
            resolved = verdict if rule == "raw" else resolve(verdict, trajectory, rule)  # type: ignore[arg-type]
            label = trajectory.label
            assert label is not None
            agent_hits += same_agent(resolved.agent, label.agent)
            step_hits += resolved.step == label.step
        out[rule] = (100 * agent_hits / len(pairs), 100 * step_hits / len(pairs))
    return out


def _print(title: str, pairs: list[tuple[Verdict, Trajectory]]) -> None:
    inconsistent = sum(
        v.agent is not None and v.step is not None and not is_consistent(v, t) for v, t in pairs
    )
    tally = _tally(pairs)
    print(f"\n{title}: {len(pairs)} answers, {100 * inconsistent / len(pairs):.1f}% inconsistent")
    print("| answers | agent % | step % |\n|---|---|---|")
    names = {"raw": "raw", "agent": "agent-anchored (the rule)", "step": "step-anchored"}
    for rule, (agent, step) in tally.items():
        print(f"| {names[rule]} | {agent:.2f} | {step:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--runs", type=Path, nargs="*", default=[])
    args = parser.parse_args()
    bench = load_benchmark("who-and-when", data=args.data)
    trajectories = {t.id: t for _, t in bench.trajectories()}
    for subset in ("hand-crafted", "algorithm-generated"):
        pairs = []
        for seed in range(SEEDS):
            for s, trajectory in bench.trajectories():
                if s != subset:
                    continue
                rng = random.Random(f"{seed}:{trajectory.id}")
                verdict = Verdict(
                    agent=rng.choice(trajectory.agents),
                    step=rng.randrange(len(trajectory.steps)),
                )
                pairs.append((verdict, trajectory))
        _print(f"independent uniform answers (Who&When random), {subset}, {SEEDS} seeds", pairs)
    for run in args.runs:
        pairs = []
        for result in read_results(run / RESULTS_FILE).values():
            trajectory = trajectories.get(result.id)
            if trajectory is None or result.verdict.raw_output is None:
                continue
            parsed = parse_fields(result.verdict.raw_output, trajectory)
            pairs.append((Verdict(agent=parsed.agent, step=parsed.step), trajectory))
        if pairs:
            _print(f"re-parsed raw outputs of {run}", pairs)


if __name__ == "__main__":
    main()
