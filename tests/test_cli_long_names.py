"""`show` and `attribute` print data capped and without rich's highlighting, which is quadratic
in a word's length (issue 18 item 12: a 32 KB agent name took 14 s, 50 MB over five minutes)."""

from __future__ import annotations

import time
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.trajectory import Step, Trajectory

runner = CliRunner()


def test_show_and_attribute_a_two_megabyte_agent_name_at_once(tmp_path: Path) -> None:
    name = "A" * 2_000_000
    trajectory = Trajectory(
        id="long", question="q", agents=[name, "B"],
        steps=[Step(index=0, agent=name, speaker=name, content="hi"),
               Step(index=1, agent="B", speaker="B", content="ok")],
    )  # fmt: skip
    path = tmp_path / "long.json"
    path.write_text(trajectory.model_dump_json())
    for args in (["show", str(path)], ["attribute", str(path), "--tracer", "first-agent-step"]):
        started = time.monotonic()
        result = runner.invoke(app, args, env={"COLUMNS": "80"})
        assert result.exit_code == 0, result.output
        assert time.monotonic() - started < 15, args  # was minutes
        assert len(result.stdout) < 5_000 and "AAAA…" in result.stdout
