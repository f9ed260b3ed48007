"""How a program tells the recording proxy its task and its tool results (optional: without
`AGENTRACER_EVENTS_URL` these calls do nothing)."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any


def report(event: dict[str, Any]) -> None:
    url = os.environ.get("AGENTRACER_EVENTS_URL")
    if not url:
        return
    request = urllib.request.Request(
        url,
        data=json.dumps(event).encode(),
        headers={
            "Content-Type": "application/json",
            # the proxy answers only its own run's token
            "Authorization": f"Bearer {os.environ.get('AGENTRACER_PROXY_TOKEN', '')}",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # loopback only
        response.read()


def report_task(question: str, ground_truth: str | None) -> None:
    report({"kind": "task", "question": question, "ground_truth": ground_truth})


def report_tool(agent: str, content: str) -> None:
    report({"kind": "tool", "agent": agent, "content": content})
