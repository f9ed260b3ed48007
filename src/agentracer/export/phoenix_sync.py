"""Phoenix both ways: read a project's traces, attribute the failed ones, and annotate each
blamed span (`export.phoenix`), once (`agentracer phoenix`) or continuously (`agentracer serve
--phoenix URL`, `PhoenixWatcher`).

Traces are found by their root span (Phoenix stores a span when it ends, so a trace whose root
is there has finished), in a time window on the root's start or by trace id, then read whole.
The spans go through the same OpenTelemetry readers as a file (OpenInference or the GenAI
conventions), so a step's source id is its span id. A trace is failed when the reader says so
(an error status or exception on a span). One bad trace is reported and the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from agentracer.errors import AgenTracerError, ExportError
from agentracer.export.blame import blame_of
from agentracer.export.phoenix import PhoenixClient, identifier
from agentracer.trajectory import Outcome, Trajectory, Verdict

log = logging.getLogger("agentracer.export.phoenix")

Status = Literal["annotated", "kept", "not failed", "running", "unreadable", "failed"]
"""`annotated`: verdict written; `kept`: already annotated (watcher); `not failed`: the run
did not fail; `running`: no root span yet, or it ended less than `settle` seconds ago;
`unreadable`: no reader could make a run of the spans; `failed`: attribution or writing
failed (the reason is in `problem`)."""

_TRACE_BATCH = 20  # trace ids per span request (they go into the query string)
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass
class TraceResult:
    """What happened to one trace."""

    trace_id: str
    status: Status
    verdict: Verdict | None = None
    span_id: str | None = None
    annotation_id: str | None = None
    problem: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "status": self.status,
            "span_id": self.span_id,
            "annotation_id": self.annotation_id,
            "problem": self.problem,
            "verdict": None if self.verdict is None else self.verdict.model_dump(mode="json"),
        }


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """A point in time: ISO 8601 (`2026-12-01T10:00`, UTC when no zone is given) or a duration
    back from now (`90s`, `30m`, `2h`, `1d`, `1w`, also `1h30m`)."""
    now = now or datetime.now(UTC)
    spec = text.strip().lower()
    parts = _DURATION.findall(spec)
    if parts and _DURATION.sub("", spec).strip() == "":
        seconds = sum(float(value) * _UNITS[unit] for value, unit in parts)
        return now - timedelta(seconds=seconds)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise AgenTracerError(
            f"{text!r} is neither a duration (30m, 2h, 1d) nor an ISO 8601 time (2026-12-01T10:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _document(spans: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": spans}]}]}


def finished_traces(
    client: PhoenixClient,
    project: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    trace_ids: Sequence[str] = (),
    limit: int | None = None,
) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """(trace id, all its spans) for each trace: those named, else those whose root span started
    in [start, end), newest first, at most `limit`."""
    if not trace_ids:
        seen: dict[str, None] = {}
        for root in client.spans(project, start=start, end=end, roots_only=True):
            seen.setdefault(str(root["trace_id"]), None)
            if limit is not None and len(seen) >= limit:
                break
        trace_ids = list(seen)
    for first in range(0, len(trace_ids), _TRACE_BATCH):
        batch = list(trace_ids[first : first + _TRACE_BATCH])
        spans: dict[str, list[dict[str, Any]]] = {trace_id: [] for trace_id in batch}
        for span in client.spans(project, trace_ids=batch):
            spans.setdefault(str(span["trace_id"]), []).append(span)
        yield from spans.items()


def _settled(spans: list[dict[str, Any]], settle: float) -> bool:
    """A root span is there, and it ended at least `settle` seconds ago."""
    roots = [s for s in spans if not s.get("parent_span_id")]
    if not roots:
        return False
    ended = max(int(s.get("end_time_unix_nano") or 0) for s in roots) / 1e9
    return time.time() - ended >= settle


def read_run(trace_id: str, spans: list[dict[str, Any]]) -> Trajectory:
    """The run of one trace, read by the registered OpenTelemetry readers."""
    from agentracer.formats import parse_document

    runs = parse_document(_document(spans), name=f"phoenix trace {trace_id}")
    return runs[0]


class PhoenixAnnotator:
    """Attributes Phoenix traces with one tracer and writes the verdicts back."""

    def __init__(
        self,
        client: PhoenixClient,
        project: str,
        tracer: Any,
        *,
        tracer_name: str,
        model: str | None = None,
        with_ground_truth: bool = True,
    ) -> None:
        self.client = client
        self.project = project
        self.tracer = tracer
        self.tracer_name = tracer_name
        self.model = model
        self.with_ground_truth = with_ground_truth

    async def run(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        trace_ids: Sequence[str] = (),
        limit: int | None = None,
        settle: float = 0.0,
        keep_existing: bool = False,
        skip: set[str] | None = None,
        on_result: Callable[[TraceResult], None] | None = None,
    ) -> list[TraceResult]:
        """One pass over the traces (see `finished_traces`). With `keep_existing`, a trace
        that already holds this tracer's annotation is left as it is (the watcher); without,
        it is attributed again and the annotation updated (the command: a re-run updates)."""
        results = []
        traces = await asyncio.to_thread(
            lambda: list(
                finished_traces(
                    self.client, self.project, start=start, end=end, trace_ids=trace_ids,
                    limit=limit,
                )
            )
        )  # fmt: skip
        for trace_id, spans in traces:
            if skip is not None and trace_id in skip:
                continue
            result = await self.one(trace_id, spans, settle=settle, keep_existing=keep_existing)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results

    async def one(
        self, trace_id: str, spans: list[dict[str, Any]], *, settle: float, keep_existing: bool
    ) -> TraceResult:
        """Attribute and annotate one trace; every problem is this trace's result, not a raise."""
        if not spans or not _settled(spans, settle):
            return TraceResult(trace_id, "running")
        try:
            trajectory = read_run(trace_id, spans)
        except AgenTracerError as error:
            return TraceResult(trace_id, "unreadable", problem=error.one_line())
        if trajectory.outcome is not Outcome.FAILURE:
            return TraceResult(trace_id, "not failed")
        try:
            if keep_existing and await asyncio.to_thread(self._annotated, trace_id):
                return TraceResult(trace_id, "kept")
            from agentracer.api import aattribute

            verdict = await aattribute(
                trajectory, self.tracer, with_ground_truth=self.with_ground_truth
            )
            blame = blame_of(trajectory, verdict, model=self.model)
            if blame.span_id is None:
                return TraceResult(
                    trace_id, "failed", verdict, problem="the verdict names no span to annotate"
                )
            annotation_id = await asyncio.to_thread(self.client.annotate, self.project, blame)
        except AgenTracerError as error:
            log.warning("trace %s: %s", trace_id, error.one_line())
            return TraceResult(trace_id, "failed", problem=error.one_line())
        return TraceResult(trace_id, "annotated", verdict, blame.span_id, annotation_id)

    def _annotated(self, trace_id: str) -> bool:
        return bool(self.client.annotations(self.project, identifier(self.tracer_name, trace_id)))


class PhoenixWatcher:
    """`serve --phoenix`: a daemon thread that runs the annotator every `every` seconds over
    the traces whose root started since `since`, leaving annotated traces as they are."""

    def __init__(
        self, annotator: PhoenixAnnotator, *, since: datetime, every: float, settle: float
    ) -> None:
        self.annotator = annotator
        self.since = since
        self.every = every
        self.settle = settle
        self.done: set[str] = set()
        self.results: list[TraceResult] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentracer-phoenix", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            while not self._stop.is_set():
                try:
                    loop.run_until_complete(self.poll())
                except ExportError as error:  # Phoenix down: say so, try again next time
                    log.warning("%s", error.one_line())
                except Exception:  # a bug must not silently end the thread
                    log.exception("phoenix poll failed; retrying")
                self._stop.wait(self.every)
        finally:
            loop.run_until_complete(self.annotator.tracer.aclose())
            loop.close()

    async def poll(self) -> list[TraceResult]:
        """One pass; traces that are finished with are not looked at again."""
        results = await self.annotator.run(
            start=self.since, settle=self.settle, keep_existing=True, skip=self.done
        )
        for result in results:
            # a running trace is looked at again; so is a failed one, unless it failed after
            # its verdict (no span to annotate): attributing it again would not help
            if result.status != "running" and (result.status != "failed" or result.verdict):
                self.done.add(result.trace_id)
        self.results += results
        return results


__all__ = ["PhoenixAnnotator", "PhoenixWatcher", "TraceResult", "identifier", "parse_time"]
