"""AG2 (classic AutoGen) chat histories: a JSON list (or JSON Lines) of `{role, name, content}`
messages, as `GroupChat.messages`, `ChatResult.chat_history` and
`ConversableAgent.chat_messages[...]` hold them; also `{"chat_history": [...]}` (a dumped
`ChatResult`) and `{"messages": [...]}`. Magentic-One style logs, where the speaker is the
`role` (`Orchestrator (thought)`, `WebSurfer`), read the same.

- The speaker is `name`, else a `role` that is not a chat role (`user`, `assistant`, `system`,
  `tool`, `function`); a channel suffix such as `(thought)` is dropped from the agent name.
  In a group chat every message's `role` is only the chat direction, so `role: "user"` with a
  `name` is an agent.
- `user`/`human` speakers are user steps; the first message is the task.
- A `system` message (a system prompt, a policy) is the run's context, never a step: nobody
  can be blamed for the instructions the agents were given.
- Tool calls (`tool_calls`, or the older `function_call`) stay on the agent's step; tool
  responses (`role: "tool"`/`"function"`, `tool_responses`) are tool steps named after the
  tool called (joined by `tool_call_id`), the executing agent kept as the speaker.
- Messages without a name are attributed by chat role (`user` to the user, others to
  `assistant`), with a note.
- A step's source id is the message's `id` when it has one, else its position in the list
  (AG2 keeps no message ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import step_content, text_of, tool_calls_of
from agentracer.formats.importer import message_runs
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.naming import normalise_agent, speaker_agent
from agentracer.trajectory import StepKind

FORMAT = "ag2"

CHAT_ROLES = frozenset({"user", "assistant", "system", "tool", "function"})
USER_SPEAKERS = frozenset({"user", "human"})
_MESSAGE_KEYS = frozenset(
    {"content", "name", "tool_calls", "function_call", "id", "tool_call_id", "tool_responses"}
)
_FOREIGN_KEYS = frozenset({"type", "source", "data", "lc", "steps", "history", "step_number"})


def is_chat_message(obj: object) -> bool:
    """A chat message: `content` (or tool calls) and a `role`, and none of the keys that mark
    the other formats' records (AutoGen's `source`/`type`, LangChain's `type`/`data`)."""
    if not isinstance(obj, dict) or _FOREIGN_KEYS & set(obj):
        return False
    has_body = "content" in obj or "tool_calls" in obj or "function_call" in obj
    return has_body and isinstance(obj.get("role"), str)


def _messages_of(obj: object) -> list[Any] | None:
    if isinstance(obj, dict):
        for key in ("chat_history", "messages"):
            items = obj.get(key)
            if isinstance(items, list) and items and is_chat_message(items[0]):
                return items
    return None


def _content(message: dict[str, Any]) -> str:
    content = message.get("content")
    if content == "None" and (message.get("tool_calls") or message.get("function_call")):
        return ""  # AG2 stores a tool-call turn's missing content as the string "None"
    return text_of(content)


def read_chat(builder: TrajectoryBuilder, messages: list[Any]) -> None:
    """One step per message (tool responses: one per response), in order."""
    calls_by_id: dict[str, str] = {}
    for position, message in enumerate(messages):
        if not is_chat_message(message):
            builder.note(f"entry {position} is not a chat message and was skipped")
            continue
        role = str(message.get("role") or "")
        if role == "system" and not message.get("tool_calls"):
            builder.add_context(_content(message))
            builder.note("the system message is kept as the run's context, not as a step")
            continue
        speaker = str(message.get("name") or (role if role not in CHAT_ROLES else ""))
        if not speaker:
            builder.note(
                "messages without a name are attributed by chat role: 'user' messages to the "
                "user, others to 'assistant'"
            )
            speaker = "user" if role == "user" else "assistant"
        agent = speaker_agent(speaker)
        # AG2 messages carry no ids: the position in the chat list points back into the file
        source_id = str(message["id"]) if message.get("id") is not None else str(position)
        if role in ("tool", "function") or message.get("tool_responses"):
            _add_tool_results(builder, message, speaker, calls_by_id, source_id)
            continue
        if normalise_agent(agent) in USER_SPEAKERS or (position == 0 and role == "user"):
            text = _content(message)
            builder.question = builder.question or text
            builder.add(
                agent=agent,
                speaker=speaker,
                kind=StepKind.USER,
                content=text,
                role=role or None,
                source_id=source_id,
            )
            continue
        calls = tool_calls_of(message.get("tool_calls"))
        if not calls and isinstance(message.get("function_call"), dict):
            calls = tool_calls_of([{"function": message["function_call"]}])
        for call in calls:
            if call.id:
                calls_by_id[call.id] = call.name
        builder.add(
            agent=agent,
            speaker=speaker,
            content=step_content(_content(message), calls),
            role=role or None,
            tool_calls=calls,
            source_id=source_id,
        )


def _add_tool_results(
    builder: TrajectoryBuilder,
    message: dict[str, Any],
    speaker: str,
    calls_by_id: dict[str, str],
    source_id: str | None,
) -> None:
    responses = message.get("tool_responses")
    if not isinstance(responses, list) or not responses:
        responses = [message]
    for response in responses:
        if not isinstance(response, dict):
            continue
        call_id = response.get("tool_call_id")
        tool = calls_by_id.get(str(call_id)) if call_id is not None else None
        tool = tool or (message.get("name") if message.get("role") == "function" else None)
        builder.add(
            agent=str(tool or speaker),
            speaker=speaker,
            kind=StepKind.TOOL,
            content=text_of(response.get("content")),
            role="tool",
            source_id=None if call_id is None else str(call_id),
        )
    if source_id is not None and builder.steps:
        builder.steps[-1].source_id = builder.steps[-1].source_id or source_id


@register_format(
    FORMAT,
    summary="AG2 / classic AutoGen chat histories ({role, name, content} lists; "
    "Magentic-One style role-named logs too)",
    priority=60,
)
class Ag2Format:
    def detect(self, probe: Probe) -> bool:
        first = probe.first()
        if probe.shape == "object":
            return _messages_of(first) is not None
        return is_chat_message(first) or _messages_of(first) is not None

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        yield from message_runs(
            probe,
            format=FORMAT,
            is_message=is_chat_message,
            messages_of=_messages_of,
            read=read_chat,
            not_a_run="not an AG2 chat: no 'chat_history' list",
        )

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        # Only a dict shaped like a message lacks a role; any other dict with a `content`
        # key (a run record, a log wrapper) is not told it is a broken message.
        if isinstance(first, dict) and "content" in first and "role" not in first:
            return (
                "the message has 'content' but no 'role'" if set(first) <= _MESSAGE_KEYS else None
            )
        return None
