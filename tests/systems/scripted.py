"""A deterministic scripted model for the simulations: its reply is two numbers in 0..100 and
a market side, computed from the request's last message, so a replay with the same prompts
gets the same answers and a changed prompt (an edited past) gets different ones."""

from __future__ import annotations

import threading
import zlib
from typing import Any


class ScriptedSimUpstream:
    name = "scripted/sim"

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def reply(self, body: dict[str, Any]) -> str:
        digest = zlib.crc32(body["messages"][-1]["content"].encode())
        side = "buy" if digest % 3 else "sell"  # the market reads a side and the first number
        return f"WORK {digest % 101} SPEND {(digest // 101) % 101} {side} scripted"

    def complete(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.calls.append(body)
        text = self.reply(body)
        return {
            "id": "chatcmpl-sim",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "scripted",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }
