"""Every framework importer on a trace the real framework wrote: detection (each file is its
own format and no other), agent order, the step that holds the wrong answer, tool steps with
their ids, and the CLI (`convert`, `show`, `attribute`) with no format hint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.formats import load_file, write_jsonl
from agentracer.formats.registry import Probe, format_specs
from agentracer.trajectory import StepKind
from tests.conftest import EXAMPLE
from tests.formats.samples import SAMPLES, WRONG_ANSWER, Sample

runner = CliRunner()
IDS = [f"{sample.format}-{sample.path.stem}" for sample in SAMPLES]


def _detected(path: Path) -> list[str]:
    return [spec.name for spec in format_specs() if spec.format.detect(Probe(path))]


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_each_sample_is_detected_as_its_own_format_only(sample: Sample) -> None:
    assert _detected(sample.path) == [sample.format]


def test_other_formats_files_are_not_taken_by_a_framework_importer(tmp_path: Path) -> None:
    assert _detected(EXAMPLE) == ["who-and-when"]
    native = tmp_path / "native.jsonl"
    write_jsonl(load_file(EXAMPLE), native)
    assert _detected(native) == ["agentracer"]


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_agents_in_order_of_first_action_and_the_task(sample: Sample) -> None:
    [trajectory] = load_file(sample.path)
    assert tuple(trajectory.agents) == sample.agents
    assert trajectory.question == "What is the population of Paris?"
    assert trajectory.steps[0].kind is StepKind.USER
    assert trajectory.source is not None and trajectory.source.format == sample.format


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_the_wrong_answer_is_the_answering_agents_step(sample: Sample) -> None:
    [trajectory] = load_file(sample.path)
    holding = [s for s in trajectory.steps if WRONG_ANSWER in s.content]
    first = holding[0]
    assert first.kind is StepKind.AGENT and first.agent == sample.answering_agent
    assert first.source_id  # points back into the framework's own trace
    # the tool result came before the wrong answer, from the tool the agent called
    tool_steps = [s for s in trajectory.steps if s.kind is StepKind.TOOL]
    population = next(s for s in tool_steps if s.agent == sample.tool)
    assert "2,102,650" in population.content and population.index < first.index
    assert population.source_id


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_tool_calls_keep_their_arguments_and_ids(sample: Sample) -> None:
    [trajectory] = load_file(sample.path)
    calls = [c for s in trajectory.steps for c in s.tool_calls if c.name == sample.tool]
    assert len(calls) == 1
    assert json.loads(calls[0].arguments) == {"city": "Paris"}
    assert calls[0].id == sample.tool_call_id
    caller = next(s for s in trajectory.steps if calls[0] in s.tool_calls)
    assert caller.agent == sample.answering_agent and "get_population" in caller.content


@pytest.mark.parametrize("sample", SAMPLES, ids=IDS)
def test_cli_show_convert_attribute_without_hints(sample: Sample, tmp_path: Path) -> None:
    shown = runner.invoke(app, ["show", str(sample.path)])
    assert shown.exit_code == 0, shown.output
    assert ", ".join(sample.agents) in shown.stdout

    out = tmp_path / "converted.jsonl"
    converted = runner.invoke(app, ["convert", str(sample.path), str(out)])
    assert converted.exit_code == 0, converted.output
    [again] = load_file(out)
    assert tuple(again.agents) == sample.agents
    assert again.steps == load_file(sample.path)[0].steps  # lossless, source ids included

    record = tmp_path / "record.json"
    as_record = runner.invoke(
        app, ["convert", str(sample.path), str(record), "--to", "who-and-when"]
    )
    assert as_record.exit_code == 0, as_record.output

    attributed = runner.invoke(
        app, ["attribute", str(sample.path), "--tracer", "last-agent-step", "--json"]
    )
    assert attributed.exit_code == 0, attributed.output
    verdict = json.loads(attributed.stdout)["verdict"]
    [trajectory] = load_file(sample.path)
    last = trajectory.agent_steps()[-1]
    assert (verdict["agent"], verdict["step"]) == (last.agent, last.index)
