"""tau-bench result records: `{task_id, reward, info, traj, trial, ...}`, as `run.py` of
sierra-research/tau-bench writes them (a JSON list of records, one per task and trial).

- `traj` is the chat the agent had: OpenAI messages `system` (the domain policy), `user` (the
  *simulated* user, a model playing the customer), `assistant` (the agent, with `tool_calls`)
  and `tool` (a tool's result, `name` the tool). The system message is the run's context, not
  a step; the simulated user's turns are user steps, so nobody can blame them (a label that
  does is flagged, see `who_and_when.label_flags`).
- The task is `info.task.instruction` (what the simulated user was told to want); the
  expected actions and outputs (`info.task.actions`, `outputs`) are the ground truth.
- `reward` 1 is a success, anything lower a failure (tau-bench's reward is 0 or 1).
- A step's source id is its message's `index` when the record numbers its messages (AgentRx's
  copies do, from 1, the system message included), else its position in `traj`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.ag2 import read_chat
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import listing, mapping
from agentracer.formats.native import record_location
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.trajectory import Outcome, Trajectory

FORMAT = "tau-bench"
ASSISTANT = "assistant"
"""The agent's name: tau-bench has one agent, logged under the chat role `assistant`."""


def is_result(obj: object) -> bool:
    """A tau-bench result record: a `traj` message list beside `reward` and the task's `info`."""
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("traj"), list)
        and "reward" in obj
        and ("info" in obj or "task_id" in obj)
    )


def _named(message: Any) -> Any:
    """The message with its chat role as its speaker's name, so the chat reader files user
    and assistant turns without guessing (a tool message already names its tool)."""
    if isinstance(message, dict) and message.get("role") in ("user", ASSISTANT):
        return {**message, "name": message.get("name") or message["role"]}
    return message


def expected_actions(info: dict[str, Any]) -> str | None:
    """The task's expected actions and outputs as text, or None when `info` holds none."""
    task = mapping(info.get("task"))
    actions = [
        f"{a.get('name')}({json.dumps(a.get('kwargs', {}), ensure_ascii=False)})"
        for a in listing(task.get("actions"))
        if isinstance(a, dict)
    ]
    outputs = [str(o) for o in listing(task.get("outputs"))]
    parts = []
    if actions:
        parts.append("expected actions: " + "; ".join(actions))
    if outputs:
        parts.append("expected outputs: " + "; ".join(outputs))
    return "\n".join(parts) or None


def outcome_of(reward: Any) -> Outcome:
    if isinstance(reward, bool) or not isinstance(reward, int | float):
        return Outcome.UNKNOWN
    return Outcome.SUCCESS if reward >= 1 else Outcome.FAILURE


def parse_result(
    record: object, *, trajectory_id: str, path: Any = None, record_key: str | None = None
) -> Trajectory:
    """One tau-bench result record as a trajectory (no label: tau-bench gives none)."""
    if not is_result(record):
        raise TraceFormatError(
            "not a tau-bench result: no 'traj' list beside 'reward'",
            path=f"{path}#{record_key}" if path and record_key else path,
        )
    assert isinstance(record, dict)
    info = mapping(record.get("info"))
    builder = TrajectoryBuilder(
        id=trajectory_id,
        format=FORMAT,
        path=path,
        record=record_key,
        outcome=outcome_of(record.get("reward")),
        metadata={key: record[key] for key in ("task_id", "trial", "reward") if key in record},
    )
    messages = record["traj"]
    read_chat(builder, [_named(m) for m in messages])
    # One step per message but the system one: point each step back at its message, by the
    # message's own `index` when it has one (the annotations count by it), else its position.
    kept = [
        (position, message)
        for position, message in enumerate(messages)
        if not (isinstance(message, dict) and message.get("role") == "system")
    ]
    if len(kept) == len(builder.steps):
        for step, (position, message) in zip(builder.steps, kept, strict=True):
            index = message.get("index") if isinstance(message, dict) else None
            own = isinstance(index, int) and not isinstance(index, bool)
            step.source_id = str(index if own else position)
    task = mapping(info.get("task"))
    instruction = task.get("instruction")
    if isinstance(instruction, str) and instruction.strip():
        builder.question = instruction
    builder.ground_truth = expected_actions(info)
    return builder.build()


def record_id(record: dict[str, Any], fallback: str) -> str:
    """`task<id>`, with `-trial<n>` when the record says its trial (tau-bench runs each task
    several times)."""
    task_id = record.get("task_id")
    if task_id is None:
        return fallback
    trial = record.get("trial")
    return f"task{task_id}" + ("" if trial is None else f"-trial{trial}")


@register_format(
    FORMAT,
    summary="tau-bench results ({task_id, reward, info, traj}: one assistant, a simulated "
    "user, tools; reward 0 is a failure)",
    priority=25,
)
class TauBenchFormat:
    def detect(self, probe: Probe) -> bool:
        return is_result(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        for key, record in probe.iter_records():
            fallback = probe.path.stem if not key else f"{probe.path.stem}-{key}"
            try:
                yield parse_result(
                    record,
                    trajectory_id=record_id(record, fallback)
                    if isinstance(record, dict)
                    else fallback,
                    path=probe.path,
                    record_key=key or None,
                )
            except TraceFormatError as error:
                yield error
            except (TypeError, ValueError) as error:
                yield TraceFormatError(str(error), path=record_location(probe, key))

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "traj" in first and "reward" in first:
            return f"its 'traj' is a JSON {type(first['traj']).__name__}, not a message list"
        return None
