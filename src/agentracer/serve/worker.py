"""The background worker: assemble settled traces, attribute the failed ones, store verdicts.

All of its state is in the store (a trace's `state`), so a restarted server picks up where the
last one stopped: traces that settled while it was down are assembled, failed traces without a
verdict are attributed. An attribution that fails (model down, rate limits) is recorded on the
trace and retried later; it never stops the worker.

One bad trace fails alone. Its assembly and its attribution each run on a thread of their own
under a time limit, and any exception they raise is caught: a trace that crashes or hangs its
importer or tracer gets the reason on it, is tried again later, and after `MAX_ATTEMPTS` attempts
is given up (state `gave up`), while the worker goes on with the next trace. Attempts are counted
in the store before they start, so a trace that takes the whole server down is given up after as
many restarts. (A hung thread cannot be killed in Python: it is abandoned, as a daemon thread, and
the worker starts a fresh tracer and event loop.)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from agentracer.errors import AgenTracerError, ModelUnavailableError
from agentracer.serve.assemble import Assembler, FailedIf, assemble, failure_reasons
from agentracer.serve.store import TraceStore
from agentracer.tracers import Tracer, TracerSettings, create_tracer
from agentracer.trajectory import Outcome, Trajectory, Verdict

log = logging.getLogger("agentracer.serve")
VerdictHook = Callable[[Trajectory, Verdict], None]
T = TypeVar("T")


class _TimedOut(Exception):
    """A trace's assembly or attribution did not finish in its time limit."""


class _Stopping(Exception):
    """The worker was asked to stop while a trace's job ran."""


def one_line_reason(error: BaseException) -> str:
    """Why a job failed, in one line: our own errors say it; anything else is named by type."""
    if isinstance(error, AgenTracerError):
        return error.one_line()
    text = " ".join(str(error).split())
    reason = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return reason if len(reason) <= 300 else reason[:299] + "…"


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
    assemble_timeout: float = 60.0
    """Seconds one trace's assembly may take before it is abandoned (and counted as failed)."""
    attribute_timeout: float = 900.0
    """Seconds one trace's attribution may take, all its model calls together."""
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
        self,
        store: TraceStore,
        settings: WorkerSettings,
        *,
        assembler: Assembler | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.assembler = assembler
        self._tracer: Tracer | None = tracer  # else made from the settings when first needed
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
        try:
            stored = self.store.get_trace(trace_id)
        except Exception as error:  # a row that no longer reads (e.g. an older trajectory)
            if self.store.begin_attempt(trace_id, "assembly") is not None:
                self._failed(trace_id, f"cannot read the trace: {one_line_reason(error)}")
            return
        if stored is None:
            return
        if self.store.begin_attempt(trace_id, "assembly") is None:
            return  # given up: it failed every time it was tried
        try:
            trajectory = self._bounded(
                "assembly",
                lambda: assemble(trace_id, stored.spans, self.assembler),
                self.settings.assemble_timeout,
            )
            reasons = failure_reasons(stored.spans, trajectory, self.settings.failed_if)
        except _Stopping:
            self.store.end_attempt(trace_id)
            return
        except AgenTracerError as error:  # no importer reads it: a verdict on the data, final
            self.store.put_assembly(
                trace_id, last_seen=stored.summary.last_seen, trajectory=None,
                failed=None, problem=error.one_line(),
            )  # fmt: skip
            log.warning("%s", error.one_line())
            return
        except Exception as error:  # a crash or a hang: this trace fails alone
            self._failed(trace_id, f"assembly failed: {self._reason(error, 'assemble')}")
            return
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
        try:
            stored = self.store.get_trace(trace_id)
        except Exception as error:  # a row that no longer reads (e.g. an older trajectory)
            if self.store.begin_attempt(trace_id, "attribution") is not None:
                self._failed(trace_id, f"cannot read the trace: {one_line_reason(error)}")
            return
        if stored is None or stored.trajectory is None:
            return
        trajectory = stored.trajectory
        if self.store.begin_attempt(trace_id, "attribution") is None:
            return  # given up: it failed every time it was tried

        def run() -> Verdict:
            tracer = self._ensure_tracer()
            return self._loop.run_until_complete(
                tracer.attribute(trajectory, with_ground_truth=self.settings.with_ground_truth)
            )

        try:
            verdict = self._bounded("attribution", run, self.settings.attribute_timeout)
        except _Stopping:
            self.store.end_attempt(trace_id)
            return
        except ModelUnavailableError as error:  # not the trace's fault: retried, not counted
            self.store.put_problem(
                trace_id, f"attribution failed: {error.one_line()}", retry_in=self.settings.retry_in
            )
            log.warning("trace %s: attribution failed: %s", trace_id, error.one_line())
            return
        except Exception as error:
            self._failed(trace_id, f"attribution failed: {self._reason(error, 'attribute')}")
            return
        if not verdict.tracer:
            verdict.tracer = self.settings.tracer
        self.store.put_verdict(trace_id, verdict)
        for hook in self.settings.on_verdict:
            try:
                hook(trajectory, verdict)
            except Exception:  # a destination must never stop the worker
                log.exception("trace %s: a verdict hook failed", trace_id)

    def _reason(self, error: Exception, what: str) -> str:
        if isinstance(error, _TimedOut):
            limit = getattr(self.settings, f"{what}_timeout")
            hint = " (raise --attribute-timeout if it is only slow)" if what == "attribute" else ""
            return f"did not finish in {limit:g} s{hint}"
        return one_line_reason(error)

    def _failed(self, trace_id: str, reason: str) -> None:
        gave_up = self.store.put_failure(trace_id, reason, retry_in=self.settings.retry_in)
        log.warning("trace %s: %s%s", trace_id, reason, " (gave up)" if gave_up else "")

    def _bounded(self, what: str, job: Callable[[], T], timeout: float) -> T:
        """`job()` on a thread of its own: its result, or its exception; `_TimedOut` when it
        runs past `timeout` s, `_Stopping` when the worker is stopped meanwhile."""
        outcome: dict[str, object] = {}

        def target() -> None:
            try:
                outcome["value"] = job()
            except BaseException as error:  # handed to the worker thread, which decides
                outcome["error"] = error

        thread = threading.Thread(target=target, name=f"agentracer-{what}", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while thread.is_alive() and not self._stop.is_set() and time.monotonic() < deadline:
            thread.join(min(0.25, max(0.0, deadline - time.monotonic())))
        if thread.is_alive():
            # The job still holds the event loop (and maybe the tracer): leave both to it.
            self._tracer = None
            self._loop = asyncio.new_event_loop()
            raise _Stopping() if self._stop.is_set() else _TimedOut()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]

    def _ensure_tracer(self) -> Tracer:
        if self._tracer is None:
            self._tracer = create_tracer(self.settings.tracer, self.settings.tracer_settings)
        return self._tracer
