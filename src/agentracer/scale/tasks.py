"""The driver's loop shared by the Ray jobs: a bounded window of tasks, results as they come."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from agentracer.scale.cluster import require_ray

Item = dict[str, Any]


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def error_line(error: BaseException) -> str:
    """One line saying why a Ray task failed, without the traceback. A task's own exception
    is Ray's `cause` (its text's first line only names the task); other Ray errors (a worker
    that died) say why in their last line."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        text = f"{type(cause).__name__}: {cause}"
    else:
        lines = [line for line in _ANSI.sub("", str(error)).splitlines() if line.strip()]
        text = lines[-1] if lines else type(error).__name__
    first = text.strip().splitlines()
    return f"Ray task failed: {first[0] if first else type(error).__name__}"


def run_tasks(
    task: Callable[[Item], Item],
    items: Iterable[tuple[str, Item]],
    take: Callable[[str, Item], None],
    *,
    window: int,
    retries: int,
) -> None:
    """Run `task` on every `(key, item)` with at most `window` tasks in flight.

    `take(key, payload)` receives each task's return value, or `{"error": ...}` for a task Ray
    gave up on, in completion order, in this (the driver's) process. Items are drawn from
    `items` only as room frees up, so the driver holds `window` of them at a time. A task whose
    worker dies is re-run by Ray up to `retries` times. On any exception (Ctrl-C included) the
    tasks in flight are cancelled.
    """
    ray = require_ray()
    remote = ray.remote(num_cpus=1, max_retries=retries)(task)
    source = iter(items)
    pending: dict[Any, str] = {}

    def submit() -> None:
        for key, item in source:
            pending[remote.remote(item)] = key
            if len(pending) >= window:
                return

    try:
        submit()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                key = pending.pop(ref)
                try:
                    payload = ray.get(ref)
                except ray.exceptions.RayError as error:
                    payload = {"error": error_line(error)}
                take(key, payload)
            submit()
    except BaseException:
        for ref in pending:
            ray.cancel(ref, force=True)
        raise
