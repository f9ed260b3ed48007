"""AutoGen AgentChat runs: a `TaskResult` dump (`{"messages": [...], "stop_reason": ...}`), or
its messages alone as a JSON list or JSON Lines (what `run_stream` yields, dumped one by one).

Every message names its `source` (the agent, or `user`) and its `type`:

- `TextMessage`, `StopMessage`, `ToolCallSummaryMessage`, `StructuredMessage`,
  `MultiModalMessage`, `ThoughtEvent`: a step of `source` (the user's first text is the task);
- `ToolCallRequestEvent`: an agent step holding the tool calls (`FunctionCall` id, name,
  arguments);
- `ToolCallExecutionEvent`: one tool step per `FunctionExecutionResult`, joined to its call by
  `call_id`; `is_error` makes the outcome a failure;
- `HandoffMessage`: a step of the agent that handed off, naming the target, unless it only
  repeats the result of the `transfer_to_...` tool just before it (Swarm writes both);
- `CodeExecutionEvent`: a tool step (`code_executor`);
- Magentic-One's orchestrator and agents write the same messages, so its runs read the same.

Streaming chunks, speaker selections and input requests are not steps and are counted in a
note; a message of an unknown type with text content is read as a plain message, also noted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import listing, step_content, text_of, tool_calls_of
from agentracer.formats.importer import message_runs
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.trajectory import Outcome, StepKind

FORMAT = "autogen"

_TEXT_TYPES = frozenset(
    {
        "TextMessage",
        "StopMessage",
        "ToolCallSummaryMessage",
        "StructuredMessage",
        "MultiModalMessage",
        "ThoughtEvent",
    }
)
_NOT_STEPS = frozenset(
    {
        "ModelClientStreamingChunkEvent",
        "SelectSpeakerEvent",
        "SelectorEvent",
        "UserInputRequestedEvent",
        "MemoryQueryEvent",
        "CodeGenerationEvent",  # the same code is in the agent's own message
    }
)
USER_SOURCES = frozenset({"user", "human"})


def is_message(obj: object) -> bool:
    """An AgentChat message or event: it names a `source` and a `type`."""
    return isinstance(obj, dict) and isinstance(obj.get("source"), str) and "type" in obj


def _is_task_result(obj: object) -> bool:
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        return False
    messages = obj["messages"]
    return "stop_reason" in obj or bool(messages and is_message(messages[0]))


def read_messages(builder: TrajectoryBuilder, messages: list[Any]) -> None:
    """Add a step for each message, in order; what is not a step goes into a note."""
    skipped: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    for position, message in enumerate(messages):
        if not is_message(message):
            skipped["not a message"] += 1
            continue
        kind = str(message["type"])
        source = message["source"]
        source_id = None if message.get("id") is None else str(message["id"])
        content = message.get("content")
        if kind == "ToolCallRequestEvent":
            calls = tool_calls_of(content)
            builder.add(
                agent=source,
                content=step_content("", calls),
                role="assistant",
                tool_calls=calls,
                source_id=source_id,
            )
        elif kind == "ToolCallExecutionEvent":
            for result in listing(content):
                if not isinstance(result, dict):
                    continue
                name = str(result.get("name") or "tool")
                if result.get("is_error"):
                    builder.outcome = Outcome.FAILURE
                    builder.note(f"tool {name} failed (message {source_id or position})")
                builder.add(
                    agent=name,
                    kind=StepKind.TOOL,
                    content=text_of(result.get("content")),
                    role="tool",
                    source_id=source_id,
                )
        elif kind == "HandoffMessage":
            target = message.get("target")
            last = builder.steps[-1] if builder.steps else None
            if last is not None and last.kind is StepKind.TOOL and last.content == text_of(content):
                skipped["HandoffMessage repeating its transfer tool's result"] += 1
                continue
            builder.add(
                agent=source,
                content=f"[handoff to {target}] {text_of(content)}".strip(),
                role="assistant",
                source_id=source_id,
            )
        elif kind == "CodeExecutionEvent":
            result = content if isinstance(content, dict) else message.get("result") or {}
            output = text_of(result.get("output") if isinstance(result, dict) else content)
            builder.add(
                agent="code_executor",
                kind=StepKind.TOOL,
                content=output,
                role="tool",
                source_id=source_id,
            )
        elif kind in _NOT_STEPS:
            skipped[kind] += 1
        else:
            if kind not in _TEXT_TYPES:
                unknown[kind] += 1
            _add_text(builder, source, content, source_id)
    if skipped:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(skipped.items()))
        builder.note(f"messages that are not steps were skipped: {kinds}")
    if unknown:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(unknown.items()))
        builder.note(f"messages of unknown types were read as plain messages: {kinds}")


def _add_text(builder: TrajectoryBuilder, source: str, content: Any, source_id: str | None) -> None:
    text = text_of(content)
    if source.lower() in USER_SOURCES:
        if not builder.question:
            builder.question = text
        builder.add(
            agent=source, kind=StepKind.USER, content=text, role="user", source_id=source_id
        )
    else:
        builder.add(agent=source, content=text, role="assistant", source_id=source_id)


@register_format(
    FORMAT,
    summary="AutoGen AgentChat TaskResult dumps (messages with `source` and `type`), "
    "Magentic-One included",
    priority=41,
)
class AutoGenFormat:
    def detect(self, probe: Probe) -> bool:
        first = probe.first()
        return _is_task_result(first) or (probe.shape != "object" and is_message(first))

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        yield from message_runs(
            probe,
            format=FORMAT,
            is_message=is_message,
            messages_of=lambda obj: obj["messages"] if _is_task_result(obj) else None,
            read=read_messages,
            not_a_run="not an AutoGen TaskResult: no 'messages' list",
            metadata=_stop_reason,
        )

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "messages" in first and "stop_reason" in first:
            return "its 'messages' is not a list of AgentChat messages"
        return None


def _stop_reason(result: dict[str, Any]) -> dict[str, Any]:
    return {"stop_reason": str(result["stop_reason"])} if result.get("stop_reason") else {}
