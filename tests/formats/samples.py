"""The framework traces committed under tests/formats/data, each written by the real library
(see the make_*.py script beside it), and what each must read as.

Every sample is the same story told by a different framework: a first agent passes the
question on, a second agent calls `get_population` (which answers 2,102,650) and then states
the wrong figure "3 million".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DATA = Path(__file__).parent / "data"
WRONG_ANSWER = "3 million"


@dataclass(frozen=True)
class Sample:
    path: Path
    format: str
    agents: tuple[str, ...]
    answering_agent: str  # the agent whose step first states the wrong figure
    tool: str = "get_population"
    tool_call_id: str | None = "call_pop_1"


SAMPLES = [
    Sample(DATA / "ag2" / "groupchat_messages.json", "ag2", ("planner", "researcher"), "researcher"),
    Sample(DATA / "agents_sdk" / "handoff_trace.jsonl", "openai-agents", ("Triage", "Researcher"), "Researcher"),
    Sample(DATA / "autogen" / "swarm_task_result.json", "autogen", ("planner", "researcher"), "researcher"),
    Sample(DATA / "autogen" / "magentic_one_task_result.json", "autogen", ("MagenticOneOrchestrator", "researcher"), "researcher"),
    Sample(DATA / "langgraph" / "messages.json", "langchain-messages", ("planner", "researcher"), "researcher"),
    Sample(DATA / "langsmith" / "runs.jsonl", "langsmith", ("planner", "researcher"), "researcher"),
    Sample(DATA / "langfuse" / "observations.json", "langfuse", ("planner", "researcher"), "researcher"),
    Sample(DATA / "smolagents" / "managed_memory.json", "smolagents", ("manager", "researcher"), "researcher"),
]  # fmt: skip
