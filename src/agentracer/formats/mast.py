"""The MAD traces (Cemri et al. 2025, "Why do multi-agent LLM systems fail?"): what can be read
is read, the rest is refused with the framework named.

- **MAST trace wrapper** `{instance_id, problem_statement, other_data, trajectory, note}`
  (MAD's AG2 and HyperAgent traces). The task is `problem_statement` (a list of lines).
  - AG2: `trajectory` is a chat list of `{content: [lines], role, name}`, read as AG2 chats
    (the speaker is `name`; the math proxy agent is an agent).
  - HyperAgent: `trajectory` is the log's lines. A step starts at `HyperAgent_<id> - INFO -
    <Agent>'s Response: ...` (the agent; `Inner-Navigator-Assistant` is `Navigator`) or at a
    hand-back `<Agent>->Planner: ...`; the lines up to the next start are its text; other
    `INFO` lines (initialisation) are counted in a note.
  - Any other `trajectory` is refused, naming the framework its text looks like.
  `note` (the MAST annotators' free text and their failure-mode yes/no options) goes to
  `metadata`: MAD labels failure modes, never an agent or a step.
- **MetaGPT run** `{run_id, prompt, content, ...}`: `content` is MetaGPT's log; a step starts
  at `... - Name(Role): to do Action(...)` (the agent is the role, e.g. `SimpleCoder`) and
  holds the lines up to the next.
- **MAD records** `{mas_name, benchmark_name, trace_id, trace, annotations}`
  (`MAD_human_labelled_dataset.json`): `trace` is the raw trace file as text, read as above
  when it is one of those JSON shapes; a text log is refused, naming `mas_name`. The failure
  modes two of the three annotators marked go to `metadata["mast_failure_modes"]`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.ag2 import read_chat
from agentracer.formats.build import TrajectoryBuilder
from agentracer.formats.chat import listing, mapping, text_of
from agentracer.formats.importer import finish
from agentracer.formats.native import record_location
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.formats.sniff import framework_of, plain_log_message
from agentracer.trajectory import Outcome

WRAPPER = "mast-trace"
METAGPT = "metagpt-run"
MAD = "mad"

_HYPERAGENT_LINE = re.compile(r"^HyperAgent_\S+ - INFO - (?P<rest>.*)$")
_HYPERAGENT_STEP = re.compile(r"^(?P<agent>[\w-]+)'s Response:\s?(?P<text>.*)$")
_HYPERAGENT_HANDBACK = re.compile(r"^(?P<agent>[\w-]+)->(?P<to>[\w-]+):\s?(?P<text>.*)$")
_METAGPT_STEP = re.compile(
    r"^\d{4}-\d\d-\d\d [\d:.]+ \| \w+\s*\| \S+ - (?P<name>[^()\s]+)\((?P<role>[^()]+)\): "
    r"to do (?P<action>.*)$"
)


def is_wrapper(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("trajectory"), list)
        and "instance_id" in obj
        and ("problem_statement" in obj or "note" in obj)
    )


def is_metagpt_run(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("content"), str)
        and "prompt" in obj
        and ("run_id" in obj or "log_file" in obj)
    )


def is_mad_record(obj: object) -> bool:
    return (
        isinstance(obj, dict)
        and isinstance(obj.get("trace"), str)
        and "mas_name" in obj
        and isinstance(obj.get("annotations"), list)
    )


def _lines(value: Any) -> str:
    """A list of lines (MAD stores text so) or a string, as one text."""
    if isinstance(value, list):
        return "\n".join(str(line) for line in value)
    return text_of(value)


def _agent_name(raw: str) -> str:
    """HyperAgent's `Inner-Navigator-Assistant` is its `Navigator`."""
    return raw.removeprefix("Inner-").removesuffix("-Assistant")


def read_hyperagent(builder: TrajectoryBuilder, lines: list[Any]) -> None:
    """One step per response or hand-back, its text up to the next one."""
    current: tuple[str, str] | None = None
    body: list[str] = []
    other: Counter[str] = Counter()

    def flush() -> None:
        if current is not None:
            builder.add(
                agent=_agent_name(current[0]), speaker=current[1], content="\n".join(body).strip()
            )

    for line in map(str, lines):
        logged = _HYPERAGENT_LINE.match(line)
        if logged is None:
            if current is not None:
                body.append(line)
            continue
        rest = logged.group("rest")
        step = _HYPERAGENT_STEP.match(rest) or _HYPERAGENT_HANDBACK.match(rest)
        if step is None:
            other[rest.split(" ")[0]] += 1
            continue
        flush()
        speaker = rest.split(":", 1)[0].removesuffix("'s Response")
        current, body = (step.group("agent"), speaker), [step.group("text")]
    flush()
    if other:
        builder.note(
            f"{sum(other.values())} HyperAgent log lines that are no agent's turn were skipped"
        )


def read_metagpt(builder: TrajectoryBuilder, content: str) -> None:
    """One step per `Name(Role): to do Action` line, its text up to the next one."""
    current: re.Match[str] | None = None
    body: list[str] = []

    def flush() -> None:
        if current is not None:
            text = "\n".join(body).strip()
            action = current.group("action")
            builder.add(
                agent=current.group("role"),
                speaker=f"{current.group('name')}({current.group('role')})",
                content=f"[{action}]\n{text}".strip(),
            )

    for line in content.splitlines():
        header = _METAGPT_STEP.match(line)
        if header is None:
            if current is not None:
                body.append(line)
            continue
        flush()
        current, body = header, []
    flush()


def wrapper_run(record: dict[str, Any], builder: TrajectoryBuilder) -> TrajectoryBuilder:
    """Fill `builder` from a MAST trace wrapper; a trajectory no reader knows raises."""
    trajectory = record["trajectory"]
    builder.question = _lines(record.get("problem_statement"))
    note = mapping(record.get("note"))
    builder.metadata.update(
        {
            "instance_id": record.get("instance_id"),
            "mast_note": _lines(note.get("text")),
            "mast_failure_modes": [
                k for k, v in mapping(note.get("options")).items() if v == "yes"
            ],
        }
    )
    correct = mapping(record.get("other_data")).get("correct")
    if isinstance(correct, bool):
        builder.outcome = Outcome.SUCCESS if correct else Outcome.FAILURE
    if trajectory and all(isinstance(m, dict) for m in trajectory):
        question = builder.question
        read_chat(builder, [{**m, "content": _lines(m.get("content"))} for m in trajectory])
        builder.question = question or builder.question
        builder.metadata["framework"] = "AG2"
        return builder
    if any(isinstance(line, str) and _HYPERAGENT_LINE.match(line) for line in trajectory[:50]):
        read_hyperagent(builder, trajectory)
        builder.metadata["framework"] = "HyperAgent"
        return builder
    framework = framework_of(_lines(trajectory[:200])) or "an unknown framework"
    raise TraceFormatError(f"a MAST trace whose trajectory {plain_log_message(framework)[3:]}")


def metagpt_run(record: dict[str, Any], builder: TrajectoryBuilder) -> TrajectoryBuilder:
    builder.question = text_of(record.get("prompt"))
    builder.metadata.update({"run_id": record.get("run_id"), "framework": "MetaGPT"})
    read_metagpt(builder, record["content"])
    return builder


def _documents(probe: Probe, format: str) -> Iterator[Parsed]:
    """Every record of the file read by `read_document`, named after the file."""
    records = probe.records()
    for key, record in records:
        run_id = probe.path.stem if len(records) == 1 else f"{probe.path.stem}-{key}"
        builder = TrajectoryBuilder(id=run_id, format=format, path=probe.path, record=key or None)
        yield read_document(record, builder)


def read_document(obj: Any, builder: TrajectoryBuilder) -> Parsed:
    """A wrapper or MetaGPT run already decoded, into a trajectory or its refusal."""
    where = f"{builder.path}#{builder.record}" if builder.record else builder.path
    try:
        if is_wrapper(obj):
            return finish(wrapper_run(obj, builder))
        if is_metagpt_run(obj):
            return finish(metagpt_run(obj, builder))
    except TraceFormatError as error:
        return TraceFormatError(error.message, path=where)
    return TraceFormatError("not a MAST trace wrapper or a MetaGPT run", path=where)


_MODE_CODE = re.compile(r"^\s*(\d+\.\d+)\s+(.*)$")


def failure_modes(annotations: list[Any], votes: int = 2) -> list[str]:
    """The MAST failure modes (`1.1 Poor task constraint compliance`) that at least `votes`
    annotators marked."""
    modes = []
    for item in annotations:
        if not isinstance(item, dict):
            continue
        marked = sum(v is True for k, v in item.items() if k.startswith("annotator"))
        title = str(item.get("failure mode") or "").split("\n", 1)[0].strip()
        if marked >= votes and title:
            modes.append(title)
    return modes


def mad_record(record: dict[str, Any], path: Path | str, key: str) -> Parsed:
    """One MAD record: its trace read when it is a JSON shape we know, else refused by name."""
    name = str(record.get("mas_name") or "?")
    run_id = f"mast/{record.get('trace_id', key)}-{name}"
    where = f"{path}#{key}" if key else str(path)
    try:
        document = json.loads(record["trace"])
    except ValueError:
        document = None
    if document is None:
        looks = framework_of(record["trace"][:262144]) or name
        return TraceFormatError(
            f"trace {record.get('trace_id')} ({name}, {record.get('benchmark_name')}) "
            f"{plain_log_message(looks)}",
            path=where,
        )
    builder = TrajectoryBuilder(id=run_id, format=MAD, path=path, record=key or None)
    parsed = read_document(document, builder)
    if isinstance(parsed, TraceFormatError):
        return TraceFormatError(
            f"trace {record.get('trace_id')} ({name}): {parsed.message}", path=where
        )
    parsed.metadata.update(
        {
            "mas_name": name,
            "benchmark_name": record.get("benchmark_name"),
            "round": record.get("round"),
            "mast_failure_modes": failure_modes(listing(record.get("annotations"))),
        }
    )
    return parsed


@register_format(
    WRAPPER,
    summary="MAD/MAST trace wrappers ({instance_id, problem_statement, trajectory, note}): "
    "AG2 chats and HyperAgent logs",
    priority=30,
)
class MastTraceFormat:
    def detect(self, probe: Probe) -> bool:
        return is_wrapper(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        yield from _documents(probe, WRAPPER)

    def near_miss(self, probe: Probe) -> str | None:
        first = probe.first()
        if isinstance(first, dict) and "instance_id" in first and "trajectory" in first:
            return "its 'trajectory' is not a list"
        return None


@register_format(
    METAGPT,
    summary="MetaGPT runs ({run_id, prompt, content}: the log of `Name(Role): to do Action` turns)",
    priority=31,
)
class MetaGptRunFormat:
    def detect(self, probe: Probe) -> bool:
        return is_metagpt_run(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        yield from _documents(probe, METAGPT)

    def near_miss(self, probe: Probe) -> str | None:
        return None


@register_format(
    MAD,
    summary="MAD human-labelled records ({mas_name, trace, annotations}: MAST failure modes, "
    "no agent or step); text-log traces are refused by framework",
    priority=32,
)
class MadFormat:
    def detect(self, probe: Probe) -> bool:
        return is_mad_record(probe.first())

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        for key, record in probe.records():
            if not is_mad_record(record):
                yield TraceFormatError("not a MAD record", path=record_location(probe, key))
                continue
            yield mad_record(record, probe.path, key)

    def near_miss(self, probe: Probe) -> str | None:
        return None
