"""Write `agents_sdk/handoff_trace.jsonl` with the real OpenAI Agents SDK (openai-agents 0.24).

A triage agent hands off to a researcher, who calls a tool and then answers wrongly. The model
is the scripted loopback server (chat completions, stream false); a `TracingProcessor` writes
every trace and span as `export()` gives it, one JSON object per line, which is the shape the
SDK's own backend exporter sends.

Run from the repository root: `python -m tests.formats.data.agents_sdk.make_agents_sdk`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    Runner,
    TracingProcessor,
    function_tool,
    set_trace_processors,
)
from openai import AsyncOpenAI

from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("handoff_trace.jsonl")


class JsonlExporter(TracingProcessor):
    """Collects `export()` of every trace and span as they end."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def on_trace_start(self, trace: Any) -> None:
        pass

    def on_trace_end(self, trace: Any) -> None:
        if (data := trace.export()) is not None:
            self.records.append(data)

    def on_span_start(self, span: Any) -> None:
        pass

    def on_span_end(self, span: Any) -> None:
        if (data := span.export()) is not None:
            self.records.append(data)

    def shutdown(self) -> None:
        pass

    def force_flush(self) -> None:
        pass


@function_tool
def get_population(city: str) -> str:
    """The population of a city."""
    return {"Paris": "2,102,650 (2023 census)"}.get(city, "unknown")


def write(out: Path = OUT) -> None:
    """Run the agents and write their trace to `out`."""
    exporter = JsonlExporter()
    set_trace_processors([exporter])
    with ScriptedServer() as server:
        server.script = [
            tool_call("transfer_to_researcher", {}, "call_handoff_1"),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants."),
        ]
        client = AsyncOpenAI(base_url=server.base_url, api_key="test-key")
        model = OpenAIChatCompletionsModel(model="scripted", openai_client=client)
        researcher = Agent(
            name="Researcher",
            instructions="Answer with facts from your tools.",
            tools=[get_population],
            model=model,
        )
        triage = Agent(
            name="Triage",
            instructions="Hand population questions to the researcher.",
            handoffs=[researcher],
            model=model,
        )
        result = Runner.run_sync(triage, "What is the population of Paris?")
        print("final output:", result.final_output)
    with out.open("w", encoding="utf-8") as handle:
        for record in exporter.records:
            handle.write(json.dumps(record) + "\n")
    print(f"wrote {len(exporter.records)} records to {out}")


def main() -> None:
    write()


if __name__ == "__main__":
    main()
