"""The live UI in a real browser (headless Debian chromium driven by Playwright)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentracer.serve.app import Service
from tests.browser import assert_not_blank
from tests.serve.test_receiver import run_app, wait_for

RED = "rgb(217, 45, 32)"  # --blame


def test_ui_list_filter_trace_page_blame_expand_and_escape(
    start_service: Callable[..., Service],
    sdk_provider: Callable[..., Any],
    page: Any,
    tmp_path: Path,
) -> None:
    service = start_service()
    provider = sdk_provider(service.endpoint)
    evil = "<script>document.title='pwned'</script> the answer is 41"
    failed = run_app(provider, fail=True, content=evil)
    passed = run_app(provider, fail=False)
    for trace in (failed, passed):
        wait_for(lambda t=trace: (s := service.store.get_trace(t)) and s.summary.state == "done")

    page.goto(f"{service.endpoint}/")
    rows = page.locator("tr.trace-row")
    assert rows.count() == 2
    page.fill("#filter", failed[:12])  # filter the list by trace id
    assert page.locator("tr.trace-row:visible").count() == 1
    assert "1 of 2 traces" in page.inner_text("#count")
    page.fill("#filter", "")
    page.select_option("#show", "failed")  # the server-side filter
    page.wait_for_url("**/?show=failed")
    assert page.locator("tr.trace-row").count() == 1
    list_png = tmp_path / "list.png"
    page.screenshot(path=str(list_png), full_page=True)
    assert_not_blank(list_png)

    page.click(f"a[href='/traces/{failed}']")
    page.wait_for_url(f"**/traces/{failed}")
    blamed = page.locator("details.step.blamed")
    assert blamed.count() == 1 and blamed.get_attribute("data-step") == "1"
    assert blamed.is_visible() and blamed.get_attribute("open") is not None
    assert blamed.evaluate("e => getComputedStyle(e).borderTopColor") == RED
    block = page.locator(".block.blamed")
    assert block.evaluate("e => getComputedStyle(e).backgroundColor") == RED
    assert page.locator(".lane-name.blamed-agent").inner_text() == "Solver"
    assert "Blamed: Solver at step 1" in page.inner_text("#verdict")
    # The step holding <script> shows it as text and ran nothing.
    assert page.title() != "pwned"
    assert "<script>document.title='pwned'</script>" in blamed.locator("pre.content").inner_text()
    # Expand a step that starts collapsed.
    first = page.locator("details.step#step-0")
    assert first.get_attribute("open") is None
    assert not first.locator("pre.content").is_visible()
    first.locator("summary").click()
    assert first.locator("pre.content").is_visible()
    assert first.locator("pre.content").inner_text() == "plan: add the numbers"
    shot = tmp_path / "trace.png"
    page.screenshot(path=str(shot), full_page=True)
    assert_not_blank(shot)
