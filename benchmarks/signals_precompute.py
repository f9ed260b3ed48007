"""Compute and cache the model signals (language-model surprise, sentence embeddings) of every
labelled run, so the transfer benchmark (`signals_transfer.py`) only reads the cache.

Runs `--workers` processes of one thread each (llama.cpp's threads wait for each other at
every layer, so separate processes scale better on a shared machine). Prints per system the
runs, steps, tokens scored and seconds. Run under the heavy-job lock:

    flock /tmp/heavy.lock python benchmarks/signals_precompute.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import loso  # the benchmarks folder is the script's own, first on the path

from agentracer.trajectory import Trajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SYSTEMS = {
    "who-and-when/algorithm-generated": ("who-and-when", ["algorithm-generated"]),
    "who-and-when/hand-crafted": ("who-and-when", ["hand-crafted"]),
    "tracertraj": ("tracertraj", None),
}


def labelled(system: str, data: Path) -> list[Trajectory]:
    """The labelled, blamable runs of `system`, as the leave-one-system-out benchmark reads them."""
    return loso.labelled(*SYSTEMS[system], data)


def _one(job: tuple[str, Trajectory]) -> tuple[str, str, int, float, str]:
    signal, trajectory = job
    started = time.perf_counter()
    try:
        if signal == "surprise":
            from agentracer.tracers.fast.surprise import run_surprise

            scored = len(run_surprise(trajectory)["nll"])
        else:
            from agentracer.tracers.fast.embeddings import run_embeddings

            scored = len(run_embeddings(trajectory)["vectors"])
    except Exception as error:  # one bad run fails alone, with its reason
        return trajectory.id, signal, 0, time.perf_counter() - started, str(error)[:200]
    return trajectory.id, signal, scored, time.perf_counter() - started, ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--signals", default="embeddings,surprise")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    args = parser.parse_args()
    os.environ.setdefault("AGENTRACER_THREADS", "1")
    for signal in args.signals.split(","):
        for system in args.systems.split(","):
            runs = labelled(system, args.data)
            started = time.perf_counter()
            scored = 0
            failed = []
            with ProcessPoolExecutor(args.workers) as pool:
                for run_id, _, count, _, error in pool.map(_one, [(signal, t) for t in runs]):
                    scored += count
                    if error:
                        failed.append(f"{run_id}: {error}")
            seconds = time.perf_counter() - started
            steps = sum(len(t.steps) for t in runs)
            print(
                f"{signal:10s} {system:36s} runs {len(runs):4d} steps {steps:5d} "
                f"scored {scored:7d} in {seconds:7.1f} s ({args.workers} workers x 1 thread)",
                flush=True,
            )
            for line in failed:
                print(f"  failed {line}", flush=True)


if __name__ == "__main__":
    main()
