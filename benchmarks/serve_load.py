"""`agentracer serve` under many small requests: exporters that send one span per request
(group commit, issue 22), and 200 clients connecting at once (the listen backlog, issue 18).

The server runs as its own process on a loopback port with a fresh store, from whatever
`agentracer` the environment's PYTHONPATH gives (so the same script measures two versions).
Clients are plain keep-alive `http.client` connections posting pre-encoded OTLP protobuf bodies
(no SDK cost in the client process), so the numbers are the server's.

1. **One span per request**: `--exporters` threads, each with its own connection, post
   one-span requests (what `SimpleSpanProcessor` sends) for `--seconds`; spans/s = spans
   acknowledged with a 200 / elapsed seconds, and the count in the store is checked against it.
2. **200 at once**: `--clients` threads each open a fresh connection and post one small request,
   released together by a barrier; `--rounds` rounds. Latency per request from connect to the
   answer; a request that gets no answer in 10 s, or an error, counts as failed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

sys.path.insert(0, str(Path(__file__).parent))
from ingest import count_spans, start_server  # the same server start as the ingest benchmark


def one_span_bodies(n: int) -> list[bytes]:
    """`n` protobuf export requests of one span each, as the SDK's exporter encodes them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "serve-load"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    bodies = []
    for i in range(n):
        memory.clear()
        with tracer.start_as_current_span(f"span {i}") as span:
            span.set_attribute("gen_ai.operation.name", "chat")
        bodies.append(encode_spans(memory.get_finished_spans()).SerializeToString())
    return bodies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def per_span(endpoint: str, store: Path, exporters: int, seconds: float, pid: int) -> None:
    url = urlsplit(endpoint)
    bodies = one_span_bodies(4000 * exporters)
    acked = [0] * exporters
    stop = time.perf_counter() + seconds

    def exporter(k: int) -> None:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        for body in bodies[k::exporters]:
            if time.perf_counter() > stop:
                break
            connection.request("POST", "/v1/traces", body,
                               {"Content-Type": "application/x-protobuf"})  # fmt: skip
            response = connection.getresponse()
            response.read()
            if response.status == 200:
                acked[k] += 1

    before, cpu = count_spans(store), cpu_seconds(pid)
    started = time.perf_counter()
    threads = [threading.Thread(target=exporter, args=(k,)) for k in range(exporters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    stored, cpu = count_spans(store) - before, cpu_seconds(pid) - cpu
    print(f"one span per request: {exporters} exporters, {sum(acked)} acknowledged "
          f"({stored} in the store) in {elapsed:.2f} s = {sum(acked) / elapsed:,.0f} spans/s; "
          f"server CPU {cpu:.1f} s = {cpu / max(stored, 1) * 1e6:.0f} us per span")  # fmt: skip


def burst(endpoint: str, clients: int, rounds: int) -> None:
    url = urlsplit(endpoint)
    bodies = one_span_bodies(clients * rounds)
    latencies: list[float] = []
    failed = 0
    lock = threading.Lock()
    for r in range(rounds):
        barrier = threading.Barrier(clients)

        def client(body: bytes, barrier: threading.Barrier = barrier) -> None:
            nonlocal failed
            barrier.wait()
            started = time.perf_counter()
            try:
                connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
                connection.request("POST", "/v1/traces", body,
                                   {"Content-Type": "application/x-protobuf"})  # fmt: skip
                response = connection.getresponse()
                response.read()
                connection.close()
                ok = response.status == 200
            except OSError:
                ok = False
            with lock:
                if ok:
                    latencies.append(time.perf_counter() - started)
                else:
                    failed += 1

        threads = [
            threading.Thread(target=client, args=(bodies[r * clients + k],)) for k in range(clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    latencies.sort()

    def at(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    print(f"{clients} clients at once x {rounds} rounds: {len(latencies)} answered, {failed} failed; "
          f"latency p50 {at(0.5):.0f} ms, p99 {at(0.99):.0f} ms, max {latencies[-1] * 1000:.0f} ms")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exporters", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load average {load}; server from {os.environ.get('PYTHONPATH', 'the installed package')}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        process, endpoint = start_server(Path(tmp) / "store", settle=3600)
        try:
            per_span(endpoint, Path(tmp) / "store", args.exporters, args.seconds, process.pid)
            burst(endpoint, args.clients, args.rounds)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
