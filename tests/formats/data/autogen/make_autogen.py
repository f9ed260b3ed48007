"""Write `autogen/swarm_task_result.json` with real AutoGen AgentChat (autogen-agentchat 0.7.5).

A Swarm: the planner hands off to a researcher, who calls a tool and answers wrongly; the run
stops on the researcher's text answer. The file is `TaskResult.model_dump(mode="json")`, the
usual way to save a run. The model is the scripted loopback server (stream false), with
`model_info` because "scripted" is not a model name AutoGen knows.

Run from the repository root: `python -m tests.formats.data.autogen.make_autogen`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import Swarm
from autogen_ext.models.openai import OpenAIChatCompletionClient

from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("swarm_task_result.json")


def get_population(city: str) -> str:
    """The population of a city."""
    return {"Paris": "2,102,650 (2023 census)"}.get(city, "unknown")


async def run(base_url: str) -> dict:
    client = OpenAIChatCompletionClient(
        model="scripted",
        base_url=base_url,
        api_key="test-key",
        model_info={
            "vision": False,
            "function_calling": True,
            "json_output": False,
            "family": "unknown",
            "structured_output": False,
        },
    )
    planner = AssistantAgent(
        "planner",
        model_client=client,
        handoffs=["researcher"],
        system_message="Hand population questions to the researcher.",
    )
    researcher = AssistantAgent(
        "researcher",
        model_client=client,
        tools=[get_population],
        reflect_on_tool_use=True,
        system_message="Answer with facts from your tools. Say TERMINATE when done.",
    )
    team = Swarm(
        [planner, researcher],
        termination_condition=TextMentionTermination("TERMINATE") | MaxMessageTermination(12),
    )
    result = await team.run(task="What is the population of Paris?")
    await client.close()
    return result.model_dump(mode="json")


def main() -> None:
    with ScriptedServer() as server:
        server.script = [
            tool_call("transfer_to_researcher", {}, "call_handoff_1"),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants. TERMINATE"),
        ]
        dump = asyncio.run(run(server.base_url))
    OUT.write_text(json.dumps(dump, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(dump['messages'])} messages to {OUT}")


if __name__ == "__main__":
    main()
