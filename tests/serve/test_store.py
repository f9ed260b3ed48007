from __future__ import annotations

import sqlite3
from pathlib import Path

from agentracer.serve.store import DONE, OPEN, PENDING, SpanRecord, TraceStore
from agentracer.trajectory import Step, Trajectory, Verdict


def span(
    trace: str = "a" * 32, span_id: str = "1" * 16, parent: str | None = None, **kw
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace, span_id=span_id, parent_id=parent, name=kw.get("name", "s"),
        start_ns=kw.get("start", 1), end_ns=kw.get("end", 2), error=kw.get("error", False),
        resource={"attributes": []}, scope={"name": "t"},
        body={"traceId": trace, "spanId": span_id, "name": kw.get("name", "s")},
    )  # fmt: skip


def trajectory() -> Trajectory:
    return Trajectory(id="t", steps=[Step(index=0, agent="A", speaker="A")], agents=["A"])


def test_wal_mode_and_duplicates_are_stored_once(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    assert store.put_spans([span(), span(span_id="2" * 16, parent="1" * 16)]) == 2
    assert store.put_spans([span()]) == 0  # a retried export stores nothing twice
    (summary,) = store.list_traces()
    assert summary.n_spans == 2 and summary.root_name == "s" and summary.root_ended
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT count(*) FROM spans").fetchone()[0] == 2


def test_settle_waits_for_the_root_and_the_quiet_period(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans([span(span_id="2" * 16, parent="1" * 16)], now=100.0)  # child only
    assert store.settled(quiet=5, orphan_quiet=60, now=110.0) == []
    assert store.settled(quiet=5, orphan_quiet=60, now=161.0) == ["a" * 32]  # root never came
    store.put_spans([span()], now=200.0)
    assert store.settled(quiet=5, orphan_quiet=60, now=204.0) == []
    assert store.settled(quiet=5, orphan_quiet=60, now=205.0) == ["a" * 32]


def test_assembly_is_refused_when_a_span_arrived_meanwhile(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans([span()], now=1.0)
    seen = store.get_trace("a" * 32)
    assert seen is not None
    store.put_spans([span(span_id="3" * 16, parent="1" * 16)], now=2.0)
    assert not store.put_assembly("a" * 32, last_seen=seen.summary.last_seen,
                                  trajectory=trajectory(), failed=True)  # fmt: skip
    assert store.list_traces()[0].state == OPEN
    assert store.put_assembly("a" * 32, last_seen=2.0, trajectory=trajectory(), failed=True)
    assert store.pending() == ["a" * 32]


def test_verdicts_are_stored_beside_the_trace(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans([span()], now=1.0)
    store.put_assembly("a" * 32, last_seen=1.0, trajectory=trajectory(), failed=True)
    assert store.list_traces(failed=True)[0].state == PENDING
    store.put_verdict("a" * 32, Verdict(agent="A", step=0, tracer="x", reason="r"))
    stored = store.get_trace("a" * 32)
    assert stored is not None and stored.summary.state == DONE
    assert stored.summary.verdict is not None and stored.summary.verdict.agent == "A"
    assert stored.trajectory is not None and stored.trajectory.agents == ["A"]
    assert store.list_traces(failed=False) == []
    assert store.get_trace("b" * 32) is None


def test_a_new_span_reopens_an_assembled_trace(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans([span()], now=1.0)
    store.put_assembly("a" * 32, last_seen=1.0, trajectory=trajectory(), failed=False)
    store.put_spans([span(span_id="4" * 16, parent="1" * 16)], now=3.0)
    assert store.list_traces()[0].state == OPEN


def test_unreadable_traces_are_read_again_on_request(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans([span()], now=1.0)
    store.put_assembly("a" * 32, last_seen=1.0, trajectory=None, failed=None, problem="no format")
    assert store.list_traces()[0].problem == "no format"
    assert store.reopen_unreadable() == 1
    assert store.list_traces()[0].state == OPEN
