"""Write a real LangGraph run twice: its messages (`langgraph/messages.json`) and its LangSmith
runs (`langsmith/runs.jsonl`). langgraph 1.2 + langchain-openai 1.7.

The graph: a `planner` node briefs a `researcher` node, which calls a tool (LangGraph's
`ToolNode`) and then answers wrongly. Each node names its AIMessage after itself, as
multi-agent LangGraph code does. The model is the scripted loopback server (stream false).

- `messages.json` is `messages_to_dict(final_state["messages"])`.
- `runs.jsonl`: LangSmith is a hosted server that cannot run here, so the runs come from
  LangChain's own tracer: a `BaseTracer` subclass collects the `Run` objects (LangSmith's
  `RunTree`) that the LangSmith tracer would upload, and each is written as the LangSmith
  API's `langsmith.schemas.Run` model dumps it (the shape `Client.list_runs` returns and a
  runs export holds), one run per line, parents and children flattened.

Run from the repository root: `python -m tests.formats.data.langgraph.make_langgraph`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from langchain_core.messages import messages_to_dict
from langchain_core.tools import tool
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.schemas import Run
from langchain_openai import ChatOpenAI
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langsmith import schemas

from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

HERE = Path(__file__).parent
MESSAGES = HERE / "messages.json"
RUNS = HERE.parent / "langsmith" / "runs.jsonl"


@tool
def get_population(city: str) -> str:
    """The population of a city."""
    return {"Paris": "2,102,650 (2023 census)"}.get(city, "unknown")


class RunCollector(BaseTracer):
    """Keeps every finished root run (with its child runs), as LangChain hands them over."""

    def __init__(self) -> None:
        super().__init__()
        self.roots: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.roots.append(run)


def flatten(run: Run) -> list[Run]:
    runs = [run]
    for child in run.child_runs:
        runs.extend(flatten(child))
    return runs


def as_langsmith_run(run: Run) -> dict[str, Any]:
    """The run as LangSmith's API model (`langsmith.schemas.Run`) serialises it."""
    exported = schemas.Run(
        id=run.id,
        name=run.name,
        start_time=run.start_time,
        end_time=run.end_time,
        run_type=run.run_type,
        extra=run.extra,
        error=run.error,
        serialized=None,
        events=run.events,
        inputs=run.inputs,
        outputs=run.outputs,
        parent_run_id=run.parent_run_id,
        tags=run.tags,
        trace_id=run.trace_id,
        dotted_order=run.dotted_order,
        status="error" if run.error else "success",
        child_run_ids=[child.id for child in run.child_runs] or None,
    )
    return exported.model_dump(mode="json", exclude={"child_runs"})


def build_graph(base_url: str) -> Any:
    llm = ChatOpenAI(model="scripted", base_url=base_url, api_key="test-key", streaming=False)
    researcher_llm = llm.bind_tools([get_population])

    def planner(state: MessagesState) -> dict[str, Any]:
        reply = llm.invoke(state["messages"])
        reply.name = "planner"
        return {"messages": [reply]}

    def researcher(state: MessagesState) -> dict[str, Any]:
        reply = researcher_llm.invoke(state["messages"])
        reply.name = "researcher"
        return {"messages": [reply]}

    def route(state: MessagesState) -> str:
        return "tools" if state["messages"][-1].tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("planner", planner)
    graph.add_node("researcher", researcher)
    graph.add_node("tools", ToolNode([get_population]))
    graph.add_edge(START, "planner")
    graph.add_edge("planner", "researcher")
    graph.add_conditional_edges("researcher", route, ["tools", END])
    graph.add_edge("tools", "researcher")
    return graph.compile()


def write(messages_out: Path = MESSAGES, runs_out: Path = RUNS) -> None:
    """Run the graph once; write its messages and its LangSmith runs."""
    collector = RunCollector()
    with ScriptedServer() as server:
        server.script = [
            text("Researcher: look up the census figure for Paris."),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants."),
        ]
        state = build_graph(server.base_url).invoke(
            {"messages": [("user", "What is the population of Paris?")]},
            config={"callbacks": [collector]},
        )
    messages_out.write_text(json.dumps(messages_to_dict(state["messages"]), indent=1) + "\n")
    runs_out.parent.mkdir(exist_ok=True)
    runs = [as_langsmith_run(run) for root in collector.roots for run in flatten(root)]
    with runs_out.open("w", encoding="utf-8") as handle:
        for run in runs:
            handle.write(json.dumps(run) + "\n")
    print(f"wrote {len(state['messages'])} messages and {len(runs)} runs")


def main() -> None:
    write()


if __name__ == "__main__":
    main()
