from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.replay.recording import ModelCall, Outcome, Recording, ReplayInfo, ToolEvent, save
from tests.conftest import EXAMPLE

runner = CliRunner()


def network_references(html: str) -> list[str]:
    """Anything that would make the browser fetch: src/href to a URL, @import, url(http...)."""
    return re.findall(
        r"""(?:src|href)\s*=\s*["'](?:https?:)?//[^"']*|@import|url\(\s*["']?https?:""", html
    )


def call(index: int, agent: str, text: str) -> ModelCall:
    return ModelCall(
        index=index, agent=agent, agent_source="header",
        request={"messages": [{"role": "user", "content": "q"}]},
        response={"choices": [{"message": {"role": "assistant", "content": text}}]},
    )  # fmt: skip


def recordings(tmp_path: Path) -> tuple[Path, Path]:
    original = Recording(
        id="orig", command=["python", "team.py"], model="scripted",
        events=[call(0, "Solver", "3 h 35 min = 205 minutes"),
                ToolEvent(agent="python", content="205", after_call=1),
                call(1, "Verifier", "approved: 205")],
        outcome=Outcome(status="failure", success=False),
    )  # fmt: skip
    replayed = original.model_copy(update={
        "id": "fixed",
        "events": [call(0, "Solver", "3 h 35 min = 215 minutes"),
                   ToolEvent(agent="python", content="215", after_call=1),
                   call(1, "Verifier", "approved: 215")],
        "outcome": Outcome(status="success", success=True),
        "replay": ReplayInfo(source=str(tmp_path / "orig"), at=0, content="3 h 35 min = 215 minutes"),
    })  # fmt: skip
    save(original, tmp_path / "orig")
    save(replayed, tmp_path / "fixed")
    return tmp_path / "orig", tmp_path / "fixed"


def test_view_a_trajectory_with_a_verdict_is_one_offline_file(tmp_path: Path) -> None:
    verdict = tmp_path / "v.json"
    result = runner.invoke(
        app, ["attribute", str(EXAMPLE), "--tracer", "last-agent-step", "--json"]
    )
    verdict.write_text(result.stdout)
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["view", str(EXAMPLE), "--verdict", str(verdict), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert network_references(html) == []
    assert 'id="step-5"' in html and re.search(r'class="step blamed[^"]*" id="step-5"', html)
    assert "Blamed: Planner at step 5" in html and "gold label" in html


def test_view_shows_an_original_and_its_replay_side_by_side(tmp_path: Path) -> None:
    _, fixed = recordings(tmp_path)
    out = tmp_path / "replay.html"
    result = runner.invoke(app, ["view", str(fixed), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Original and replayed run, from step 0" in html
    assert 'id="orig-0"' in html and 'id="replay-0"' in html
    assert "205 minutes" in html and "215 minutes" in html
    assert "Original run: <b>failure</b> · replayed run: <b>success</b>" in html
    assert "proven by replay: changing step 0 alone turns the failed run into a success" in html
    # Viewing the original finds its replay beside it.
    original = tmp_path / "orig"
    assert runner.invoke(app, ["view", str(original), "--out", str(out)]).exit_code == 0
    assert 'id="replay-0"' in out.read_text() and "215 minutes" in out.read_text()


def test_view_escapes_every_trace_string(tmp_path: Path) -> None:
    record = json.loads(EXAMPLE.read_text())
    record["history"][1]["content"] = "<script>document.title='pwned'</script>"
    record["history"][1]["name"] = "<img src=x onerror=alert(1)>"
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(record))
    out = tmp_path / "evil.html"
    assert runner.invoke(app, ["view", str(path), "--out", str(out)]).exit_code == 0
    html = out.read_text()
    assert "<script>document" not in html and "<img src=x" not in html
    assert "&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html


def test_view_errors_are_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["view", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "no such file or directory" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text('{"agent": "A", "step": -1}')
    result = runner.invoke(app, ["view", str(EXAMPLE), "--verdict", str(bad)])
    assert result.exit_code == 2 and "not a verdict (step" in result.stderr


def test_view_an_eval_run_directory(tmp_path: Path, data_dir: Path) -> None:
    run = tmp_path / "run"
    result = runner.invoke(app, ["eval", "--bench", "who-and-when", "--subset", "hand-crafted",
                                 "--tracer", "first-agent-step", "--data", str(data_dir), "--out", str(run)])  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "eval.html"
    result = runner.invoke(app, ["view", str(run), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert network_references(html) == []
    for method in ("first-agent-step", "random", "last-agent-step"):
        assert f"<td><b>{method}</b></td>" in html
    assert "Accuracy by trajectory length" in html and 'id="confusion"' in html
    assert html.count("data:image/svg+xml;base64,") == 3
    summary = json.loads((run / "summary.json").read_text())
    agent = summary["subsets"]["hand-crafted"]["agent_accuracy"]
    assert f"{100 * agent:.1f}%" in html  # the report agrees with the run's own summary


def test_eval_reports_refuse_a_verdict(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "results.jsonl").write_text("")
    result = runner.invoke(app, ["view", str(run), "--verdict", str(EXAMPLE)])
    assert result.exit_code == 2 and "--verdict is for one trajectory" in result.stderr
