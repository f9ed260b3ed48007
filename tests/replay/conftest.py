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


class ArithmeticUpstream(FakeUpstream):
    """The team's task is 2 + 3. The planner states the numbers, the worker adds (wrongly when
    `buggy`), and the reviewer approves only work that says 5."""

    def __init__(self, buggy: bool = False) -> None:
        super().__init__()
        self.buggy = buggy

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        response = super().complete(body)
        system = body["messages"][0]["content"]
        user = body["messages"][-1]["content"]
        if "planner" in system:
            text = "Plan: add the two numbers 2 and 3, then report the sum."
        elif "worker" in system:
            text = (
                "The sum of the two numbers is 6."
                if self.buggy
                else "The sum of the two numbers is 5."
            )
        else:
            text = "approved" if "5" in user else "rejected"
        response["choices"][0]["message"]["content"] = text
        return response


ARITHMETIC = ("--question", "What is 2 + 3?", "--answer", "5")


def team(*flags: str, expect: str = "approved", timeout: float = 60) -> Program:
    return Program(
        command=[sys.executable, str(PROGRAMS / "team.py"), *flags],
        check=f"{sys.executable} {PROGRAMS / 'check.py'} {expect}",
        timeout=timeout,
    )


@pytest.fixture
def upstream() -> FakeUpstream:
    return FakeUpstream()
