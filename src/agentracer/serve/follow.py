"""Live forecasting over `agentracer serve`: follow one trace in the store as its spans arrive.

Each time new spans are stored, the trace is assembled again from all of its spans (the same
importers as the worker's) and the forecaster reads every agent step it has not read yet, in
order. The first alarm is reported at once; when the trace ends without one, "no alarm" is.

A trace has ended when the worker has assembled it (its state left `open`), or, when no worker
runs on the store, when its root span has ended and nothing arrived for `quiet` seconds.
A partial trace the importers cannot read yet (e.g. only a tool span so far) is simply waited
on.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from agentracer.errors import AgenTracerError
from agentracer.forecast.online import Forecaster, TooShortError, read_step
from agentracer.serve.assemble import Assembler, assemble
from agentracer.serve.store import OPEN, TraceStore, TraceSummary
from agentracer.trajectory import StepKind, Trajectory


class UnknownTraceError(AgenTracerError):
    """The trace id to follow is not in the store."""


@dataclass
class FollowResult:
    """What following a trace found: the alarm (or None), how many steps were read when it was
    raised (all steps when none), and whether the trace had ended when the answer was given."""

    trace_id: str
    alarm: int | None
    read: int
    steps: int
    ended: bool
    agent: str | None = None


Event = Callable[[str], None]


def _ended(summary: TraceSummary, quiet: float) -> bool:
    if summary.state != OPEN:
        return True
    return summary.root_ended and time.time() - summary.last_seen >= quiet


def _assemble(
    store: TraceStore, trace_id: str, assembler: Assembler | None
) -> tuple[int, Trajectory | None]:
    stored = store.get_trace(trace_id)
    assert stored is not None
    if stored.summary.state != OPEN and stored.trajectory is not None:
        return stored.summary.n_spans, stored.trajectory  # the worker's final assembly
    try:
        return len(stored.spans), assemble(trace_id, stored.spans, assembler)
    except AgenTracerError:
        return len(stored.spans), None  # not readable yet: wait for more spans


async def follow(
    store: TraceStore,
    trace_id: str,
    forecaster: Forecaster,
    *,
    poll: float = 0.5,
    wait: float = 0.0,
    quiet: float = 5.0,
    timeout: float | None = None,
    assembler: Assembler | None = None,
    on_event: Event | None = None,
) -> FollowResult:
    """Follow `trace_id` in `store` until `forecaster` alarms or the trace ends.

    `wait`: how long an id not yet in the store is waited for before `UnknownTraceError`.
    `timeout`: give up (AgenTracerError) when the trace neither alarms nor ends in time.
    """
    say = on_event or (lambda _: None)
    started = time.monotonic()
    while store.get_trace(trace_id) is None:
        if time.monotonic() - started >= wait:
            raise UnknownTraceError(
                f"no trace {trace_id!r} in the store {store.path.parent} (see `agentracer "
                "traces list`; give --wait SECONDS to wait for a trace that has not started)"
            )
        await asyncio.sleep(poll)
    seen_spans = -1
    next_step = 0
    trajectory: Trajectory | None = None
    while True:
        stored = store.get_trace(trace_id)
        assert stored is not None
        # `ended` is taken before the spans are read, so no span can slip in between; and a
        # trace whose span count has not changed is not assembled again.
        ended = _ended(stored.summary, quiet)
        if stored.summary.n_spans == seen_spans:
            n_spans, assembled = seen_spans, None
        else:
            n_spans, assembled = _assemble(store, trace_id, assembler)
        if assembled is not None and n_spans != seen_spans:
            seen_spans, trajectory = n_spans, assembled
            say(f"{n_spans} spans, {len(assembled.steps)} steps")
            for t in range(next_step, len(assembled.steps)):
                next_step = t + 1
                if assembled.steps[t].kind is not StepKind.AGENT:
                    continue
                step = await read_step(forecaster, assembled, t)
                if step is not None:
                    return FollowResult(
                        trace_id, step, t + 1, len(assembled.steps), ended,
                        agent=assembled.steps[step].agent,
                    )  # fmt: skip
                say(f"step {t} ({assembled.steps[t].agent}): continue")
        if ended:
            if trajectory is None:
                stored = store.get_trace(trace_id)
                problem = stored.summary.problem if stored is not None else None
                raise AgenTracerError(
                    f"trace {trace_id} ended, but no importer could read it as a run"
                    + (f": {problem}" if problem else "")
                )
            steps = len(trajectory.steps)
            if steps < 2:
                raise TooShortError(
                    f"trace {trace_id} ended with {steps} step(s); a forecast needs at least two"
                )
            return FollowResult(trace_id, None, steps, steps, True)
        if timeout is not None and time.monotonic() - started > timeout:
            raise AgenTracerError(
                f"trace {trace_id} neither alarmed nor ended within {timeout:g} s"
            )
        await asyncio.sleep(poll)
