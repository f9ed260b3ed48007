"""Make docs/trace-page.png: the trace page of the example run, in headless Debian chromium.

    python docs/make_screenshot.py

Uses the same page the live UI serves (`agentracer view` renders it to one file) with a
verdict written for the example, so the picture needs no model and no server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
VERDICT = {
    "agent": "Time_Expert",
    "step": 1,
    "reason": "counts 09:40 to 13:15 as 3 h 25 min = 205 minutes (it is 3 h 35 min = 215); "
    "every later step builds on that number",
    "candidates": [3],
    "tracer": "agentracer",
    "parse_status": "parsed",
}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        verdict = Path(tmp) / "verdict.json"
        verdict.write_text(json.dumps(VERDICT))
        html = Path(tmp) / "page.html"
        subprocess.run(
            [sys.executable, "-m", "agentracer.cli", "view", "examples/failed_run.json",
             "--verdict", str(verdict), "--out", str(html)],
            check=True, cwd=ROOT,
        )  # fmt: skip
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(html.as_uri())
            page.screenshot(path=str(ROOT / "docs" / "trace-page.png"), full_page=False)
            browser.close()


if __name__ == "__main__":
    main()
