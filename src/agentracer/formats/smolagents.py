"""smolagents memory dumps: `agent.memory.get_full_steps()` (a JSON list of step dicts), or
managed agents by name: `{"manager": manager_steps, "researcher": researcher_steps, ...}`,
the top agent first.

Steps of every agent are merged in execution order by their `timing`: an action's model
output at its start, its observation (the tool result) at its end, so a managed agent's steps
fall between the manager's call and the observation that returns its answer.

- The top agent's `TaskStep` is the task and a user step; a managed agent's task is the
  manager's call and is not repeated.
- `PlanningStep`s are agent steps holding the plan.
- `ActionStep`s are an agent step (model output, tool calls or code) and a tool step (the
  observation, named after the tool called, `python_interpreter` for code). An observation that
  returns a managed agent's final answer, when that agent's own steps are not in the file, is
  an agent step of that managed agent, and a note says so.
- A step `error` is noted; the outcome is a failure when the top agent's last step failed or
  it never gave a final answer.

A plain `get_full_steps()` list does not name its agent: its steps are attributed to `agent`
and a note says so (a managed agent's task text names it, which is used when present).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import mapping, step_content, text_of, tool_calls_of
from agentracer.formats.importer import finish, no_records
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.trajectory import Outcome, StepKind, ToolCall

FORMAT = "smolagents"

_MANAGED_ANSWER = re.compile(r"^Here is the final answer from your managed agent '([^']+)':")
_MANAGED_TASK = re.compile(r"You're a helpful agent named '([^']+)'")
_UNNAMED = "agent"


def _is_step(obj: object) -> bool:
    if not isinstance(obj, dict):
        return False
    keys = set(obj)
    return {"task", "task_images"} <= keys or (
        "step_number" in keys and bool({"observations", "model_output", "tool_calls"} & keys)
    )


def _is_named_memories(obj: object) -> bool:
    if not isinstance(obj, dict) or not obj:
        return False
    return all(isinstance(v, list) for v in obj.values()) and any(
        v and _is_step(v[0]) for v in obj.values()
    )


@dataclass
class _Event:
    time: float
    order: int
    agent: str
    kind: StepKind
    content: str
    role: str
    tool_calls: list[ToolCall]
    source_id: str | None


class _Reader:
    def __init__(self, builder: TrajectoryBuilder, memories: dict[str, list[Any]]) -> None:
        self.builder = builder
        self.memories = memories
        self.events: list[_Event] = []

    def event(self, time: Any, agent: str, kind: StepKind, content: str, **extra: Any) -> None:
        self.events.append(
            _Event(
                time=float(time) if isinstance(time, int | float) else 0.0,
                order=len(self.events),
                agent=agent,
                kind=kind,
                content=content,
                role=extra.get("role", "assistant" if kind is StepKind.AGENT else "tool"),
                tool_calls=extra.get("tool_calls", []),
                source_id=extra.get("source_id"),
            )
        )

    def read(self) -> None:
        for position, (name, steps) in enumerate(self.memories.items()):
            self.read_agent(name, steps, top=position == 0)
        for event in sorted(self.events, key=lambda e: (e.time, e.order)):
            self.builder.add(
                agent=event.agent,
                kind=event.kind,
                content=event.content,
                role=event.role,
                tool_calls=event.tool_calls,
                source_id=event.source_id,
            )

    def read_agent(self, name: str, steps: list[Any], *, top: bool) -> None:
        last_start = 0.0
        final = False
        failed = False
        for step in steps:
            if not isinstance(step, dict):
                self.builder.note(f"entries of {name}'s memory that are not steps were skipped")
                continue
            timing = mapping(step.get("timing"))
            start = timing.get("start_time", last_start)
            end = timing.get("end_time") or start
            last_start = start if isinstance(start, int | float) else last_start
            number = step.get("step_number")
            source_id = f"{name}/step-{number}" if number is not None else None
            if "task" in step and "step_number" not in step:
                if top:
                    task = text_of(step.get("task"))
                    self.builder.question = self.builder.question or task
                    self.event(last_start, "user", StepKind.USER, task, role="user")
            elif "plan" in step:
                self.event(start, name, StepKind.AGENT, text_of(step.get("plan")))
            elif "step_number" in step:
                failed = self.read_action(name, step, start, end, source_id)
                final = bool(step.get("is_final_answer")) or final
        if top and (failed or not final):
            self.builder.outcome = Outcome.FAILURE
            self.builder.note(
                f"{name} " + ("failed at its last step" if failed else "gave no final answer")
            )

    def read_action(
        self, name: str, step: dict[str, Any], start: Any, end: Any, source_id: str | None
    ) -> bool:
        calls = tool_calls_of(step.get("tool_calls"))
        message = step.get("model_output_message")
        text = text_of(step.get("model_output"))
        if not text and isinstance(message, dict):
            text = text_of(message.get("content"))
        self.event(
            start,
            name,
            StepKind.AGENT,
            step_content(text, [] if step.get("code_action") else calls),
            tool_calls=calls,
            source_id=source_id,
        )
        observation = text_of(step.get("observations"))
        error = step.get("error")
        if error:
            message_text = error.get("message") if isinstance(error, dict) else error
            self.builder.note(f"{name} step {step.get('step_number')} failed: {message_text}")
            observation = f"{observation}\nerror: {text_of(message_text)}".strip()
        if not observation:
            return bool(error)
        tool = "python_interpreter" if step.get("code_action") else None
        tool = tool or (calls[0].name if calls else "observation")
        call_id = calls[0].id if calls else None
        managed = _MANAGED_ANSWER.match(observation)
        if managed and managed.group(1) not in self.memories:
            agent = managed.group(1)
            self.builder.note(
                f"managed agent {agent}'s own steps are not in the file; its final answer "
                "(the manager's observation) is its step"
            )
            self.event(end, agent, StepKind.AGENT, observation, source_id=call_id or source_id)
        else:
            self.event(end, tool, StepKind.TOOL, observation, source_id=call_id or source_id)
        return bool(error)


def _single_agent_name(steps: list[Any]) -> str:
    for step in steps:
        if isinstance(step, dict) and isinstance(step.get("task"), str):
            found = _MANAGED_TASK.search(step["task"])
            if found:
                return found.group(1)
    return _UNNAMED


@register_format(
    FORMAT,
    summary="smolagents memory (agent.memory.get_full_steps(), or managed agents by name)",
    priority=44,
)
class SmolagentsFormat:
    def detect(self, probe: Probe) -> bool:
        first = probe.first()
        if probe.shape == "object":
            return _is_named_memories(first)
        return _is_step(first)

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        if (error := no_records(probe)) is not None:
            yield error
            return
        builder = TrajectoryBuilder(id=probe.path.stem, format=FORMAT, path=probe.path)
        if probe.shape == "object":
            memories = probe.records()[0][1]
            if not _is_named_memories(memories) or not all(
                isinstance(v, list) for v in memories.values()
            ):
                yield TraceFormatError(
                    "not a smolagents memory: expected {agent name: steps list}", path=probe.path
                )
                return
        else:
            steps = [obj for _, obj in probe.records()]
            name = _single_agent_name(steps)
            memories = {name: steps}
            how = " (named in its task text)" if name != _UNNAMED else ""
            builder.note(
                "a get_full_steps() dump does not name its agent; its steps are attributed "
                f"to {name!r}{how}"
            )
        _Reader(builder, memories).read()
        yield finish(builder)

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "step_number" in first:
            return "the step has no 'observations', 'model_output' or 'tool_calls'"
        return None
