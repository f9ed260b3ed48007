"""What the driver records when a Ray task fails: the task's own reason, in one line."""

from __future__ import annotations

from typing import Any

import pytest

from agentracer.scale.tasks import error_line


def test_a_failed_task_is_reported_with_its_own_exception(ray_cluster: Any) -> None:
    @ray_cluster.remote(max_retries=0)
    def boom() -> None:
        raise ValueError("the endpoint said no\nsecond line")

    with pytest.raises(Exception) as caught:
        ray_cluster.get(boom.remote())
    assert error_line(caught.value) == "Ray task failed: ValueError: the endpoint said no"


def test_an_error_without_a_cause_gives_its_last_line() -> None:
    error = RuntimeError("\x1b[36mray::attribute_item()\x1b[39m (pid=1)\n  trace\nThe worker died.")
    assert error_line(error) == "Ray task failed: The worker died."
    assert error_line(RuntimeError()) == "Ray task failed: RuntimeError"
