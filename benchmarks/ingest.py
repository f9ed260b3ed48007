"""`agentracer serve` under load: spans per second accepted, and time from a failed trace's last
span to its stored verdict.

The server runs as its own process (`agentracer serve` on a loopback port, a fresh store).

1. **SDK throughput**: several threads create spans with the real OpenTelemetry SDK; a batch
   span processor exports them with the OTLP/HTTP protobuf exporter. Rate = spans counted in
   the store / seconds from the first span to the end of `force_flush` (which returns once the
   server has acknowledged every export, i.e. committed it). The SDK itself runs in this process
   on the same cores, so this is the end-to-end rate of one instrumented app.
2. **Receiver throughput**: protobuf requests of 512 spans encoded beforehand, posted by
   several threads; this is what the receiver can take when the client is cheap.
3. **Latency to verdict**: a failed two-agent trace (root span with an error status) exported
   at once; the time from the root span's end (the trace's last span) to the verdict appearing
   in the store, with the model-free `last-agent-step` tracer; minus the settle period.

Needs an importer for the traces (GenAI spans); without one, part 3 reports the trace as
unreadable instead of a latency.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode


def start_server(store: Path, settle: float) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "agentracer.cli", "serve", "--port", "0", "--store", str(store),
         "--settle", str(settle), "--tracer", "last-agent-step"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert process.stderr is not None
    for line in process.stderr:
        if "OTEL_EXPORTER_OTLP_ENDPOINT=" in line:
            return process, line.split("OTEL_EXPORTER_OTLP_ENDPOINT=")[1].split(")")[0].strip()
    raise SystemExit("the server did not start")


def count_spans(store: Path) -> int:
    with sqlite3.connect(store / "traces.sqlite3") as db:
        return int(db.execute("SELECT count(*) FROM spans").fetchone()[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc), to report the server's cost
    per span independently of how busy the machine is."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server_cpu(pid: int, store: Path) -> Iterator[None]:
    """Print the server's CPU time over the block, and the spans stored per CPU-second."""
    spans, cpu = count_spans(store), cpu_seconds(pid)
    yield
    spans, cpu = count_spans(store) - spans, cpu_seconds(pid) - cpu
    print(f"  server process CPU: {cpu:.2f} s = {spans / cpu:,.0f} spans per CPU-second "
          "(receiving, storing, and assembling what settled meanwhile)")  # fmt: skip


def in_threads(target: Callable[[], None], threads: int) -> None:
    """Run `target` in `threads` threads at once and wait for all of them."""
    workers = [threading.Thread(target=target) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def agent_span(tracer, name: str, text: str) -> None:  # type: ignore[no-untyped-def]
    with tracer.start_as_current_span(f"invoke_agent {name}") as agent:
        agent.set_attribute("gen_ai.operation.name", "invoke_agent")
        agent.set_attribute("gen_ai.agent.name", name)
        with tracer.start_as_current_span("chat scripted") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "scripted")
            chat.set_attribute(
                "gen_ai.output.messages",
                f'[{{"role": "assistant", "parts": [{{"type": "text", "content": "{text}"}}]}}]',
            )


def _instrumented_app(endpoint: str, threads: int, traces_per_thread: int) -> None:
    """One app process: `threads` threads make spans, one batch span processor exports them."""
    provider = TracerProvider(resource=Resource.create({"service.name": "ingest-bench"}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")
    provider.add_span_processor(
        BatchSpanProcessor(exporter, max_queue_size=1 << 20, schedule_delay_millis=200,
                           max_export_batch_size=512)
    )  # fmt: skip
    tracer = provider.get_tracer("bench")

    def work() -> None:
        for i in range(traces_per_thread):
            with tracer.start_as_current_span("run"):
                for agent in ("Planner", "Coder", "Tester"):
                    agent_span(tracer, agent, f"step {i}")

    in_threads(work, threads)
    provider.force_flush(timeout_millis=600_000)  # returns once every export was acknowledged
    provider.shutdown()


def sdk_throughput(
    endpoint: str, store: Path, processes: int, threads: int, traces_per_thread: int
) -> None:
    before = count_spans(store)
    apps = [
        multiprocessing.Process(
            target=_instrumented_app, args=(endpoint, threads, traces_per_thread)
        )
        for _ in range(processes)
    ]
    started = time.perf_counter()
    for process in apps:
        process.start()
    for process in apps:
        process.join()
    elapsed = time.perf_counter() - started
    stored = count_spans(store) - before
    expected = processes * threads * traces_per_thread * 7
    print(f"SDK exporter -> serve: {processes} app processes x {threads} threads, {expected} spans; "
          f"{stored} stored and acknowledged in {elapsed:.2f} s = {stored / elapsed:,.0f} spans/s")  # fmt: skip


def receiver_throughput(endpoint: str, store: Path, threads: int, requests: int) -> None:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "ingest-bench"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    bodies = []
    for _ in range(requests):
        memory.clear()
        for _ in range(512 // 7 + 1):
            with tracer.start_as_current_span("run"):
                for agent in ("Planner", "Coder", "Tester"):
                    agent_span(tracer, agent, "x")
        bodies.append(encode_spans(memory.get_finished_spans()[:512]).SerializeToString())
    url = urlsplit(endpoint)
    before = count_spans(store)
    queue = list(bodies)
    lock = threading.Lock()

    def post_all() -> None:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                body = queue.pop()
            connection.request("POST", "/v1/traces", body,
                               {"Content-Type": "application/x-protobuf"})  # fmt: skip
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status

    started = time.perf_counter()
    in_threads(post_all, threads)
    elapsed = time.perf_counter() - started
    stored = count_spans(store) - before
    print(f"pre-encoded protobuf -> serve: {threads} threads, {requests} requests x 512 spans; "
          f"{stored} stored in {elapsed:.2f} s = {stored / elapsed:,.0f} spans/s")  # fmt: skip


def latency(endpoint: str, store: Path, settle: float, runs: int) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "ingest-bench"}))
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"))
    )
    tracer = provider.get_tracer("bench")
    results = []
    for _ in range(runs):
        with tracer.start_as_current_span("failed run") as root:
            agent_span(tracer, "Planner", "plan")
            agent_span(tracer, "Solver", "wrong answer")
            root.set_status(Status(StatusCode.ERROR, "wrong answer"))
            trace_id = format(root.get_span_context().trace_id, "032x")
        ended = time.perf_counter()  # the root span is the trace's last span
        deadline = ended + settle + 30
        state = None
        with sqlite3.connect(store / "traces.sqlite3") as db:
            while time.perf_counter() < deadline:
                row = db.execute(
                    "SELECT state, problem FROM traces WHERE trace_id=?", (trace_id,)
                ).fetchone()
                verdict = db.execute(
                    "SELECT 1 FROM verdicts WHERE trace_id=?", (trace_id,)
                ).fetchone()
                if verdict:
                    results.append(time.perf_counter() - ended)
                    break
                if row and row[0] == "unreadable":
                    state = row[1]
                    break
                time.sleep(0.005)
        if state:
            print(f"latency to verdict: not measured, the trace is unreadable: {state}")
            return
    results.sort()
    after = [r - settle for r in results]
    print(f"latency from the last span to the stored verdict (settle {settle:g} s, "
          f"last-agent-step, {len(results)} traces): median {results[len(results) // 2]:.3f} s, "
          f"max {results[-1]:.3f} s; after the settle period: median {after[len(after) // 2]:.3f} s, "
          f"max {after[-1]:.3f} s")  # fmt: skip
    provider.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=1, help="instrumented app processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per app, and posters")
    parser.add_argument(
        "--traces", type=int, default=1500, help="traces per SDK thread (7 spans each)"
    )
    parser.add_argument("--requests", type=int, default=60, help="pre-encoded 512-span requests")
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--latency-runs", type=int, default=10)
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load} (other work on the machine shares the cores)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for phase in ("throughput", "latency"):  # a fresh server and store for each
            store = Path(tmp) / phase
            process, endpoint = start_server(store, args.settle)
            try:
                if phase == "throughput":
                    with server_cpu(process.pid, store):
                        sdk_throughput(endpoint, store, args.processes, args.threads, args.traces)
                    with server_cpu(process.pid, store):
                        receiver_throughput(endpoint, store, args.threads, args.requests)
                else:
                    latency(endpoint, store, args.settle, args.latency_runs)
            finally:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
