"""Text is made safe once, where files are read: a BOM is accepted, lone surrogates are
replaced (and noted), and numbers too long or JSON nested too deeply are one-line errors for
that file, never a crash of `show`, `convert`, an LLM tracer or `eval`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import TraceFormatError
from agentracer.formats import load_file, load_one, parse_document
from tests.conftest import EXAMPLE
from tests.llm.loopback import ScriptedServer

runner = CliRunner()
CUT_EMOJI = '{"question": "q \\ud83d", "history": [{"name": "Coder", "role": "assistant", "content": "done \\ud83d"}]}'


def _cut_emoji_file(tmp_path: Path) -> Path:
    path = tmp_path / "cut.json"
    path.write_text(CUT_EMOJI, encoding="utf-8")
    return path


def test_a_lone_surrogate_is_replaced_and_noted(tmp_path: Path) -> None:
    trajectory = load_one(_cut_emoji_file(tmp_path))
    assert trajectory.steps[0].content == "done \ufffd"
    assert trajectory.question == "q \ufffd"
    assert any("2 lone UTF-16 surrogate(s)" in note for note in trajectory.notes)
    trajectory.model_dump_json().encode("utf-8")  # what crashed before


def test_show_convert_and_an_llm_tracer_survive_a_cut_emoji(tmp_path: Path) -> None:
    path = _cut_emoji_file(tmp_path)
    shown = runner.invoke(app, ["show", str(path)])
    assert shown.exit_code == 0 and "surrogate" in shown.stdout, shown.output
    converted = runner.invoke(
        app, ["convert", str(path), str(tmp_path / "out.json"), "--to", "who-and-when"]
    )
    assert converted.exit_code == 0, converted.output
    assert json.loads((tmp_path / "out.json").read_text())["history"][0]["content"] == "done \ufffd"
    with ScriptedServer() as server:
        result = runner.invoke(app, [
            "attribute", str(path), "--model", "openai/scripted", "--base-url", server.base_url,
            "--cache-dir", str(tmp_path / "cache"),
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(server.requests) == 1


def test_a_byte_order_mark_is_accepted_and_noted(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_text("\ufeff" + EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    trajectory = load_one(path)
    assert trajectory.agents == load_one(EXAMPLE).agents
    assert any("byte-order mark" in note for note in trajectory.notes)
    lines = tmp_path / "bom.jsonl"
    lines.write_text("\ufeff" + "\n".join([trajectory.model_dump_json()] * 2), encoding="utf-8")
    assert len(load_file(lines)) == 2


def test_an_in_memory_document_is_cleaned_too() -> None:
    (trajectory,) = parse_document(json.loads(CUT_EMOJI))
    assert trajectory.steps[0].content == "done \ufffd"
    assert trajectory.notes


def test_a_5000_digit_integer_skips_that_file_not_the_run(tmp_path: Path) -> None:
    folder = tmp_path / "who_and_when" / "Hand-Crafted"
    folder.mkdir(parents=True)
    record = json.loads(EXAMPLE.read_text())
    for n in range(2):
        (folder / f"{n}.json").write_text(json.dumps(record))
    (folder / "2.json").write_text(EXAMPLE.read_text()[:-2] + ', "n": ' + "9" * 5000 + "}")
    with pytest.raises(TraceFormatError, match="too many digits"):
        load_file(folder / "2.json")
    result = runner.invoke(app, [
        "eval", "--bench", "who-and-when", "--subset", "hand-crafted", "--tracer", "random",
        "--data", str(tmp_path), "--out", str(tmp_path / "run"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "2.json" in json.dumps(summary) or "2.json" in result.output
    assert "too many digits" in result.output.replace("\n", " ")


@pytest.mark.parametrize("depth", [900, 100_000])
def test_deeply_nested_json_is_a_named_error(tmp_path: Path, depth: int) -> None:
    path = tmp_path / "deep.json"
    record = json.loads(EXAMPLE.read_text())
    text = json.dumps(record)[:-1] + ', "extra": ' + "[" * depth + "]" * depth + "}"
    path.write_text(text)
    with pytest.raises(TraceFormatError, match="nest"):
        load_file(path)
    for command in (["show", str(path)], ["convert", str(path), str(tmp_path / "o.jsonl")]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2 and "nest" in result.output, result.output
