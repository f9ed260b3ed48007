from __future__ import annotations

import time
from pathlib import Path

import pytest

from agentracer.errors import LLMError, TraceFormatError
from agentracer.serve.assemble import FailedIf, RuleError, failure_reasons, otlp_document
from agentracer.serve.store import SpanRecord, TraceStore
from agentracer.serve.worker import Worker, WorkerSettings
from agentracer.tracers import Tracer
from agentracer.trajectory import Trajectory, Verdict
from tests.serve.conftest import span_assembler

TRACE = "ab" * 16


def spans(*, error: bool = True) -> list[SpanRecord]:
    def one(span_id: str, parent: str | None, agent: str | None, **kw) -> SpanRecord:
        attributes = [] if agent is None else [
            {"key": "test.agent", "value": {"stringValue": agent}},
            {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
        ]  # fmt: skip
        body = {"traceId": TRACE, "spanId": span_id, "name": kw["name"], "attributes": attributes,
                "startTimeUnixNano": str(kw["start"]), "status": {"code": 2 if kw.get("error") else 0}}  # fmt: skip
        return SpanRecord(TRACE, span_id, parent, kw["name"], kw["start"], kw["start"] + 1,
                          bool(kw.get("error")), {"attributes": []}, {"name": "s"}, body)  # fmt: skip

    return [
        one("1" * 16, None, None, name="run", start=1, error=error),
        one("2" * 16, "1" * 16, "A", name="agent A", start=2),
        one("3" * 16, "1" * 16, "B", name="agent B", start=3),
    ]


def test_a_restarted_worker_assembles_what_settled_and_attributes_what_was_pending(
    tmp_path: Path,
) -> None:
    store = TraceStore(tmp_path)
    store.put_spans(spans(), now=1.0)  # settled long ago, while no server ran
    other = [SpanRecord(**{**s.__dict__, "trace_id": "cd" * 16}) for s in spans()]
    store.put_spans(other, now=1.0)
    first = Worker(
        store, WorkerSettings(settle=1, tracer="first-agent-step"), assembler=span_assembler
    )
    first.assemble_one("cd" * 16)  # assembled, then the server died before attributing
    assert store.pending() == ["cd" * 16]
    worker = Worker(
        store, WorkerSettings(settle=1, tracer="first-agent-step"), assembler=span_assembler
    )
    assert worker.step() == 3  # two assemblies (one is a no-op: already pending) + attribution
    for trace in (TRACE, "cd" * 16):
        stored = store.get_trace(trace)
        assert stored is not None and stored.summary.state == "done"
        assert stored.summary.verdict is not None and stored.summary.verdict.step == 0


class Down(Tracer):
    name = "down"

    async def attribute(
        self, trajectory: Trajectory, *, with_ground_truth: bool = False
    ) -> Verdict:
        raise LLMError("the model endpoint is down")


def test_an_attribution_error_is_recorded_and_retried_later(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans(spans(), now=1.0)
    worker = Worker(store, WorkerSettings(settle=1, retry_in=60), assembler=span_assembler)
    worker._tracer = Down()
    worker.step()
    (summary,) = store.list_traces()
    assert (
        summary.state == "pending"
        and summary.problem == "attribution failed: the model endpoint is down"
    )
    assert store.pending() == []  # backing off
    assert store.pending(now=time.time() + 120) == [TRACE]


def test_an_unreadable_trace_says_why(tmp_path: Path) -> None:
    store = TraceStore(tmp_path)
    store.put_spans(spans(), now=1.0)

    def refuse(document: dict) -> list[Trajectory]:
        raise TraceFormatError("no known trajectory format")

    Worker(store, WorkerSettings(settle=1), assembler=refuse).step()
    (summary,) = store.list_traces()
    assert summary.state == "unreadable" and summary.problem == "no known trajectory format"


def test_failure_reasons_and_rules() -> None:
    assert failure_reasons(spans(error=False), None) == []
    assert failure_reasons(spans(), None) == ["root span 'run' has an error status"]
    rule = FailedIf('name == "agent B" and not error')
    assert failure_reasons(spans(error=False), None, rule) == [
        "--failed-if is true for span 'agent B'"
    ]
    assert not FailedIf('attributes["missing"] == 1').matches(spans()[0])
    with pytest.raises(RuleError, match="Call is not allowed"):
        FailedIf("__import__('os').system('true')")
    with pytest.raises(RuleError, match="not 'foo'"):
        FailedIf("foo == 1")
    with pytest.raises(RuleError, match="not an expression"):
        FailedIf("name ==")


def test_otlp_document_groups_spans_under_resource_and_scope() -> None:
    document = otlp_document(spans())
    (resource,) = document["resourceSpans"]
    (scope,) = resource["scopeSpans"]
    assert [s["name"] for s in scope["spans"]] == ["run", "agent A", "agent B"]
