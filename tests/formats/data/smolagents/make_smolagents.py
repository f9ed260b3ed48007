"""Write `smolagents/managed_memory.json` with real smolagents (1.26).

A `manager` ToolCallingAgent gives a task to its managed agent `researcher`, who calls a tool
and returns a wrong figure, which the manager passes on as its final answer. The model is the
scripted loopback server (stream false). The file maps each agent's name to its
`agent.memory.get_full_steps()`, the manager first (the "managed agents by name" layout the
importer reads; a single agent's `get_full_steps()` list is read too).

Run from the repository root: `python -m tests.formats.data.smolagents.make_smolagents`.
"""

from __future__ import annotations

import json
from pathlib import Path

from smolagents import OpenAIServerModel, ToolCallingAgent, tool

from tests.formats.data.scripted import tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("managed_memory.json")


@tool
def get_population(city: str) -> str:
    """The population of a city.

    Args:
        city: the city's name.
    """
    return {"Paris": "2,102,650 (2023 census)"}.get(city, "unknown")


def write(out: Path = OUT) -> None:
    """Run the agents and write both memories to `out`."""
    with ScriptedServer() as server:
        server.script = [
            tool_call("researcher", {"task": "Find the population of Paris."}, "call_task_1"),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            tool_call("final_answer", {"answer": "about 3 million"}, "call_final_1"),
            tool_call(
                "final_answer", {"answer": "Paris has about 3 million inhabitants."}, "call_final_2"
            ),
        ]
        model = OpenAIServerModel(model_id="scripted", api_base=server.base_url, api_key="test")
        researcher = ToolCallingAgent(
            tools=[get_population],
            model=model,
            name="researcher",
            description="Looks up facts with its tools.",
            max_steps=4,
        )
        manager = ToolCallingAgent(
            tools=[], model=model, managed_agents=[researcher], name="manager", max_steps=4
        )
        answer = manager.run("What is the population of Paris?")
        print("final answer:", answer)
    dump = {
        "manager": manager.memory.get_full_steps(),
        "researcher": researcher.memory.get_full_steps(),
    }
    out.write_text(json.dumps(dump, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out}")


def main() -> None:
    write()


if __name__ == "__main__":
    main()
