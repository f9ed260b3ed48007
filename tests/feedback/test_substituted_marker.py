"""`feedback --mode replay` prints the blamed agent's re-run calls as `[substituted]`, and the
README says what that marker means there."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from tests.feedback.test_cli import teachable  # noqa: F401  (the scripted model fixture)
from tests.llm.loopback import ScriptedServer

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def test_the_re_run_blamed_call_is_marked_substituted(
    teachable: ScriptedServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    module = [sys.executable, "-m", "agentracer.systems.math_team"]
    endpoint = ["--model", "openai/scripted", "--base-url", teachable.base_url]
    recorded = runner.invoke(app, [
        "record", *endpoint, "--out", str(tmp_path / "rec"),
        "--check", " ".join([*module, "check", "--problem", "add"]),
        "--", *module, "run", "--problem", "add",
    ])  # fmt: skip
    assert recorded.exit_code == 0, recorded.output
    result = runner.invoke(app, [
        "feedback", str(tmp_path / "rec"), "--tracer", "first-agent-step",
        "--out", str(tmp_path / "fb"), *endpoint,
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "critique for Solver (step 0, template)" in result.output
    assert re.search(r"call 0 \[substituted\] Solver:", result.stdout), result.stdout
    readme = " ".join((REPO / "README.md").read_text(encoding="utf-8").split())
    assert (
        "the calls `feedback` prints mark the blamed agent's calls from the blamed one on `[substituted]`"
        in readme
    )
