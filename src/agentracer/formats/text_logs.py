"""Plain-text logs of multi-agent frameworks, read into trajectories where their turns are
delimited well enough to tell who said what (the MAD traces hold one of each):

- **MetaGPT communication log** (plain text, `=== MetaGPT Agent Communication Log ...`): blocks
  between lines of dashes; `[time] FROM: Human TO: ...` with `CONTENT:` is the task (a user
  step), `[time] NEW MESSAGES:` then `Role: text` is a step of that role.
- **AppWorld log** (plain text, `**** Task i/n (id) ****` then the task): headers at the
  start of a line or indented four spaces delimit the turns. `Response from X Agent` is a step
  of agent `X` (the Supervisor, or an app's agent inside its message loop); `Code Execution
  Output`, `Message to X Agent` (what the environment hands back) and `Response from NAME API`
  are tool steps; the closing `Evaluation` JSON's `failures` make the outcome a failure.
- **OpenManus log** (plain text, loguru lines `time | LEVEL | module:function:line - text`):
  `Plan creation result:` is a step of the planning flow (`planning`), `✨ Name's thoughts:` a
  step of that agent (the `🔧 Tool arguments:` that follow are its tool calls), and `🎯 Tool
  'x' completed its mission! Result:` a tool step; continuation lines belong to the open one;
  other log lines (token usage, step counters) are counted in a note. The prompt is not in the
  log (OpenManus reads it from the terminal), so the task is empty.
- **AutoGen console** (plain text: AgentChat's `Console` prints `---------- Name ----------`
  before each message; the AutoGen testbed's Magentic-One runs): one step per message, `user`
  the task; lines before the first header (installation output) and the testbed's `... !#!#`
  markers are not steps.
- **ChatDev log** (plain text, `[date INFO] ...` lines): a message is `[date INFO] Role:
  **A<->B on : Phase, turn N**` followed by its text; the bracketed `[ChatDev is a software
  company ...]` role prompt that opens the text is context, not the agent's words, and is
  dropped; the task is `**task_prompt**`. Status lines (`System: **[chatting]**`, HTTP
  requests, seminar conclusions that repeat the last message) are not steps.

A text log of any other kind is refused by the registry, naming the framework it looks like
(`formats.sniff`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from agentracer.errors import TraceFormatError
from agentracer.formats.build import TrajectoryBuilder, tool_call
from agentracer.formats.chat import listing, mapping, step_content
from agentracer.formats.importer import finish
from agentracer.formats.registry import Parsed, Probe, register_format
from agentracer.trajectory import Outcome, StepKind

METAGPT_LOG = "metagpt-log"
APPWORLD_LOG = "appworld-log"
OPENMANUS_LOG = "openmanus-log"
AUTOGEN_CONSOLE = "autogen-console"
CHATDEV_LOG = "chatdev-log"

METAGPT_LOG_HEADER = "MetaGPT Agent Communication Log"
_RULE = re.compile(r"^-{20,}\s*$", re.MULTILINE)
_FROM = re.compile(r"^\[[^\]]*\] FROM: (?P<sender>\S+) TO: .*$", re.MULTILINE)
_NEW = re.compile(r"^\[[^\]]*\] NEW MESSAGES:\s*$", re.MULTILINE)
_SPEAKER = re.compile(r"^(?P<name>[A-Za-z][\w-]*):[ \t]?(?P<text>.*)$")


def is_metagpt_log(text: str) -> bool:
    return METAGPT_LOG_HEADER in text[:4096]


def read_metagpt_log(builder: TrajectoryBuilder, text: str) -> None:
    """One step per block: the human's requirement (a user step, the task) or a role's message."""
    for block in _RULE.split(text):
        sent = _FROM.search(block)
        if sent is not None:
            content = block.split("CONTENT:", 1)[1].strip() if "CONTENT:" in block else ""
            if sent.group("sender").lower() in ("human", "user"):
                builder.question = builder.question or content
                builder.add(agent="human", kind=StepKind.USER, content=content, role="user")
            else:
                builder.add(agent=sent.group("sender"), content=content)
            continue
        new = _NEW.search(block)
        if new is None:
            continue
        lines = block[new.end() :].strip().splitlines()
        speaker = _SPEAKER.match(lines[0]) if lines else None
        if speaker is None:
            builder.note("a MetaGPT message block without a `Role:` line was skipped")
            continue
        body = "\n".join([speaker.group("text"), *lines[1:]]).strip()
        builder.add(agent=speaker.group("name"), content=body)


_APPWORLD_TASK = re.compile(r"^\*{5,} Task \d+/\d+ \((?P<id>[^)]*)\)\s*\*{5,}\s*$")
_APPWORLD_HEADER = re.compile(
    r"^(?: {4})?(?:Response from (?P<agent>.+?) Agent|Message to (?P<to>.+?) Agent|"
    r"(?P<code>Code Execution Output)|Response from (?P<api>\S+) API|"
    r"(?P<loop>(?:Entering|Exiting) .+ message loop)|(?P<evaluation>Evaluation))\s*$"
)


def is_appworld_log(text: str) -> bool:
    head = text[:8192]
    task = any(_APPWORLD_TASK.match(line.strip()) for line in head.splitlines()[:10])
    return task and "Response from Supervisor Agent" in head


def read_appworld_log(builder: TrajectoryBuilder, text: str) -> None:
    """One step per turn header (see the module docstring), its indented text the content."""
    lines = text.splitlines()
    current: tuple[str, StepKind, str] | None = None
    body: list[str] = []

    def flush() -> None:
        if current is not None:
            agent, kind, speaker = current
            content = "\n".join(line.strip() for line in body).strip()
            role = (
                "assistant"
                if kind is StepKind.AGENT
                else "user"
                if kind is StepKind.USER
                else "tool"
            )
            builder.add(agent=agent, kind=kind, speaker=speaker, content=content, role=role)

    for number, line in enumerate(lines):
        task = _APPWORLD_TASK.match(line.strip())
        header = _APPWORLD_HEADER.match(line)
        if task is not None:
            flush()
            current, body = ("user", StepKind.USER, "task"), []
            builder.metadata["task_id"] = task.group("id")
            continue
        if header is None:
            body.append(line)
            continue
        flush()
        current, body = None, []
        if header.group("evaluation"):
            _appworld_outcome(builder, "\n".join(lines[number + 1 :]))
            break
        if header.group("loop"):
            continue
        speaker = line.strip()
        if header.group("agent"):
            current = (header.group("agent"), StepKind.AGENT, speaker)
        elif header.group("code"):
            current = ("python", StepKind.TOOL, speaker)
        elif header.group("api"):
            current = (header.group("api"), StepKind.TOOL, speaker)
        else:
            current = ("environment", StepKind.TOOL, speaker)
    flush()
    if builder.steps and builder.steps[0].kind is StepKind.USER:
        builder.question = builder.steps[0].content


def _appworld_outcome(builder: TrajectoryBuilder, text: str) -> None:
    try:
        evaluation = json.loads(text)
    except ValueError:
        builder.note("the closing Evaluation of the AppWorld log is not JSON; outcome unknown")
        return
    failures = listing(mapping(evaluation).get("failures"))
    builder.outcome = Outcome.FAILURE if failures else Outcome.SUCCESS
    builder.metadata["appworld_failures"] = len(failures)


_LOGURU = re.compile(
    r"^.*?\d{4}-\d\d-\d\d [\d:.]+ \| (?P<level>\w+)\s*\| (?P<where>\S+) - (?P<text>.*)$"
)
_THOUGHTS = re.compile(r"^✨ (?P<agent>.+?)'s thoughts:\s?(?P<text>.*)$")
_TOOL_ARGS = re.compile(r"^🔧 Tool arguments:\s?(?P<args>.*)$")
_TOOLS = re.compile(r"^🧰 Tools being prepared:\s?(?P<tools>.*)$")
_TOOL_DONE = re.compile(
    r"^🎯 Tool '(?P<tool>[^']+)' completed its mission! Result:\s?(?P<text>.*)$"
)


def is_openmanus_log(text: str) -> bool:
    return "app.agent.toolcall:" in text[:65536] or "app.flow.planning:" in text[:65536]


def read_openmanus_log(builder: TrajectoryBuilder, text: str) -> None:
    """One step per plan, thought or tool result (see the module docstring)."""
    current: dict[str, Any] | None = None
    skipped = 0

    def flush() -> None:
        if current is None:
            return
        calls = [tool_call(None, name, args) for name, args in current["calls"]]
        body = "\n".join(current["lines"]).strip()
        builder.add(
            agent=current["agent"],
            kind=current["kind"],
            content=step_content(body, calls) if calls else body,
            role="tool" if current["kind"] is StepKind.TOOL else "assistant",
            tool_calls=calls,
        )

    for line in text.splitlines():
        logged = _LOGURU.match(line)
        if logged is None:
            if current is not None and current["open"]:
                current["lines"].append(line)
            continue
        message = logged.group("text")
        thoughts, done = _THOUGHTS.match(message), _TOOL_DONE.match(message)
        tools, arguments = _TOOLS.match(message), _TOOL_ARGS.match(message)
        if thoughts or done or message.startswith("Plan creation result:"):
            flush()
            if thoughts:
                agent, kind, first = thoughts.group("agent"), StepKind.AGENT, thoughts.group("text")
            elif done:
                agent, kind, first = done.group("tool"), StepKind.TOOL, done.group("text")
            else:
                agent, kind, first = "planning", StepKind.AGENT, message
            current = {"agent": agent, "kind": kind, "lines": [first], "calls": [], "tools": []}
            current["open"] = True  # continuation lines are its text until the next log line
            continue
        if current is not None and current["kind"] is StepKind.TOOL:
            flush()  # a tool result ends at the next log line
            current = None
        elif current is not None:
            current["open"] = False
            if tools:
                current["tools"] = re.findall(r"'([^']+)'", tools.group("tools"))
                continue
            if arguments:
                names = current["tools"] or ["tool"]
                name = names[min(len(current["calls"]), len(names) - 1)]
                current["calls"].append((name, arguments.group("args")))
                continue
        skipped += 1
    flush()
    if skipped:
        builder.note(
            f"{skipped} OpenManus log lines that are no step (token usage, counters) were skipped"
        )
    builder.note("OpenManus does not log the prompt it was given: the task is unknown")


_CONSOLE_HEADER = re.compile(r"^-{10} (?P<name>\S.*?) -{10}\s*$", re.MULTILINE)


def is_autogen_console(text: str) -> bool:
    return len(_CONSOLE_HEADER.findall(text[:262144], 0)) >= 2


def read_autogen_console(builder: TrajectoryBuilder, text: str) -> None:
    """One step per `---------- Name ----------` message; `user` is the task."""
    headers = list(_CONSOLE_HEADER.finditer(text))
    for number, header in enumerate(headers):
        end = headers[number + 1].start() if number + 1 < len(headers) else len(text)
        lines = [
            line for line in text[header.end() : end].splitlines() if not line.endswith("!#!#")
        ]
        content = "\n".join(lines).strip()
        name = header.group("name")
        if name.lower() in ("user", "human"):
            builder.question = builder.question or content
            builder.add(agent=name, kind=StepKind.USER, content=content, role="user")
        else:
            builder.add(agent=name, content=content, role="assistant")


_CHATDEV_LINE = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:]+ \w+\] (?P<rest>.*)$")
_CHATDEV_MESSAGE = re.compile(
    r"^(?P<role>[^:*\[]+): \*\*[^*]*<->[^*]* on : (?P<phase>[^,*]+), turn \d+\*\*\s*$"
)
_CHATDEV_TASK = re.compile(
    r"^\*\*task_prompt\*\*: (?P<task>.*?)(?:\n\s*\n\*\*|\n\[\d{4}-|\Z)", re.MULTILINE | re.DOTALL
)


def is_chatdev_log(text: str) -> bool:
    return "**ChatDev Starts**" in text[:65536]


def _without_role_prompt(lines: list[str]) -> list[str]:
    """The message's lines without the bracketed role prompt ChatDev prints first."""
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None or not lines[start].lstrip().startswith("[ChatDev"):
        return lines
    for end in range(start, len(lines)):
        if lines[end].rstrip().endswith("]"):
            return lines[end + 1 :]
    return lines


def read_chatdev_log(builder: TrajectoryBuilder, text: str) -> None:
    """One step per role message (see the module docstring)."""
    task = _CHATDEV_TASK.search(text)
    if task is not None:
        builder.question = task.group("task").strip()
        builder.add(agent="user", kind=StepKind.USER, content=builder.question, role="user")
    current: tuple[str, str] | None = None
    body: list[str] = []

    def flush() -> None:
        if current is not None:
            content = "\n".join(_without_role_prompt(body)).strip()
            builder.add(agent=current[0], speaker=current[1], content=content, role="assistant")

    for line in text.splitlines():
        logged = _CHATDEV_LINE.match(line)
        if logged is None:
            if current is not None:
                body.append(line)
            continue
        if "did not start for online log" in line:
            continue  # ChatDev's visualiser notice, printed between every two lines
        flush()
        current, body = None, []
        message = _CHATDEV_MESSAGE.match(logged.group("rest"))
        if message is not None:
            role = message.group("role").strip()
            current = (role, f"{role} ({message.group('phase').strip()})")
    flush()


Reader = Callable[[TrajectoryBuilder, str], None]
TEXT_LOGS: tuple[tuple[str, Callable[[str], bool], Reader], ...] = (
    ("MetaGPT", is_metagpt_log, read_metagpt_log),
    ("AppWorld", is_appworld_log, read_appworld_log),
    ("OpenManus", is_openmanus_log, read_openmanus_log),
    ("AutoGen console", is_autogen_console, read_autogen_console),
    ("ChatDev", is_chatdev_log, read_chatdev_log),
)


def text_log_reader(text: str) -> tuple[str, Reader] | None:
    """(framework, reader) for a plain-text log we can read, else None."""
    for framework, looks, read in TEXT_LOGS:
        if looks(text):
            return framework, read
    return None


class _TextLogFormat:
    """A plain-text log format: `looks` tells it from the head of the file, `read` parses it."""

    framework: str

    def detect(self, probe: Probe) -> bool:
        if probe.is_json or not probe.path.is_file():
            return False
        try:
            with probe.path.open(encoding="utf-8", errors="replace") as handle:
                head = handle.read(262144)
        except OSError:
            return False
        found = text_log_reader(head)
        return found is not None and found[0] == self.framework

    def parse(self, probe: Probe) -> Iterator[Parsed]:
        text = probe.path.read_text(encoding="utf-8", errors="replace")
        found = text_log_reader(text)
        format_name = {
            "MetaGPT": METAGPT_LOG,
            "AppWorld": APPWORLD_LOG,
            "OpenManus": OPENMANUS_LOG,
            "AutoGen console": AUTOGEN_CONSOLE,
            "ChatDev": CHATDEV_LOG,
        }[self.framework]
        builder = TrajectoryBuilder(id=probe.path.stem, format=format_name, path=probe.path)
        builder.metadata["framework"] = self.framework
        if found is None:
            yield TraceFormatError(f"not a {self.framework} log", path=probe.path)
            return
        found[1](builder, text)
        yield finish(builder)

    def near_miss(self, probe: Probe) -> str | None:
        return None


@register_format(
    METAGPT_LOG,
    summary="MetaGPT communication logs (plain text: `FROM: Human` requirement, then "
    "`NEW MESSAGES:` blocks of `Role: text`)",
    priority=33,
    reads_text=True,
)
class MetaGptLogFormat(_TextLogFormat):
    framework = "MetaGPT"


@register_format(
    APPWORLD_LOG,
    summary="AppWorld supervisor logs (plain text: `Response from X Agent`, `Code Execution "
    "Output`, the closing Evaluation)",
    priority=34,
    reads_text=True,
)
class AppWorldLogFormat(_TextLogFormat):
    framework = "AppWorld"


@register_format(
    OPENMANUS_LOG,
    summary="OpenManus logs (plain text: the plan, `✨ Manus's thoughts`, tool calls and results)",
    priority=35,
    reads_text=True,
)
class OpenManusLogFormat(_TextLogFormat):
    framework = "OpenManus"


@register_format(
    AUTOGEN_CONSOLE,
    summary="AutoGen AgentChat console output (plain text: `---------- Name ----------` before "
    "each message; the AutoGen testbed's Magentic-One runs)",
    priority=36,
    reads_text=True,
)
class AutoGenConsoleFormat(_TextLogFormat):
    framework = "AutoGen console"


@register_format(
    CHATDEV_LOG,
    summary="ChatDev logs (plain text: `Role: **A<->B on : Phase, turn N**` messages; the "
    "task from `**task_prompt**`)",
    priority=37,
    reads_text=True,
)
class ChatDevLogFormat(_TextLogFormat):
    framework = "ChatDev"
