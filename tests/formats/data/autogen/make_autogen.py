"""Write two AutoGen AgentChat runs (autogen-agentchat 0.7.5), each saved as
`TaskResult.model_dump(mode="json")`, the usual way to save a run:

- `swarm_task_result.json`: a Swarm; the planner hands off to a researcher, who calls a tool
  and answers wrongly; the run stops on the researcher's text answer.
- `magentic_one_task_result.json`: a Magentic-One team (`MagenticOneGroupChat`); the
  orchestrator writes its facts and plan, picks the researcher through its JSON progress
  ledger, the researcher calls the tool and answers wrongly, and the orchestrator passes the
  wrong figure on as the final answer.
 The model is the scripted loopback server (stream false), with
`model_info` because "scripted" is not a model name AutoGen knows.

Run from the repository root: `python -m tests.formats.data.autogen.make_autogen`.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from autogen_agentchat.agents import AssistantAgent
from autogen_agentchat.conditions import MaxMessageTermination, TextMentionTermination
from autogen_agentchat.teams import MagenticOneGroupChat, Swarm
from autogen_ext.models.openai import OpenAIChatCompletionClient

from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("swarm_task_result.json")
MAGENTIC_OUT = Path(__file__).with_name("magentic_one_task_result.json")
MODEL_INFO = {
    "vision": False,
    "function_calling": True,
    "json_output": True,
    "family": "unknown",
    "structured_output": False,
}


def get_population(city: str) -> str:
    """The population of a city."""
    return {"Paris": "2,102,650 (2023 census)"}.get(city, "unknown")


async def run(base_url: str) -> dict:
    client = OpenAIChatCompletionClient(
        model="scripted",
        base_url=base_url,
        api_key="test-key",
        model_info=MODEL_INFO,
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


def ledger(satisfied: bool, speaker: str, instruction: str) -> str:
    """The orchestrator's progress ledger, as Magentic-One asks the model to write it."""

    def entry(answer: object) -> dict[str, object]:
        return {"reason": "scripted", "answer": answer}

    return json.dumps(
        {
            "is_request_satisfied": entry(satisfied),
            "is_in_loop": entry(False),
            "is_progress_being_made": entry(True),
            "next_speaker": entry(speaker),
            "instruction_or_question": entry(instruction),
        }
    )


async def run_magentic_one(base_url: str) -> dict:
    client = OpenAIChatCompletionClient(
        model="scripted", base_url=base_url, api_key="test-key", model_info=MODEL_INFO
    )
    researcher = AssistantAgent(
        "researcher",
        model_client=client,
        tools=[get_population],
        reflect_on_tool_use=True,
        description="Looks up facts with its tools.",
    )
    team = MagenticOneGroupChat([researcher], model_client=client, max_turns=4)
    result = await team.run(task="What is the population of Paris?")
    await client.close()
    return result.model_dump(mode="json")


def write_swarm(out: Path = OUT) -> None:
    with ScriptedServer() as server:
        server.script = [
            tool_call("transfer_to_researcher", {}, "call_handoff_1"),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants. TERMINATE"),
        ]
        dump = asyncio.run(run(server.base_url))
    out.write_text(json.dumps(dump, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(dump['messages'])} messages to {out}")


def write_magentic_one(out: Path = MAGENTIC_OUT) -> None:
    with ScriptedServer() as server:
        server.script = [
            text("GIVEN OR VERIFIED FACTS: none. FACTS TO LOOK UP: the population of Paris."),
            text("- researcher: look up the population of Paris."),
            text(ledger(False, "researcher", "Find the population of Paris.")),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants."),
            text(ledger(True, "researcher", "Report the answer.")),
            text("The population of Paris is about 3 million."),
        ]
        dump = asyncio.run(run_magentic_one(server.base_url))
    out.write_text(json.dumps(dump, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(dump['messages'])} messages to {out}")


def main() -> None:
    write_swarm()
    write_magentic_one()


if __name__ == "__main__":
    main()
