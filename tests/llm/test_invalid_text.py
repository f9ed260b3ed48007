"""A model answer holding a lone surrogate (issue 18 item 10) is a named one-line error, in
the client, the cache, `attribute --no-cache` and `eval` (that record's failure)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import InvalidAnswerError
from agentracer.evaluation.runner import SUMMARY_FILE
from agentracer.llm.cache import ResponseCache
from agentracer.llm.types import ChatResponse
from tests.conftest import EXAMPLE
from tests.llm.loopback import Reply, ScriptedServer, completion

runner = CliRunner()
SURROGATE = completion("Agent Name: Planner\ud800\nStep Number: 0\nReason: x")
GOOD = completion("Agent Name: WebSurfer\nStep Number: 1\nReason: r")


def test_the_cache_refuses_it_by_name(tmp_path: Path) -> None:
    with pytest.raises(InvalidAnswerError, match="lone surrogate U\\+D800 at character 5"):
        ResponseCache(tmp_path).put("ab" * 32, ChatResponse(text="plan \ud800"))
    assert not list(tmp_path.rglob("*.json"))


@pytest.mark.parametrize("cache", [["--no-cache"], []], ids=["no-cache", "cache"])
def test_attribute_says_it_in_one_line(tmp_path: Path, cache: list[str], monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGENTRACER_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedServer(Reply(body=SURROGATE)) as server:
        result = runner.invoke(app, [
            "attribute", str(EXAMPLE), "--tracer", "all-at-once", "--model", "openai/scripted",
            "--base-url", server.base_url, *cache,
        ])  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "not valid Unicode (a lone surrogate U+D800" in result.stderr
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1


def test_eval_fails_that_record_alone(data_dir: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AGENTRACER_CACHE_DIR", str(tmp_path / "cache"))
    with ScriptedServer(Reply(body=GOOD)) as server:
        server.script = [Reply(body=SURROGATE)]
        result = runner.invoke(app, [
            "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--data", str(data_dir),
            "--out", str(tmp_path / "run"), "--tracer", "all-at-once", "--model", "openai/scripted",
            "--base-url", server.base_url, "--concurrency", "1",
        ])  # fmt: skip
    assert result.exit_code == 3, result.output
    summary = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    (failed,) = summary["failed"]
    assert "lone surrogate U+D800" in failed["error"] and "\n" not in failed["error"]
    assert summary["computed"] == 57


def test_the_client_refuses_it_before_anything_sees_it() -> None:
    from agentracer.llm.client import check_text

    check_text("fine \U0001f600", "m")
    with pytest.raises(InvalidAnswerError):
        check_text("bad \udfff", "m")
