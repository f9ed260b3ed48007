"""Kill the server mid-write: no acknowledged span is lost, none is stored twice, no request is
half-stored, and a restarted server keeps going on the same store."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentracer.serve.store import STORE_FILE, TraceStore
from tests.serve.conftest import interruptible
from tests.serve.test_receiver import post

SPANS_PER_REQUEST = 40


def start_server(store: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "agentracer.cli", "serve", "--port", "0", "--store", str(store),
         "--settle", "3600", "--tracer", "last-agent-step"],
        stderr=subprocess.PIPE, text=True, env={**os.environ, "COLUMNS": "200"},
        preexec_fn=interruptible,
    )  # fmt: skip
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if "OTEL_EXPORTER_OTLP_ENDPOINT=" in line:
            return process, line.split("OTEL_EXPORTER_OTLP_ENDPOINT=")[1].split(")")[0].strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    raise AssertionError("the server did not start")


def request(n: int, per_request: int = SPANS_PER_REQUEST) -> bytes:
    trace = f"{n + 1:032x}"
    spans = [
        {"traceId": trace, "spanId": f"{i + 1:016x}", "name": f"span {i}",
         "parentSpanId": "" if i == 0 else f"{1:016x}", "startTimeUnixNano": str(i),
         "endTimeUnixNano": str(i + 1), "attributes": [{"key": "pad", "value": {"stringValue": "x" * 200}}]}
        for i in range(per_request)
    ]  # fmt: skip
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()


@pytest.mark.parametrize(
    "per_request, clients",
    [(SPANS_PER_REQUEST, 4), (1, 8)],  # one span a request: what group commit batches
    ids=["40-spans-a-request", "1-span-a-request"],
)
def test_kill_mid_write_loses_no_acknowledged_span(
    tmp_path: Path, per_request: int, clients: int
) -> None:
    store_dir = tmp_path / "store"
    process, endpoint = start_server(store_dir)
    acked: list[int] = []
    lock = threading.Lock()
    counter = iter(range(10**6))

    def client() -> None:
        while True:
            with lock:
                n = next(counter)
            try:
                status, _ = post(f"{endpoint}/v1/traces", request(n, per_request))
            except OSError:
                return  # the server is gone
            if status == 200:
                with lock:
                    acked.append(n)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    while len(acked) < 30:  # kill it while requests are in flight
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    for thread in threads:
        thread.join(timeout=30)
    sent = next(counter)

    db = sqlite3.connect(store_dir / STORE_FILE)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    counts = dict(db.execute("SELECT trace_id, count(*) FROM spans GROUP BY trace_id").fetchall())
    for n in acked:
        assert counts.get(f"{n + 1:032x}") == per_request  # acknowledged: all there
    assert set(counts.values()) == {per_request}  # every request whole or absent
    assert len(counts) <= sent
    rows = dict(db.execute("SELECT trace_id, n_spans FROM traces").fetchall())
    assert rows == counts  # the trace table agrees with the spans
    db.close()

    # A restarted server keeps the store; an exporter's retry of an acknowledged request
    # stores nothing twice.
    process, endpoint = start_server(store_dir)
    try:
        assert post(f"{endpoint}/v1/traces", request(acked[0], per_request))[0] == 200
        assert post(f"{endpoint}/v1/traces", request(10**6, per_request))[0] == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    store = TraceStore(store_dir)
    stored = store.get_trace(f"{acked[0] + 1:032x}")
    assert stored is not None and len(stored.spans) == per_request
    assert stored.summary.n_spans == per_request
    assert len(store.list_traces(limit=10**6)) == len(counts) + 1
