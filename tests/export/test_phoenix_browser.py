"""In Phoenix's own UI (a real chromium), after one `agentracer phoenix` command, the blamed
span of the failed trace carries our annotation: its pill in the trace tree, and its label,
score and explanation in the span's annotations."""

from __future__ import annotations

import json
import re

import httpx
import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from tests.browser import browser, page  # noqa: F401  (fixtures)
from tests.export.phoenix_runs import send_runs
from tests.export.phoenix_server import Phoenix

pytestmark = pytest.mark.slow
WRITER = 5


def test_the_blamed_span_shows_the_annotation_in_phoenix(
    phoenix: Phoenix,
    page,  # noqa: F811
    tmp_path,
) -> None:
    runs = send_runs(phoenix.url, tmp_path, project="ui")
    result = CliRunner().invoke(
        app, ["phoenix", "--url", phoenix.url, "--project", "ui", "--tracer", "last-agent-step",
              "--trace", runs.failed_trace, "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)["results"][0]["verdict"]
    project_id = next(
        p["id"] for p in httpx.get(f"{phoenix.url}/v1/projects").json()["data"] if p["name"] == "ui"
    )
    page.goto(f"{phoenix.url}/projects/{project_id}/traces/{runs.failed_trace}")
    pill = page.get_by_text(re.compile(r"agentracer\.blame"))
    pill.first.wait_for(timeout=60_000)
    assert pill.count() == 1  # one blamed span in the whole tree
    pill.first.click()  # selects the span it hangs under
    blamed = runs.span_of_step[WRITER]
    page.get_by_text(blamed).first.wait_for(timeout=30_000)  # the details are the blamed span's
    page.get_by_text("Annotations").first.click()  # the selected span's annotations
    details = page.get_by_role("button", name="View annotation details")
    details.first.wait_for(timeout=30_000)
    details.first.click(force=True)  # its popover: label, score, annotator kind, explanation
    page.get_by_text("blamed", exact=True).first.wait_for(timeout=30_000)
    body = page.inner_text("body")
    assert "CODE" in body and "0.25" in body
    assert f"Writer at step {WRITER}: {verdict['reason']}" in body
    page.screenshot(path=str(tmp_path / "phoenix.png"))
