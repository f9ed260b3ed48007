"""The real frameworks, run now against the scripted loopback server by the same scripts that
wrote the committed traces: what they write today must read exactly as the committed files do
(so a framework release that changes its export shows up here). Needs the `frameworks` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agentracer.formats import load_file
from tests.formats.samples import DATA


def _story(path: Path) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    """What a trace says, without the ids and times that change from run to run."""
    [trajectory] = load_file(path)
    return [
        (s.kind.value, s.agent, s.content, [(c.name, c.arguments) for c in s.tool_calls])
        for s in trajectory.steps
    ]


def _ag2(out: Path) -> list[Path]:
    pytest.importorskip("autogen")
    from tests.formats.data.ag2.make_ag2 import write

    write(out / "groupchat_messages.json")
    return [out / "groupchat_messages.json"]


def _agents_sdk(out: Path) -> list[Path]:
    pytest.importorskip("agents")
    from tests.formats.data.agents_sdk.make_agents_sdk import write

    write(out / "handoff_trace.jsonl")
    return [out / "handoff_trace.jsonl"]


def _autogen(out: Path) -> list[Path]:
    pytest.importorskip("autogen_agentchat")
    from tests.formats.data.autogen.make_autogen import write_magentic_one, write_swarm

    write_swarm(out / "swarm_task_result.json")
    write_magentic_one(out / "magentic_one_task_result.json")
    return [out / "swarm_task_result.json", out / "magentic_one_task_result.json"]


def _langgraph(out: Path) -> list[Path]:
    pytest.importorskip("langgraph")
    from tests.formats.data.langgraph.make_langgraph import write

    write(out / "messages.json", out / "runs.jsonl")
    return [out / "messages.json", out / "runs.jsonl"]


def _langfuse(out: Path) -> list[Path]:
    pytest.importorskip("langfuse")
    from tests.formats.data.langfuse.make_langfuse import write

    write(out / "observations.json")
    return [out / "observations.json"]


def _smolagents(out: Path) -> list[Path]:
    pytest.importorskip("smolagents")
    from tests.formats.data.smolagents.make_smolagents import write

    write(out / "managed_memory.json")
    return [out / "managed_memory.json"]


def _smolagents_openinference(out: Path) -> list[Path]:
    pytest.importorskip("openinference.instrumentation.smolagents")
    from tests.formats.data.smolagents.make_openinference import write

    write(out / "openinference_managed.json")
    return [out / "openinference_managed.json"]


COMMITTED = {
    "groupchat_messages.json": DATA / "ag2",
    "handoff_trace.jsonl": DATA / "agents_sdk",
    "swarm_task_result.json": DATA / "autogen",
    "magentic_one_task_result.json": DATA / "autogen",
    "messages.json": DATA / "langgraph",
    "runs.jsonl": DATA / "langsmith",
    "observations.json": DATA / "langfuse",
    "managed_memory.json": DATA / "smolagents",
    "openinference_managed.json": DATA / "smolagents",
}


@pytest.mark.parametrize(
    "generate",
    [_ag2, _agents_sdk, _autogen, _langgraph, _langfuse, _smolagents, _smolagents_openinference],
    ids=[
        "ag2",
        "agents-sdk",
        "autogen",
        "langgraph-langsmith",
        "langfuse",
        "smolagents",
        "smolagents-openinference",
    ],
)
def test_todays_framework_writes_what_the_committed_trace_holds(
    generate: Callable[[Path], list[Path]], tmp_path: Path
) -> None:
    for fresh in generate(tmp_path):
        committed = COMMITTED[fresh.name] / fresh.name
        assert _story(fresh) == _story(committed), fresh.name


def test_the_readme_agents_sdk_snippet_writes_a_file_attribute_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("agents")
    import re

    from agents import set_trace_processors
    from typer.testing import CliRunner

    from agentracer.cli import app
    from tests.conftest import REPO
    from tests.formats.data.agents_sdk import make_agents_sdk

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("From the **OpenAI Agents SDK**") :]
    snippet = re.search(r"```python\n(.*?)```", section, re.S)
    assert snippet is not None
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(snippet.group(1), namespace)  # registers the README's processor
    try:
        monkeypatch.setattr(make_agents_sdk, "set_trace_processors", lambda processors: None)
        make_agents_sdk.write(tmp_path / "unused.jsonl")  # the same agents, traced by the README
    finally:
        set_trace_processors([])  # closes the README's file (shutdown) and detaches it
    result = CliRunner().invoke(
        app, ["attribute", "my_agents_trace.jsonl", "--tracer", "last-agent-step"]
    )
    assert result.exit_code == 0, result.output
    assert "agent: Researcher" in result.stdout
