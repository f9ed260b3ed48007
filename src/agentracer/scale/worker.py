"""What a Ray worker process keeps between tasks: one event loop and one tracer per setting.

Tasks run one after another in a worker process. Keeping the loop and the tracer (with its
model client, connection pool and response cache) alive across tasks avoids rebuilding them
per trajectory; a model client is bound to the loop it was first used on, hence one loop.
"""

from __future__ import annotations

import asyncio

from agentracer.scale.limiter import share_limits
from agentracer.tracers import create_tracer
from agentracer.tracers.base import Tracer, TracerSettings

_LOOP: asyncio.AbstractEventLoop | None = None
_TRACERS: dict[str, Tracer] = {}


def worker_loop() -> asyncio.AbstractEventLoop:
    """This process's event loop for running async library code inside synchronous tasks."""
    global _LOOP
    if _LOOP is None or _LOOP.is_closed():
        _LOOP = asyncio.new_event_loop()
    return _LOOP


def tracer_for(name: str, settings: TracerSettings, limit: int | None = None) -> Tracer:
    """The tracer `name` with `settings`, built once per process; with `limit`, its model's
    calls share the cluster-wide per-endpoint limit."""
    key = f"{name}|{settings.model_dump_json()}|{limit}"
    if key not in _TRACERS:
        tracer = create_tracer(name, settings)
        if limit is not None:
            share_limits(getattr(tracer, "model", None), limit)
        _TRACERS[key] = tracer
    return _TRACERS[key]
