"""Starting or joining a Ray cluster, and a clear error when Ray is not installed."""

from __future__ import annotations

import os
import sys
from types import ModuleType

from agentracer.errors import AgenTracerError, install_hint
from agentracer.scale.reaper import start_watchdog

RAY_INSTALL_HINT = f"Ray is not installed: {install_hint('scale')} to use --ray"
LOCAL = "local"


class RayUnavailableError(AgenTracerError):
    """Ray is missing, or the cluster asked for cannot be reached."""


def require_ray() -> ModuleType:
    """The `ray` module, or a one-line error saying which extra to install."""
    try:
        import ray
    except ImportError:
        raise RayUnavailableError(RAY_INSTALL_HINT) from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> ModuleType:
    """Connect this process to Ray and return the module.

    Already connected (e.g. under `ray job submit`, or a test's `ray.init`): kept as it is.
    `address` None or `local`: join the cluster `ray start --head` runs on this machine, else
    start a private one with `num_cpus` logical CPUs (default: the machine's), which ends
    with this process even when it is killed (`scale.reaper`). Any other
    `address` (`auto`, `HOST:PORT`, `ray://HOST:10001`) is passed to `ray.init` as is.
    """
    ray = require_ray()
    if ray.is_initialized():
        return ray
    quiet = {"log_to_driver": False, "configure_logging": False}
    if address not in (None, LOCAL):
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise RayUnavailableError(
                f"cannot join the Ray cluster at {address}: {str(error).splitlines()[0]}; "
                "is `ray start --head` running there?"
            ) from None
        return ray
    if os.environ.get("RAY_ADDRESS"):
        ray.init(**quiet)
        return ray
    try:
        ray.init(address="auto", **quiet)
    except (ConnectionError, RuntimeError, ValueError):
        start_private(num_cpus)
    return ray


def start_private(num_cpus: int | None = None) -> ModuleType:
    """Start a Ray cluster of this process's own, which ends with it even when it is killed
    (`scale.reaper`), and return the module."""
    ray = require_ray()
    ray.init(
        num_cpus=num_cpus, include_dashboard=False, log_to_driver=False, configure_logging=False
    )
    if sys.platform == "linux":  # the watchdog reads /proc
        start_watchdog()
    return ray


def cluster_cpus() -> int:
    """Logical CPUs of the cluster (connecting as `connect()` does if not yet connected):
    how many one-CPU tasks run at once."""
    ray = connect()
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
