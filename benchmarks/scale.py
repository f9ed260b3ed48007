"""Throughput of `eval` and `annotate` on Ray against the in-process path, I/O-bound.

A loopback OpenAI-compatible server answers every call after a fixed latency (default 200 ms),
so the work is waiting on the model, as with a remote endpoint, and the machine's cores are
not what limits it. Measured:

- eval: the all-at-once tracer on the first N Who&When trajectories (one model call each),
  in-process (`--concurrency` 1 and 4) and on a local Ray cluster of 1, 2 and 4 workers
  (one task, i.e. one trajectory, per worker at a time); trajectories per second;
- annotate: counterfactual replay of M failed recordings (every candidate tried: the loopback
  model's fixes never flip a run), sequential in-process and on Ray with 1, 2 and 4 workers;
  replays per second. `--program light` (default) is a three-agent team in a few lines of
  stdlib Python with a `grep` check, so a replay is mostly waiting on its model calls;
  `--program math` is the reference math team, whose replays start Python processes that
  import openai and agentracer, several core-seconds each on these cores (CPU-bound here).
  On Ray each replay runs in its own copy of the team's working directory (a few kB), as
  `annotate --ray` does by default; the in-process replays run in the directory itself.

    python benchmarks/scale.py --data ../shared/data [--trajectories 40] [--recordings 3]

Scaling is throughput divided by the 1-worker throughput; linear is the worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

LIGHT_TEAM = """
import json, os, sys, urllib.request

def ask(agent, content):
    body = {"model": "team", "messages": [{"role": "system", "content": f"You are {agent}."},
                                          {"role": "user", "content": content}]}
    request = urllib.request.Request(
        os.environ["OPENAI_BASE_URL"] + "/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-AgenTracer-Agent": agent,
                 "Authorization": "Bearer " + os.environ.get("OPENAI_API_KEY", "")})
    reply = json.loads(urllib.request.urlopen(request, timeout=60).read())
    return reply["choices"][0]["message"]["content"]

plan = ask("Planner", sys.argv[1])
work = ask("Solver", plan)
print(ask("Verifier", work))
"""
ANSWER = "Agent Name: {agent}\nStep Number: 1\nReason for Mistake: it made the error."


class LatencyServer:
    """`/v1/chat/completions` answered after `latency` seconds; all-at-once answers name the
    first agent of the prompt's list, everything else gets a fixed wrong solution."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._send({"object": "list", "data": [{"id": "bench", "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.calls += 1
                time.sleep(server.latency)
                prompt = body["messages"][-1]["content"]
                text = (
                    ANSWER.format(agent="Orchestrator")
                    if "Agent Name" in prompt
                    else "Working it out.\nANSWER: 1"
                )
                self._send(
                    {
                        "id": "c", "object": "chat.completion", "created": 0, "model": "bench",
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": text}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                )  # fmt: skip

            def _send(self, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def timed(work: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    done = work()
    return done, time.perf_counter() - started


def _warm_up() -> None:
    import agentracer.scale.annotate
    import agentracer.scale.eval
    import agentracer.tracers  # noqa: F401

    time.sleep(1.0)  # keep this worker busy so each warm-up task lands on its own worker


def with_ray(workers: int, work: Callable[[], int]) -> tuple[int, float]:
    import ray

    ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        # start the worker processes and import the library in each before the clock runs,
        # as a long-lived cluster has them (a one-off ~2 s per worker on these cores)
        ray.get([ray.remote(num_cpus=1)(_warm_up).remote() for _ in range(workers)])
        return timed(work)
    finally:
        ray.shutdown()


def ray_rows(
    job: str, unit: str, workers_list: list[int], work: Callable[[], int]
) -> list[list[str]]:
    """One table row per Ray cluster size; scaling is against the first (smallest) size."""
    rows, base = [], None
    for workers in workers_list:
        done, seconds = with_ray(workers, work)
        rate = done / seconds
        base = base or rate
        rows.append([job, f"Ray, {workers} worker(s)", f"{done}", f"{seconds:.1f}",
                     f"{rate:.2f} {unit}", f"{rate / base:.2f}x of {workers}x"])  # fmt: skip
    return rows


def bench_eval(args: argparse.Namespace, server: LatencyServer, rows: list[list[str]]) -> None:
    from agentracer.evaluation import RunConfig, run_evaluation
    from agentracer.formats import load_benchmark
    from agentracer.formats.benchmarks import Benchmark
    from agentracer.llm import ConnectionSettings
    from agentracer.scale.eval import run_evaluation_on_ray
    from agentracer.tracers import TracerSettings, create_tracer

    full = load_benchmark("who-and-when", ["hand-crafted"], args.data)
    benchmark = Benchmark(
        full.name,
        full.location,
        {"hand-crafted": full.subsets["hand-crafted"][: args.trajectories]},
    )
    n = len(list(benchmark.trajectories()))

    def config(concurrency: int) -> RunConfig:
        connection = ConnectionSettings(
            base_url=server.base_url, use_cache=False, concurrency=concurrency
        )
        settings = TracerSettings(model="openai/bench", connection=connection)
        return RunConfig(
            bench="who-and-when", subsets=["hand-crafted"], tracer="all-at-once",
            settings=settings, concurrency=concurrency,
        )  # fmt: skip

    def in_process(concurrency: int) -> int:
        cfg = config(concurrency)
        tracer = create_tracer("all-at-once", cfg.settings)
        with tempfile.TemporaryDirectory() as out:
            return asyncio.run(run_evaluation(benchmark, tracer, cfg, Path(out))).computed

    def on_ray() -> int:
        with tempfile.TemporaryDirectory() as out:
            return run_evaluation_on_ray(benchmark, config(1), Path(out)).computed

    for concurrency in (1, 4):
        done, seconds = timed(lambda c=concurrency: in_process(c))
        rows.append(["eval", f"in-process, concurrency {concurrency}", f"{done}", f"{seconds:.1f}",
                     f"{done / seconds:.2f} traj/s", "-"])  # fmt: skip
    rows += ray_rows("eval", "traj/s", args.workers, on_ray)
    assert all(row[2] == str(n) for row in rows if row[0] == "eval"), "a run lost trajectories"


def bench_annotate(args: argparse.Namespace, server: LatencyServer, rows: list[list[str]]) -> None:
    from agentracer.datasets.builder import annotate
    from agentracer.llm import ConnectionSettings, get_model
    from agentracer.replay.counterfactual import ModelAnalyzer
    from agentracer.replay.session import Program, record
    from agentracer.replay.upstream import make_upstream
    from agentracer.scale.annotate import annotate_on_ray
    from agentracer.systems.math_team import PROBLEMS

    connection = ConnectionSettings(base_url=server.base_url, use_cache=False)
    module = [sys.executable, "-m", "agentracer.systems.math_team"]
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"  # the team's working directory, copied per Ray replay
        project.mkdir()
        team = project / "light_team.py"
        team.write_text(LIGHT_TEAM)
        recordings = []
        for problem in sorted(PROBLEMS)[: args.recordings]:
            if args.program == "math":
                program = Program([*module, "run", "--problem", problem],
                                  " ".join([*module, "check", "--problem", problem]), cwd=project,
                                  timeout=120)  # fmt: skip
            else:
                question = PROBLEMS[problem][0]
                check = f'grep -q "ANSWER: {PROBLEMS[problem][1]}$" "$AGENTRACER_MAS_STDOUT"'
                program = Program([sys.executable, "-S", str(team), question], check,
                                  cwd=project, timeout=120)  # fmt: skip
            directory = Path(tmp) / "recordings" / problem
            record(program, make_upstream("openai/bench", connection), directory)
            recordings.append(directory)

        def replays(out: Path) -> int:
            lines = (out / "annotate.log").read_text().splitlines()
            return sum(json.loads(line)["replays"] for line in lines)

        def sequential() -> int:
            out = Path(tempfile.mkdtemp(dir=tmp))
            asyncio.run(annotate(
                recordings, out, upstream_for=lambda _: make_upstream("openai/bench", connection),
                analyzer=ModelAnalyzer(get_model("openai/bench", connection)),
            ))  # fmt: skip
            return replays(out)

        def on_ray() -> int:
            out = Path(tempfile.mkdtemp(dir=tmp))
            annotate_on_ray(recordings, out, analyzer="openai/bench",
                            upstream_for=lambda _: "openai/bench", connection=connection)  # fmt: skip
            return replays(out)

        done, seconds = timed(sequential)
        rows.append(["annotate", "in-process (sequential)", f"{done}", f"{seconds:.1f}",
                     f"{done / seconds:.2f} replays/s", "-"])  # fmt: skip
        rows += ray_rows("annotate", "replays/s", args.workers, on_ray)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="directory holding who_and_when/")
    parser.add_argument("--trajectories", type=int, default=40)
    parser.add_argument("--recordings", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--program", choices=["light", "math"], default="light")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--skip", choices=["eval", "annotate"], action="append", default=[])
    args = parser.parse_args()
    server = LatencyServer(args.latency)
    rows: list[list[str]] = []
    try:
        if "eval" not in args.skip:
            bench_eval(args, server, rows)
        if "annotate" not in args.skip:
            bench_annotate(args, server, rows)
    finally:
        server.close()
    header = ["job", "path", "items", "seconds", "throughput", "scaling"]
    print(f"loopback latency {args.latency * 1000:.0f} ms per call; {server.calls} calls served")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
