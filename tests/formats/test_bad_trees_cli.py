"""Issue 18 item 4, from the command line: a trace whose span parent ids loop (a span under
itself, A under B under A) or whose attribute keys are lists or dicts makes `show`, `attribute`
and `convert` answer at once, and `forecast --follow` keep its `--follow-timeout`.

Each command runs in its own process with a wall-clock limit, so a hang fails the test instead
of stopping the suite.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.formats.otel_helpers import GENAI, OPENINFERENCE, raw_spans

LIMIT = 60  # seconds: the commands take about 2 s each here; a hang never ends


def _document(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}


def _ring(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every span's parent is the span before it, the first's the last: one loop, no root."""
    spans = copy.deepcopy(spans)
    for i, span in enumerate(spans):
        span["parentSpanId"] = spans[i - 1]["spanId"]
    return spans


def _self_parents(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spans = copy.deepcopy(spans)
    for span in spans:
        span["parentSpanId"] = span["spanId"]
    return spans


def _odd_keys(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """List, dict, number, null and boolean keys on every span; one operation name a list."""
    spans = copy.deepcopy(spans)
    for span, key in zip(spans, [["a", "list"], {"a": "dict"}, 7, None, True] * 9, strict=False):
        span.setdefault("attributes", []).append({"key": key, "value": {"stringValue": "x"}})
    spans[0]["attributes"].append(
        {"key": "gen_ai.operation.name", "value": {"arrayValue": {"values": []}}}
    )
    return spans


def _no_step_loop() -> list[dict[str, Any]]:
    """Two plain spans under each other: nothing to attribute."""
    spans = [
        {"traceId": "ab" * 16, "spanId": f"{n:016x}", "parentSpanId": f"{3 - n:016x}",
         "name": f"work {n}", "startTimeUnixNano": str(n),
         "attributes": [{"key": "openinference.span.kind", "value": {"stringValue": "CHAIN"}}]}
        for n in (1, 2)
    ]  # fmt: skip
    return spans


FILES = {
    "openinference-ring": (_ring(raw_spans(OPENINFERENCE)), "loop(s) of parent ids"),
    "genai-self-parents": (_self_parents(raw_spans(GENAI)), "loop(s) of parent ids"),
    "openinference-odd-keys": (_odd_keys(raw_spans(OPENINFERENCE)), None),
    "genai-odd-keys": (_odd_keys(raw_spans(GENAI)), None),
}


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    return subprocess.run(
        [sys.executable, "-m", "agentracer", *args],
        capture_output=True, text=True, timeout=LIMIT, check=False, env=env,
    )  # fmt: skip


def _answered(completed: subprocess.CompletedProcess[str]) -> None:
    """Read (exit 0), or refused in one line (exit 2); never a traceback."""
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    assert completed.returncode in (0, 2), completed.stderr[-2000:]
    if completed.returncode == 2:
        assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
        assert completed.stderr.startswith("error: ")


@pytest.mark.parametrize("name", sorted(FILES))
def test_show_attribute_and_convert_answer_at_once(name: str, tmp_path: Path) -> None:
    spans, note = FILES[name]
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(_document(spans)))
    show = _cli("show", str(path), "--index", "0")
    _answered(show)
    assert show.returncode == 0  # these files still hold the run: read, with a note
    if note:
        assert note in show.stdout.replace("\n", " ")
    _answered(_cli("attribute", str(path), "--index", "0", "--tracer", "last-agent-step"))
    converted = _cli("convert", str(path), str(tmp_path / "out.jsonl"))
    _answered(converted)
    assert converted.returncode == 0 and (tmp_path / "out.jsonl").stat().st_size > 0


def test_a_loop_with_nothing_to_attribute_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "loop.json"
    path.write_text(json.dumps(_document(_no_step_loop())))
    for args in (("show", str(path)), ("attribute", str(path), "--tracer", "last-agent-step"),
                 ("convert", str(path), str(tmp_path / "out.jsonl"))):  # fmt: skip
        completed = _cli(*args)
        _answered(completed)
        assert completed.returncode == 2 and "nothing to attribute" in completed.stderr


def test_forecast_follow_keeps_its_timeout_on_a_looped_trace(tmp_path: Path) -> None:
    """The trace never ends (a loop has no root to end): `--follow-timeout` ends the wait."""
    from agentracer.serve.otlp import spans_of
    from agentracer.serve.store import TraceStore

    spans = _ring(raw_spans(OPENINFERENCE))
    for span in spans:
        span.pop("endTimeUnixNano", None)
    store = TraceStore(tmp_path / "store")
    store.put_spans(spans_of(_document(spans)))
    store.close()
    trace_id = spans[0]["traceId"]
    started = time.monotonic()
    completed = _cli(
        "forecast", "--follow", trace_id, "--tracer", "never", "--store", str(tmp_path / "store"),
        "--poll", "0.05", "--follow-timeout", "1",
    )  # fmt: skip
    assert time.monotonic() - started < LIMIT
    assert "Traceback" not in completed.stderr, completed.stderr[-2000:]
    assert completed.returncode == 2, completed.stderr
    assert "neither alarmed nor ended within 1 s" in completed.stderr
