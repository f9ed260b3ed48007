"""The HTML report of an eval run shows every baseline its summary holds, the best marked, so a
tracer is never shown beside only the weaker baselines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.evaluation.baselines import best_baseline

runner = CliRunner()


def methods_rows(html: str) -> dict[str, str]:
    """Method name -> the row's text, from the report's methods table."""
    table = html[html.index('id="methods"') :]
    table = table[: table.index("</table>")]
    rows = {}
    for row in re.findall(r"<tr><td><b>(.*?)</b></td>(.*?)</tr>", table):
        rows[row[0].replace("&amp;", "&")] = re.sub(r"<[^>]+>", " ", row[1])
    return rows


def test_every_summary_baseline_is_in_the_report_and_the_best_is_marked(
    tmp_path: Path, data_dir: Path
) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, [
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--tracer", "random",
        "--data", str(data_dir), "--out", str(run),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval.html"
    assert runner.invoke(app, ["view", str(run), "--out", str(out)]).exit_code == 0
    rows = methods_rows(out.read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert {"first-hand-off", "most-frequent-agent"} <= set(summary["baselines"])
    for name, figures in summary["baselines"].items():
        assert name in rows, name
        agent = figures["all"]["agent_accuracy"]
        assert f"{100 * agent:.1f}%" in rows[name]
    best_step = best_baseline(summary["baselines"], "all", "step_accuracy")
    assert best_step == "first-hand-off"  # hand-crafted: far ahead of the other older baselines
    assert "best baseline, step accuracy" in rows[best_step]
    marked = [name for name, text in rows.items() if "best baseline, step accuracy" in text]
    # the two newer rules score the same as first-hand-off on these logs: every tied best is marked
    best = summary["baselines"][best_step]["all"]["step_accuracy"]
    tied = [n for n, f in summary["baselines"].items() if f["all"]["step_accuracy"] == best]
    assert sorted(marked) == sorted(tied)
    assert set(tied) == {"first-hand-off", "tool-error-near-hand-off", "first-state-change"}
