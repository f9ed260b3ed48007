"""How fast a large OpenTelemetry export is imported, and how much memory it takes.

1. Writes an OTLP/JSON export in JSON Lines, one line per trace as the collector's file exporter
   batches them: multi-agent runs traced by the real OpenTelemetry SDK with the GenAI semantic
   conventions (an `invoke_agent` span per turn, a `chat` span with `gen_ai.input.messages` /
   `gen_ai.output.messages` and a tool call, an `execute_tool` span), encoded by the SDK's own
   OTLP encoder and protobuf's `MessageToDict` with hex ids (`otlp_json_from_sdk_spans`).
   Default: about 100 MB, about 200k spans.
2. Imports it in a fresh process with `agentracer.formats.load_file` (detection, decoding, the
   span trees, the trajectories) and prints MB/s and peak memory: the process's peak RSS over
   its RSS after the imports (the import's own footprint), beside the file size.

Targets: at least 20 MB/s; peak memory under 3x the file size.

    python benchmarks/import_speed.py                # ~100 MB
    python benchmarks/import_speed.py --mb 5         # a quick check
    python benchmarks/import_speed.py --keep out.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPANS_PER_TRACE = 100  # 1 root + 33 turns of (invoke_agent, chat, execute_tool)
AGENTS = ["Planner", "Researcher", "Coder", "Reviewer", "Writer"]
FILLER = (
    "The figures in the table were checked against the source and the totals recomputed; "
    "the remaining discrepancy comes from rounding in the third column. "
)


def _rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def write_export(path: Path, megabytes: float) -> tuple[int, int]:
    """Write traces until the file holds `megabytes`; returns (traces, spans)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    from agentracer.formats.otlp import otlp_json_from_sdk_spans

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("import_speed")
    target = int(megabytes * 1e6)
    traces = spans = written = 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            task = f"Task {traces}: reconcile the quarterly figures and report the total."
            with tracer.start_as_current_span("invoke_agent Team") as root:
                root.set_attribute("gen_ai.operation.name", "invoke_agent")
                root.set_attribute("gen_ai.agent.name", "Team")
                user = {"role": "user", "parts": [{"type": "text", "content": task}]}
                root.set_attribute("gen_ai.input.messages", json.dumps([user]))
                for turn in range((SPANS_PER_TRACE - 1) // 3):
                    agent = AGENTS[turn % len(AGENTS)]
                    call_id = f"call_{traces}_{turn}"
                    with tracer.start_as_current_span(f"invoke_agent {agent}") as span:
                        span.set_attribute("gen_ai.operation.name", "invoke_agent")
                        span.set_attribute("gen_ai.agent.name", agent)
                        with tracer.start_as_current_span("chat model") as chat:
                            chat.set_attribute("gen_ai.operation.name", "chat")
                            chat.set_attribute("gen_ai.request.model", "model")
                            if turn == 0:
                                chat.set_attribute("gen_ai.input.messages", json.dumps([user]))
                            output = {
                                "role": "assistant",
                                "parts": [
                                    {
                                        "type": "text",
                                        "content": f"Turn {turn}. {FILLER[: turn % 12]}",
                                    },
                                    {
                                        "type": "tool_call",
                                        "id": call_id,
                                        "name": "compute",
                                        "arguments": {"column": turn % 7},
                                    },
                                ],
                                "finish_reason": "tool_call",
                            }
                            chat.set_attribute("gen_ai.output.messages", json.dumps([output]))
                        with tracer.start_as_current_span("execute_tool compute") as tool:
                            tool.set_attribute("gen_ai.operation.name", "execute_tool")
                            tool.set_attribute("gen_ai.tool.name", "compute")
                            tool.set_attribute("gen_ai.tool.call.id", call_id)
                            tool.set_attribute("gen_ai.tool.call.result", f"{turn * 1234.5}")
                root.set_status(Status(StatusCode.ERROR, "the total is wrong"))
            finished = exporter.get_finished_spans()
            exporter.clear()
            line = json.dumps(otlp_json_from_sdk_spans(finished), separators=(",", ":")) + "\n"
            handle.write(line)
            written += len(line.encode("utf-8"))
            traces += 1
            spans += len(finished)
    provider.shutdown()
    return traces, spans


def measure_import(path: Path) -> dict[str, float]:
    """Import `path` in this process (called in a fresh one) and measure it."""
    from agentracer.formats import load_file

    baseline = _rss_mib()
    start, cpu = time.perf_counter(), time.process_time()
    trajectories = load_file(path)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "load_average": os.getloadavg()[0],
        "trajectories": len(trajectories),
        "steps": sum(len(t.steps) for t in trajectories),
        "baseline_mib": baseline,
        "peak_mib": peak,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100.0, help="export size in MB (default 100)")
    parser.add_argument("--keep", type=Path, help="write the export here and keep it")
    parser.add_argument("--read", type=Path, help=argparse.SUPPRESS)  # the measuring child
    args = parser.parse_args()
    if args.read:
        print(json.dumps(measure_import(args.read)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "export.jsonl"
        start = time.perf_counter()
        traces, spans = write_export(path, args.mb)
        size = path.stat().st_size / 1e6
        print(
            f"wrote {size:.1f} MB, {traces} traces, {spans} spans in "
            f"{time.perf_counter() - start:.0f} s (OpenTelemetry SDK + its OTLP encoder)"
        )
        child = subprocess.run(
            [sys.executable, __file__, "--read", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout)
    growth = result["peak_mib"] - result["baseline_mib"]
    size_mib = size * 1e6 / 2**20
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")  # fmt: skip
    print(
        f"imported {result['trajectories']} trajectories, {result['steps']} steps in "
        f"{result['seconds']:.2f} s wall: {size / result['seconds']:.1f} MB/s (target >= 20); "
        f"{result['cpu_seconds']:.2f} s of CPU: {size / result['cpu_seconds']:.1f} MB/s per core "
        f"(load average {result['load_average']:.1f} on {os.cpu_count()} cores)"
    )
    print(
        f"peak memory: {growth:.0f} MiB over the {result['baseline_mib']:.0f} MiB after imports "
        f"= {growth / size_mib:.2f}x the file's {size_mib:.0f} MiB (target < 3x); "
        f"process peak RSS {result['peak_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
