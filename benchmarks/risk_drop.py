"""Risk Drop per system x scorer x n: how faithful each scorer's blame is on our simulations.

For each simulation (social network, economy, market) this records one seeded run with the model, has
every scorer rank the run's actions, deletes the top n (neutral action, later calls live),
re-simulates k times and prints Risk Drop = (risk before - mean risk after) / risk before, and
the insertion variant (only the top n kept) as Risk Kept = risk after / risk before. Costs are
in replays (re-runs of the simulation) and, for tracers, model calls.

    python benchmarks/risk_drop.py --system economy --top 5 --top 10 -m 2 --tracer agentracer \
        --tracer fast --determinism

`--determinism` first re-runs the recorded run live (call 0 answered with its own text, every
later call asked of the model again) and says whether it reproduced every action and the risk:
when it does, replays at temperature 0 are deterministic and k > 1 adds nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from agentracer.errors import AgenTracerError
from agentracer.faithfulness.risk_drop import FaithfulnessReport, evaluate, markdown, table
from agentracer.faithfulness.scorers import Scorer, make_scorer
from agentracer.faithfulness.subject import Subject
from agentracer.llm import ConnectionSettings
from agentracer.replay.session import Program, record
from agentracer.replay.upstream import make_upstream
from agentracer.tracers import TracerSettings

SYSTEMS = {"economy": "economy", "market": "market", "social-network": "social_network"}


def program(module: str, agents: int, rounds: int, seed: int) -> Program:
    command = [sys.executable, "-m", f"agentracer.systems.{module}"]
    length = "--months" if module == "economy" else "--rounds"
    return Program(
        command=[
            *command,
            "run",
            "--agents",
            str(agents),
            length,
            str(rounds),
            "--seed",
            str(seed),
        ],
        check=" ".join([*command, "check"]),
        timeout=1800,
    )


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def determinism(subject: Subject) -> str:
    """Re-run the recorded run live from call 1 on and compare every action (whitespace aside:
    llama.cpp's prompt cache can change a reply's indentation) and the risk."""
    texts = subject.recorded_texts()
    rerun = subject.replay({0: texts[0]}, "determinism", live=True)
    calls = rerun.recording.calls()
    spaced = [c.index for c in calls if c.content() != texts[c.index]]
    changed = [
        c.index for c in calls if "".join(c.content().split()) != "".join(texts[c.index].split())
    ]
    if not changed and rerun.risk == subject.risk_before:
        return (
            f"a live re-run reproduced all {len(texts)} actions and the risk (deterministic; "
            f"whitespace differed in actions {spaced})"
        )
    return (
        f"a live re-run changed actions {changed}: risk {rerun.risk:.6f} against "
        f"{subject.risk_before:.6f} (not deterministic; use k > 1)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local/smollm2-135m")
    parser.add_argument("--system", action="append", choices=sorted(SYSTEMS))
    parser.add_argument("--agents", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, action="append")
    parser.add_argument("-k", type=int, default=1)
    parser.add_argument("-m", "--permutations", type=int, default=1)
    parser.add_argument("--tracer", action="append", help="default: agentracer")
    parser.add_argument("--scorer", action="append", help="default: random, leave-one-out, shapley")
    parser.add_argument("--work", type=Path, help="keep recordings and replays here")
    parser.add_argument(
        "--threads", type=int, help="embedded model: CPU threads (default all; 1 on a busy machine)"
    )
    parser.add_argument(
        "--determinism", action="store_true", help="first check that a live re-run reproduces"
    )
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="risk-drop-"))
    connection = ConnectionSettings(timeout=1200, extra={"threads": args.threads})
    upstream = make_upstream(args.model, connection)
    settings = TracerSettings(model=args.model, connection=connection)
    reports: dict[str, FaithfulnessReport] = {}
    started, load_at_start = time.perf_counter(), _load()
    for name in args.system or list(SYSTEMS):
        directory = work / name / "recording"
        recorded = record(
            program(SYSTEMS[name], args.agents, args.rounds, args.seed), upstream, directory
        )
        print(f"{name}: recorded {len(recorded.calls())} actions ({recorded.outcome.status}) "
              f"in {recorded.seconds:.0f} s", flush=True)  # fmt: skip
        scorers: list[Scorer] = [
            make_scorer(s, k=args.k, permutations=args.permutations, seed=args.seed)
            for s in args.scorer or ["random", "leave-one-out", "shapley"]
        ]
        scorers += [
            make_scorer(f"tracer:{t}", settings=settings) for t in args.tracer or ["agentracer"]
        ]
        subject = Subject(directory, upstream, work / name / "replays")
        system_started = time.perf_counter()
        try:
            if args.determinism:
                print(f"{name}: {determinism(subject)}", flush=True)
            reports[name] = evaluate(subject, scorers, args.top or [5, 10], k=args.k)
        except AgenTracerError as error:  # e.g. a run with zero risk: say so, go on
            print(f"{name}: {error.one_line()}", flush=True)
            continue
        (work / name / "report.json").write_text(reports[name].model_dump_json(indent=2))
        print(f"{name}: {reports[name].replays} replays, "
              f"{time.perf_counter() - system_started:.0f} s wall", flush=True)  # fmt: skip
    header, rows = table(reports)
    print(
        f"\nmodel {args.model}, {args.agents} agents x {args.rounds} rounds, seed {args.seed}, "
        f"k={args.k}, Shapley M={args.permutations}; {platform.machine()}, "
        f"{time.perf_counter() - started:.0f} s wall; load average at start "
        f"{load_at_start}, at end {_load()}; work dir {work}\n"
    )
    for name, report in reports.items():
        print(f"{name}: risk before {report.risk_before:.5f}, {report.actions} actions, "
              f"{report.replays} replays in all")  # fmt: skip
    print()
    print(markdown(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
