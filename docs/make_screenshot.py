"""Make docs/trace-page.png: the live UI's trace page of a real OpenInference-instrumented run.

    python docs/make_screenshot.py

Starts `agentracer serve` in-process (a temporary store, the model-free `last-agent-step`
tracer), runs tests/serve/apps/openinference_app.py (the openai SDK instrumented by
openinference-instrumentation-openai, answered by a scripted loopback OpenAI-compatible server)
with OTEL_EXPORTER_OTLP_ENDPOINT pointed at it, waits for the verdict and photographs the trace
page in headless Debian chromium.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.llm.loopback

from agentracer.serve.app import Service  # noqa: E402
from agentracer.serve.server import ServerSettings  # noqa: E402
from agentracer.serve.worker import WorkerSettings  # noqa: E402
from tests.llm.loopback import Reply, ScriptedServer, completion  # noqa: E402

ANSWERS = [
    "Plan: Solver, count the minutes from 09:40 to 13:15, then give the journey in minutes.",
    "From 09:40 to 13:15 is 3 h 25 min, so the journey takes 3 * 60 + 25 = 205 minutes.",
]


def main() -> None:
    answers = iter(ANSWERS)
    with (
        tempfile.TemporaryDirectory() as tmp,
        ScriptedServer(default=lambda body: Reply(body=completion(next(answers, "done")))) as model,
    ):
        service = Service(
            Path(tmp), ServerSettings(port=0), WorkerSettings(settle=0.3, tracer="last-agent-step")
        )
        service.start()
        try:
            subprocess.run(
                [sys.executable, str(ROOT / "tests/serve/apps/openinference_app.py")],
                env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": service.endpoint,
                     "OPENAI_BASE_URL": model.base_url},
                check=True,
            )  # fmt: skip
            deadline = time.monotonic() + 30
            while not (traces := service.store.list_traces()) or not traces[0].verdict:
                if time.monotonic() > deadline:
                    raise SystemExit("no verdict after 30 s")
                time.sleep(0.1)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
                )
                page = browser.new_page(viewport={"width": 1100, "height": 820})
                page.goto(f"{service.endpoint}/traces/{traces[0].trace_id}")
                page.screenshot(path=str(ROOT / "docs" / "trace-page.png"))
                browser.close()
        finally:
            service.stop()


if __name__ == "__main__":
    main()
