"""The background worker: assemble settled traces, attribute the failed ones, store verdicts.

All of its state is in the store (a trace's `state`), so a restarted server picks up where the
last one stopped: traces that settled while it was down are assembled, failed traces without a
verdict are attributed. An attribution that fails (model down, rate limits) is recorded on the
trace and retried later; it never stops the worker.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from agentracer.errors import AgenTracerError
from agentracer.serve.assemble import Assembler, FailedIf, assemble, failure_reasons
from agentracer.serve.store import TraceStore
from agentracer.tracers import Tracer, TracerSettings, create_tracer
from agentracer.trajectory import Outcome, Trajectory, Verdict

log = logging.getLogger("agentracer.serve")
VerdictHook = Callable[[Trajectory, Verdict], None]


@dataclass
class WorkerSettings:
    """How the worker judges traces: the quiet period, the failure rule, the tracer."""

    settle: float = 5.0
    orphan_settle: float | None = None  # default: 12 x settle, at least 60 s
    failed_if: FailedIf | None = None
    tracer: str = "all-at-once"
    tracer_settings: TracerSettings = field(default_factory=TracerSettings)
    with_ground_truth: bool = True
    retry_in: float = 30.0
    poll: float | None = None  # default: a fifth of the settle period, within [0.05, 1] s
    on_verdict: list[VerdictHook] = field(default_factory=list)
    """Called with each stored verdict (e.g. a `VerdictSink.send`); must not block or raise."""

    @property
    def orphan_quiet(self) -> float:
        return self.orphan_settle if self.orphan_settle is not None else max(60.0, 12 * self.settle)

    @property
    def poll_interval(self) -> float:
        return self.poll if self.poll is not None else min(1.0, max(0.05, self.settle / 5))


class Worker:
    """Runs `step()` every poll interval on a daemon thread until `stop()`."""

    def __init__(
        self, store: TraceStore, settings: WorkerSettings, *, assembler: Assembler | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.assembler = assembler
        self._tracer: Tracer | None = None
        self._loop = asyncio.new_event_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="agentracer-worker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self.step()
                except Exception:  # a bug must not silently end the worker thread
                    log.exception("worker step failed; retrying")
                self._stop.wait(self.settings.poll_interval)
        finally:
            if self._tracer is not None:
                self._loop.run_until_complete(self._tracer.aclose())
            self._loop.close()
            self.store.close()

    def step(self) -> int:
        """Assemble every settled trace and attribute every pending one; returns how many
        traces it handled."""
        handled = 0
        for trace_id in self.store.settled(
            quiet=self.settings.settle, orphan_quiet=self.settings.orphan_quiet
        ):
            self.assemble_one(trace_id)
            handled += 1
        for trace_id in self.store.pending():
            if self._stop.is_set():
                break
            self.attribute_one(trace_id)
            handled += 1
        return handled

    def assemble_one(self, trace_id: str) -> None:
        stored = self.store.get_trace(trace_id)
        if stored is None:
            return
        try:
            trajectory = assemble(trace_id, stored.spans, self.assembler)
        except AgenTracerError as error:
            self.store.put_assembly(
                trace_id, last_seen=stored.summary.last_seen, trajectory=None,
                failed=None, problem=error.one_line(),
            )  # fmt: skip
            log.warning("%s", error.one_line())
            return
        reasons = failure_reasons(stored.spans, trajectory, self.settings.failed_if)
        if reasons:
            trajectory.metadata["failed_because"] = reasons
            trajectory.outcome = (
                Outcome.FAILURE
            )  # what `attribute` and `eval` expect of a failed run
        trajectory.metadata.setdefault("trace_id", trace_id)
        self.store.put_assembly(
            trace_id, last_seen=stored.summary.last_seen, trajectory=trajectory,
            failed=bool(reasons),
        )  # fmt: skip

    def attribute_one(self, trace_id: str) -> None:
        stored = self.store.get_trace(trace_id)
        if stored is None or stored.trajectory is None:
            return
        try:
            tracer = self._ensure_tracer()
            verdict = self._loop.run_until_complete(
                tracer.attribute(
                    stored.trajectory, with_ground_truth=self.settings.with_ground_truth
                )
            )
        except AgenTracerError as error:
            self.store.put_problem(
                trace_id, f"attribution failed: {error.one_line()}", retry_in=self.settings.retry_in
            )
            log.warning("trace %s: attribution failed: %s", trace_id, error.one_line())
            return
        if not verdict.tracer:
            verdict.tracer = self.settings.tracer
        self.store.put_verdict(trace_id, verdict)
        for hook in self.settings.on_verdict:
            try:
                hook(stored.trajectory, verdict)
            except Exception:  # a destination must never stop the worker
                log.exception("trace %s: a verdict hook failed", trace_id)

    def _ensure_tracer(self) -> Tracer:
        if self._tracer is None:
            self._tracer = create_tracer(self.settings.tracer, self.settings.tracer_settings)
        return self._tracer
