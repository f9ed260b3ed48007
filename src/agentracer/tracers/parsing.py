"""Reading verdicts out of model text, and the grammars that make small models answer in form.

Parsers are lenient about presentation (markdown, bold, quotes, `Step 12`, spaced or hyphenated
agent names) and strict about meaning: an agent is accepted only when it names one of the
trajectory's own agents, a step only when it lies inside the log. What cannot be read stays
unread (None); it is never replaced by a guess.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field

from agentracer.naming import normalise_agent
from agentracer.trajectory import ParseStatus, Trajectory

_DECOR = "*_`\"'\u201c\u201d\u2018\u2019[]()<>"
_AGENT_FIELD = re.compile(r"agent(?:\s*name)?\s*\**\s*[:\uff1a=-]\s*(.+)", re.I)
_STEP_NUMBER_FIELD = re.compile(r"step\s*number\s*\**\s*[:\uff1a=#-]?\s*\**\s*(\d+)", re.I)
_STEP_FIELD = re.compile(r"step(?:\s*(?:index|id))?\s*\**\s*[:\uff1a=#-]?\s*\**\s*(\d+)", re.I)
_REASON_FIELD = re.compile(
    r"reason(?:\s*for\s*(?:the\s*)?mistake)?\s*\**\s*[:\uff1a]\s*(.+)", re.I | re.S
)
_THINK_ANSWER = re.compile(
    r"\s*<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*", re.S
)
_ANSWER = re.compile(r"<answer>(?P<answer>.*?)</answer>", re.S)
_AGENT_BAR_STEP = re.compile(r"^\s*(?P<agent>[^|]+?)\s*\|\s*(?:step\s*)?(?P<step>\d+)\s*$", re.I)


@dataclass
class Parsed:
    """What could be read from one answer."""

    agent: str | None = None
    step: int | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> ParseStatus:
        found = (self.agent is not None) + (self.step is not None)
        return ("unparsed", "partial", "parsed")[found]


def _strip(text: str) -> str:
    return text.strip().strip(_DECOR).strip()


def match_agent(text: str, trajectory: Trajectory) -> str | None:
    """The trajectory's agent that `text` names: an exact match after normalisation, else the
    longest agent name contained in it (so `the WebSurfer agent` is WebSurfer)."""
    key = normalise_agent(_strip(text))
    if not key:
        return None
    exact = trajectory.match_agent(key)
    if exact is not None:
        return exact
    contained = [a for a in trajectory.agents if normalise_agent(a) and normalise_agent(a) in key]
    return max(contained, key=lambda a: len(normalise_agent(a))) if contained else None


def check_step(value: str | int | None, trajectory: Trajectory, parsed: Parsed) -> int | None:
    """An integer step inside the log, or None with a note saying why not."""
    if value is None:
        return None
    if isinstance(value, str) and len(value.strip().lstrip("0")) > 12:  # int() refuses 4,300+
        digits = value.strip()
        parsed.notes.append(
            f"answered step {digits[:12]}… ({len(digits)} digits), outside the log "
            f"(0..{len(trajectory.steps) - 1})"
        )
        return None
    step = int(value)
    if 0 <= step < len(trajectory.steps):
        return step
    parsed.notes.append(f"answered step {step}, outside the log (0..{len(trajectory.steps) - 1})")
    return None


def parse_fields(text: str, trajectory: Trajectory) -> Parsed:
    """Read `Agent Name: …`, `Step Number: …` and `Reason for Mistake: …` from free text."""
    parsed = Parsed()
    if agent_match := _AGENT_FIELD.search(text):
        raw = agent_match.group(1).splitlines()[0]
        parsed.agent = match_agent(raw, trajectory)
        if parsed.agent is None:
            parsed.notes.append(f"answered agent {_strip(raw)[:80]!r}, not an agent of this run")
    if step_match := _STEP_NUMBER_FIELD.search(text) or _STEP_FIELD.search(text):
        parsed.step = check_step(step_match.group(1), trajectory, parsed)
    if reason_match := _REASON_FIELD.search(text):
        parsed.reason = reason_match.group(1).strip().lstrip("*").strip()
    return parsed


def strict_think_answer(text: str) -> tuple[str, str] | None:
    """(reasoning, answer) when `text` is exactly `<think>…</think><answer>…</answer>` (blank
    space around the tags allowed, nothing else after), else None. The training reward's
    format gate uses this."""
    match = _THINK_ANSWER.fullmatch(text)
    if match is None or not match.group("think").strip():
        return None
    return match.group("think").strip(), match.group("answer").strip()


def parse_think_answer(text: str, trajectory: Trajectory) -> Parsed:
    """Read an AgenTracer answer, `<answer>agent | step</answer>`; the reasoning is the reason."""
    parsed = Parsed()
    strict = strict_think_answer(text)
    if strict is None:
        parsed.notes.append("output is not in the <think>…</think><answer>…</answer> format")
    found = _ANSWER.search(text)
    if found is None:
        return parsed
    if strict is not None:
        parsed.reason = strict[0]
    answer = _AGENT_BAR_STEP.match(found.group("answer"))
    if answer is None:
        parsed.notes.append("the answer is not `agent | step`")
        return parsed
    parsed.agent = match_agent(answer.group("agent"), trajectory)
    if parsed.agent is None:
        parsed.notes.append(f"answered agent {answer.group('agent')!r}, not an agent of this run")
    parsed.step = check_step(answer.group("step"), trajectory, parsed)
    return parsed


def parse_choice(text: str, choices: dict[str, str]) -> str | None:
    """The choice named first in `text`: `choices` maps each accepted word to its meaning."""
    pattern = re.compile(r"\b(" + "|".join(map(re.escape, choices)) + r")\b", re.I)
    found = pattern.search(text)
    return choices[found.group(1).lower()] if found else None


def gbnf_literal(text: str) -> str:
    """`text` as a GBNF string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def gbnf_alternatives(options: list[str]) -> str:
    return " | ".join(gbnf_literal(option) for option in options)


def steps_rule(trajectory: Trajectory) -> str:
    return gbnf_alternatives([str(i) for i in range(len(trajectory.steps))])


def agents_rule(trajectory: Trajectory) -> str:
    return gbnf_alternatives(trajectory.agents or [s.agent for s in trajectory.steps])


def agent_step_pairs(
    trajectory: Trajectory, separator: str, allowed: Collection[int] | None = None
) -> str:
    """GBNF alternatives that pick an agent first and then only a step that agent took:
    `"A" sep ("0" | "3") | "B" sep ("1" | ...)`, restricted to the steps in `allowed` when
    given. Falls back to any agent, any step when no blamable agent acted."""
    by_agent: dict[str, list[int]] = {}
    for step in trajectory.agent_steps():
        if allowed is None or step.index in allowed:
            by_agent.setdefault(step.agent, []).append(step.index)
    if not by_agent:
        return f"({agents_rule(trajectory)}) {gbnf_literal(separator)} ({steps_rule(trajectory)})"
    return " | ".join(
        f"{gbnf_literal(agent)} {gbnf_literal(separator)} "
        f"({gbnf_alternatives([str(i) for i in steps])})"
        for agent, steps in by_agent.items()
    )


def fields_grammar(
    trajectory: Trajectory, reason_chars: int = 300, allowed: Collection[int] | None = None
) -> str:
    """GBNF for the all-at-once answer: one of the run's agents, then one of *its* steps (so the
    verdict is consistent; only steps in `allowed` when given), then a reason."""
    return "\n".join(
        [
            'root ::= "Agent Name: " answer "\\nReason for Mistake: " reason',
            f"answer ::= {agent_step_pairs(trajectory, chr(10) + 'Step Number: ', allowed)}",
            f"reason ::= [^\\n]{{1,{reason_chars}}}",
        ]
    )


def think_answer_grammar(trajectory: Trajectory, think_chars: int = 1200) -> str:
    """GBNF for the AgenTracer answer: bounded reasoning, then `agent | step` where the step is
    one the agent took."""
    return "\n".join(
        [
            'root ::= "<think>" think "</think>\\n<answer>" answer "</answer>"',
            f"think ::= [^<]{{1,{think_chars}}}",
            f"answer ::= {agent_step_pairs(trajectory, ' | ')}",
        ]
    )


def choice_grammar(
    prefix: str, options: list[str], reason_label: str, reason_chars: int = 200
) -> str:
    """GBNF for `prefix<option>\\n<reason_label><reason>`."""
    return "\n".join(
        [
            f"root ::= {gbnf_literal(prefix)} choice {gbnf_literal(chr(10) + reason_label)} reason",
            f"choice ::= {gbnf_alternatives(options)}",
            f"reason ::= [^\\n]{{1,{reason_chars}}}",
        ]
    )
