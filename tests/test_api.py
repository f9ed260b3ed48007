"""The one-call Python API (`agentracer.attribute`, `load`, `evaluate` and their async twins):
its doctests, its sources (paths, documents, messages, real framework objects), and that
`import agentracer` loads nothing heavy."""

from __future__ import annotations

import asyncio
import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import agentracer
from agentracer import api
from agentracer.errors import TraceFormatError
from agentracer.trajectory import Trajectory, Verdict
from tests.conftest import EXAMPLE, REPO
from tests.export.receiver import LogsReceiver
from tests.formats.otel_helpers import OPENINFERENCE

MESSAGES = [
    {"role": "user", "content": "What is 2 + 2?"},
    {"role": "assistant", "name": "Solver", "content": "5"},
    {"role": "assistant", "name": "Checker", "content": "Checked: 5 is right."},
]


@pytest.mark.parametrize("module", [agentracer, api], ids=["agentracer", "agentracer.api"])
def test_docstrings_run_as_doctests(module, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # the examples name files of the checkout
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_import_agentracer_loads_nothing_heavy() -> None:
    probe = (
        "import sys, agentracer\n"
        "heavy = ('agentracer.api', 'agentracer.replay', 'agentracer.tracers', 'openai', "
        "'opentelemetry', 'pydantic', 'lightgbm')\n"
        "print([m for m in sys.modules if m.startswith(heavy)])"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    ).stdout.strip()
    assert loaded == "[]"


def test_sources_a_program_holds() -> None:
    assert api.load(MESSAGES).agents == ["Solver", "Checker"]
    otlp = json.loads(OPENINFERENCE.read_text())
    from_document = api.load(otlp)
    assert from_document.steps == api.load(OPENINFERENCE).steps  # span ids included
    trajectory = api.load(EXAMPLE)
    assert api.load(trajectory) is trajectory
    verdict = agentracer.attribute(MESSAGES, tracer="last-agent-step")
    assert (verdict.agent, verdict.step) == ("Checker", 2)


def test_framework_result_objects() -> None:
    from autogen import ChatResult
    from autogen_agentchat.base import TaskResult
    from autogen_agentchat.messages import TextMessage
    from langchain_core.messages import AIMessage, HumanMessage

    task = TaskResult(
        messages=[
            TextMessage(source="user", content="What is 2 + 2?"),
            TextMessage(source="Solver", content="5"),
            TextMessage(source="Checker", content="Checked: 5."),
        ],
        stop_reason="done",
    )
    assert (api.load(task).source.format, api.load(task).agents) == (
        "autogen",
        ["Solver", "Checker"],
    )
    chat = ChatResult(chat_history=[dict(m) for m in MESSAGES], summary="5")
    assert api.load(chat).agents == ["Solver", "Checker"]
    state = {"messages": [HumanMessage("What is 2 + 2?"), AIMessage("5", name="Solver")]}
    assert api.load(state).source.format == "langchain-messages"
    with pytest.raises(TraceFormatError, match="cannot read a object object"):
        api.load(object())


def test_several_runs_need_an_index() -> None:
    path = REPO / "tests" / "formats" / "data" / "otel_genai.jsonl"
    with pytest.raises(TraceFormatError, match="holds 2 runs; pick one with index="):
        api.load(path)
    assert len(api.load_all(path)) == 2
    assert api.attribute(path, tracer="last-agent-step", index=0).agent == "Writer"


def test_async_twins_and_a_running_loop() -> None:
    async def in_a_notebook() -> tuple[Verdict, Verdict, Trajectory]:
        twin = await agentracer.aattribute(EXAMPLE, tracer="last-agent-step")
        plain = agentracer.attribute(EXAMPLE, tracer="last-agent-step")  # inside a loop
        return twin, plain, await agentracer.aload(EXAMPLE)

    twin, plain, loaded = asyncio.run(in_a_notebook())
    assert (twin.agent, twin.step) == (plain.agent, plain.step) == ("Planner", 5)
    assert loaded.id == "failed_run"


def test_options_reach_the_tracer_and_bad_names_fail() -> None:
    from agentracer.errors import UnknownTracerError

    with pytest.raises(UnknownTracerError, match="unknown tracer 'nosuch'"):
        agentracer.attribute(EXAMPLE, tracer="nosuch")
    a = agentracer.attribute(EXAMPLE, tracer="random", seed=1)
    b = agentracer.attribute(EXAMPLE, tracer="random", seed=1)
    assert (a.agent, a.step) == (b.agent, b.step)


def test_export_from_the_api() -> None:
    with LogsReceiver() as receiver:
        verdict = agentracer.attribute(OPENINFERENCE, tracer="fast", export=receiver.url)
    [event] = receiver.records
    assert event.attributes["agentracer.step"] == verdict.step
    assert event.attributes["gen_ai.evaluation.score.value"] == pytest.approx(verdict.confidence)


def test_evaluate_returns_the_summary(tmp_path: Path) -> None:
    summary = agentracer.evaluate(EXAMPLE, tracer="last-agent-step", out=tmp_path / "run")
    assert summary["subsets"]["all"]["n"] == 1 and (tmp_path / "run" / "summary.json").is_file()
    again = asyncio.run(
        agentracer.aevaluate(EXAMPLE, tracer="last-agent-step", out=tmp_path / "run")
    )
    assert again["resumed"] == 1 and again["computed"] == 0
