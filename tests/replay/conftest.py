from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from agentracer.errors import LLMError
from agentracer.replay.session import Program

PROGRAMS = Path(__file__).parent / "programs"


class FakeUpstream:
    """A deterministic model: its answer names the agent's role and how many calls it served,
    and says 'approved' when reviewing work that was not marked BROKEN."""

    name = "fake/upstream"

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[dict[str, Any]] = []
        self.fail = fail
        self._lock = threading.Lock()

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(body)
            n = len(self.calls)
        if self.fail:
            raise LLMError("the fake upstream is down")
        system = body["messages"][0]["content"]
        user = body["messages"][-1]["content"]
        if "reviewer" in system:
            text = "rejected" if "BROKEN" in user else "approved"
        else:
            text = f"{system.split()[-1].rstrip('.')} answer {n}"
        return {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
        }


def team(*flags: str, expect: str = "approved", timeout: float = 60) -> Program:
    return Program(
        command=[sys.executable, str(PROGRAMS / "team.py"), *flags],
        check=f"{sys.executable} {PROGRAMS / 'check.py'} {expect}",
        timeout=timeout,
    )


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()
