"""`view` reports in a real browser: offline, blamed step highlighted, steps expand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from agentracer.cli import app
from tests.browser import assert_not_blank
from tests.conftest import EXAMPLE
from tests.view.test_view import recordings

runner = CliRunner()
RED = "rgb(217, 45, 32)"


def open_offline(page: Any, html: Path) -> list[str]:
    """Open a report from disk, recording every request the page makes."""
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(html.as_uri())
    page.wait_for_load_state("networkidle")
    return [url for url in requests if url != html.as_uri()]


def test_trajectory_report_in_the_browser(page: Any, tmp_path: Path) -> None:
    verdict = tmp_path / "v.json"
    verdict.write_text(
        '{"agent": "Time_Expert", "step": 1, "reason": "computed <b>205</b> minutes", '
        '"candidates": [3], "tracer": "manual"}'
    )
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["view", str(EXAMPLE), "--verdict", str(verdict), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert open_offline(page, out) == []  # a self-contained file: no request at all
    blamed = page.locator("details.step.blamed")
    assert blamed.get_attribute("data-step") == "1" and blamed.is_visible()
    assert blamed.evaluate("e => getComputedStyle(e).borderTopColor") == RED
    assert page.locator(".block.blamed").evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert "computed <b>205</b> minutes" in page.inner_text("#verdict .reason")  # as text
    assert page.locator("details.step.candidate").get_attribute("data-step") == "3"
    # The gold label agrees with the verdict in this example.
    assert "the tracer agrees" in page.inner_text("#verdict")
    # Clicking a timeline block opens its step.
    page.click(".block[data-step='4']")
    assert page.locator("#step-4").get_attribute("open") is not None
    page.click("#expand-all")
    assert page.locator("#steps details.step:not([open])").count() == 0
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    assert_not_blank(shot)


def test_replay_comparison_in_the_browser(page: Any, tmp_path: Path) -> None:
    _, fixed = recordings(tmp_path)
    out = tmp_path / "replay.html"
    assert runner.invoke(app, ["view", str(fixed), "--out", str(out)]).exit_code == 0
    assert open_offline(page, out) == []
    columns = page.locator("#comparison > div")
    assert columns.count() == 2
    assert "205 minutes" in columns.nth(0).inner_text()
    assert "215 minutes" in columns.nth(1).inner_text()
    page.locator("#replay-0 summary").click()
    assert page.locator("#replay-0 pre.content").is_visible()
    shot = tmp_path / "replay.png"
    page.screenshot(path=str(shot), full_page=True)
    assert_not_blank(shot)
