"""A real local Ray cluster (2 CPUs) shared by the scale tests of one session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[Any]:
    ray = pytest.importorskip("ray", reason="needs the [scale] extra")
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        namespace="agentracer-tests",
    )
    try:
        yield ray
    finally:
        ray.shutdown()
