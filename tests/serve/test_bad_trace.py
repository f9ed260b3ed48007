"""One bad trace fails alone (issue 18 item 4, the `serve` part): a trace whose assembly or
attribution raises or hangs gets its reason on it, is tried at most three times (counted across
restarts), and the worker goes on with the other traces."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.serve import worker as worker_module
from agentracer.serve.pages import render
from agentracer.serve.store import MAX_ATTEMPTS, SpanRecord, TraceStore
from agentracer.serve.worker import Worker, WorkerSettings
from agentracer.tracers import Tracer
from agentracer.trajectory import Trajectory, Verdict
from tests.serve.conftest import span_assembler
from tests.serve.test_worker import spans

BAD, GOOD = "ba" * 16, "90" * 16


def trace_spans(trace: str) -> list[SpanRecord]:
    return [
        SpanRecord(**{**s.__dict__, "trace_id": trace, "body": {**s.body, "traceId": trace}})
        for s in spans()
    ]


def two_traces(store: TraceStore) -> None:
    """A failed run BAD that settled first, then a failed run GOOD."""
    for trace, now in ((BAD, 1.0), (GOOD, 2.0)):
        store.put_spans(trace_spans(trace), now=now)


class Picky(Tracer):
    """Blames the first step, except on BAD's trajectory, where it does `bad()`."""

    name = "picky"

    def __init__(self, bad) -> None:  # type: ignore[no-untyped-def]
        self.bad = bad

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        if trajectory.metadata.get("trace_id") == BAD:
            self.bad()
        return Verdict(agent=trajectory.steps[0].agent, step=0, tracer="picky")


def raise_type_error() -> None:
    raise TypeError("unhashable type: 'list'")


def hang() -> None:
    time.sleep(60)  # a spin or a deadlock: the event loop never gets control back


@pytest.fixture
def picky(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def use(bad) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.setattr(worker_module, "create_tracer", lambda name, settings: Picky(bad))

    return use


def test_a_tracer_that_raises_fails_its_trace_alone_and_is_given_up_after_three_tries(
    tmp_path: Path, picky
) -> None:  # type: ignore[no-untyped-def]
    picky(raise_type_error)
    store = TraceStore(tmp_path)
    two_traces(store)
    worker = Worker(store, WorkerSettings(settle=1, retry_in=0), assembler=span_assembler)
    worker.step()
    bad, good = store.get_trace(BAD), store.get_trace(GOOD)
    assert good is not None and good.summary.state == "done" and good.summary.verdict is not None
    assert bad is not None and bad.summary.state == "pending" and bad.summary.attempts == 1
    assert bad.summary.problem == "attribution failed: TypeError: unhashable type: 'list'"
    for _ in range(MAX_ATTEMPTS):
        worker.step()
    bad = store.get_trace(BAD)
    assert bad is not None and bad.summary.state == "gave up"
    assert bad.summary.problem == (
        "gave up after 3 attempts: attribution failed: TypeError: unhashable type: 'list'"
    )
    assert store.pending() == []  # no fourth try


def test_a_tracer_that_hangs_is_abandoned_after_its_time_limit(tmp_path: Path, picky) -> None:  # type: ignore[no-untyped-def]
    picky(hang)
    store = TraceStore(tmp_path)
    two_traces(store)
    settings = WorkerSettings(settle=1, retry_in=0, attribute_timeout=0.5)
    worker = Worker(store, settings, assembler=span_assembler)
    started = time.monotonic()
    worker.step()
    assert time.monotonic() - started < 10
    good, bad = store.get_trace(GOOD), store.get_trace(BAD)
    assert good is not None and good.summary.state == "done"  # after the hang, on a new tracer
    assert bad is not None and bad.summary.problem is not None
    assert "attribution failed: did not finish in 0.5 s" in bad.summary.problem


def test_an_importer_that_raises_or_hangs_fails_its_trace_alone(tmp_path: Path) -> None:
    def assembler(document: dict) -> list[Trajectory]:
        trace = document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]
        if trace == BAD:
            raise TypeError("unhashable type: 'dict'")
        if trace == "cc" * 16:
            hang()
        return span_assembler(document)

    store = TraceStore(tmp_path)
    two_traces(store)
    store.put_spans(trace_spans("cc" * 16), now=0.5)
    worker = Worker(
        store, WorkerSettings(settle=1, retry_in=0, assemble_timeout=0.5, tracer="first-agent-step"),
        assembler=assembler,
    )  # fmt: skip
    worker.step()
    states = {s.trace_id: (s.state, s.problem) for s in store.list_traces()}
    assert states[GOOD] == ("done", None)
    assert states[BAD] == ("open", "assembly failed: TypeError: unhashable type: 'dict'")
    assert states["cc" * 16][1] is not None and "did not finish in 0.5 s" in states["cc" * 16][1]
    for _ in range(MAX_ATTEMPTS):
        worker.step()
    assert store.get_trace(BAD).summary.state == "gave up"  # type: ignore[union-attr]
    assert store.get_trace("cc" * 16).summary.state == "gave up"  # type: ignore[union-attr]


def test_a_trace_that_takes_the_server_down_is_given_up_across_restarts(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    two_traces(store)
    settings = WorkerSettings(settle=1, tracer="first-agent-step")
    Worker(store, settings, assembler=span_assembler).assemble_one(BAD)
    for attempt in range(1, MAX_ATTEMPTS + 1):  # three servers, each killed during BAD
        assert store.begin_attempt(BAD, "attribution") == attempt
    summary = store.get_trace(BAD).summary  # type: ignore[union-attr]
    assert summary.problem == "attribution attempt 3 did not finish (the server stopped during it)"
    Worker(store, settings, assembler=span_assembler).step()  # the fourth server
    bad, good = store.get_trace(BAD), store.get_trace(GOOD)
    assert good is not None and good.summary.state == "done"
    assert bad is not None and bad.summary.state == "gave up" and not bad.summary.verdicts
    assert bad.summary.problem == (
        "gave up after 3 attempts: attribution attempt 3 did not finish (the server stopped "
        "during it)"
    )


def test_the_reason_shows_in_traces_list_and_the_ui(tmp_path: Path, picky) -> None:  # type: ignore[no-untyped-def]
    picky(raise_type_error)
    store = TraceStore(tmp_path)
    two_traces(store)
    worker = Worker(store, WorkerSettings(settle=1, retry_in=0), assembler=span_assembler)
    for _ in range(MAX_ATTEMPTS + 1):
        worker.step()
    reason = "gave up after 3 attempts: attribution failed: TypeError: unhashable type: 'list'"
    runner = CliRunner()
    result = runner.invoke(app, ["traces", "list", "--store", str(tmp_path), "--json"])
    rows = {r["trace_id"]: r for r in json.loads(result.stdout)["traces"]}
    assert rows[BAD]["state"] == "gave up" and rows[BAD]["problem"] == reason
    assert rows[BAD]["attempts"] == 3
    result = runner.invoke(app, ["traces", "list", "--store", str(tmp_path)])
    assert result.exit_code == 0 and "failed (gave up)" in result.stdout
    # the reason is printed whole under the table, whatever the terminal's width
    assert f"{BAD}: {reason}" in " ".join(result.stdout.split())
    html = render("list.html", traces=store.list_traces(), show="all", live=True,
                  store_path=str(store.path), endpoint="http://x")  # fmt: skip
    assert "gave up</span>" in html and "TypeError: unhashable type: &#39;list&#39;" in html
