"""Speed of the model signals on a 5,000-token run, one core (target: surprise under 30 s).

The run is the longest prefix of a real Who&When hand-crafted log (Magentic-One) holding at
most 5,000 tokens (SmolLM2 tokenizer, task included). Prints, for the language-model surprise
at the default settings and at larger `step_tokens`: tokens actually scored, seconds with the
model already loaded, and seconds to read the cached result; then the same for the sentence
embeddings. Model loading is printed on its own (once per process). Run it under the lock:

    flock /tmp/heavy.lock python benchmarks/surprise_speed.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("AGENTRACER_THREADS", "1")

from agentracer.formats import load_benchmark
from agentracer.llm.models import local_model_file
from agentracer.tracers.fast.embeddings import KIND as EMB_KIND
from agentracer.tracers.fast.embeddings import run_embeddings
from agentracer.tracers.fast.signal_cache import SignalCache
from agentracer.tracers.fast.surprise import KIND, SurpriseSettings, _model, run_surprise
from agentracer.trajectory import Trajectory

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
TARGET_TOKENS = 5000


def five_thousand_tokens(data: Path, settings: SurpriseSettings) -> tuple[Trajectory, int]:
    model = _model(str(local_model_file(settings.model)), settings.window, settings.overlap)
    runs = [t for _, t in load_benchmark("who-and-when", ["hand-crafted"], data).trajectories()]
    run = max(runs, key=lambda t: len(t.steps))
    total = len(model.tokenize(run.question))
    kept = 0
    for step in run.steps:
        cost = len(model.tokenize(f"\n{step.agent}: {step.content}"))
        if total + cost > TARGET_TOKENS:
            break
        total += cost
        kept += 1
    prefix = run.model_copy(update={"steps": run.steps[:kept], "label": None})
    return Trajectory.model_validate(prefix.model_dump()), total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--step-tokens", default="32,128,4096", help="settings to time, comma-separated"
    )
    args = parser.parse_args()
    base = SurpriseSettings()
    started = time.perf_counter()
    model = _model(str(local_model_file(base.model)), base.window, base.overlap)
    model.tokenize("warm up")
    print(f"load SmolLM2-135M (xllamacpp + output matrix): {time.perf_counter() - started:.1f} s")
    run, tokens = five_thousand_tokens(args.data, base)
    print(f"run: {run.id}, {len(run.steps)} steps, {tokens} tokens; threads = 1")
    with tempfile.TemporaryDirectory() as scratch:
        for step_tokens in [int(x) for x in args.step_tokens.split(",")]:
            settings = replace(base, step_tokens=step_tokens)
            cache = SignalCache(KIND, scratch)
            started = time.perf_counter()
            arrays = run_surprise(run, settings, cache)
            computed = time.perf_counter() - started
            started = time.perf_counter()
            run_surprise(run, settings, cache)
            cached = time.perf_counter() - started
            print(
                f"surprise step_tokens={step_tokens:5d}: {len(arrays['nll']):5d} tokens scored, "
                f"{computed:6.1f} s computed, {cached * 1000:6.1f} ms from the cache"
            )
        cache = SignalCache(EMB_KIND, scratch)
        started = time.perf_counter()
        run_embeddings(run, cache)
        first = time.perf_counter() - started
        started = time.perf_counter()
        run_embeddings(run, cache)
        cached = time.perf_counter() - started
        print(
            f"embeddings (all-MiniLM-L6-v2 int8, {len(run.steps) + 1} texts): {first:5.1f} s "
            f"with loading, {cached * 1000:6.1f} ms from the cache"
        )


if __name__ == "__main__":
    main()
