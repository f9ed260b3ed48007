"""Programmed fault injection: perturb one agent step of a successful run, replay, and keep
the perturbation when the run now fails in a majority of replays. The label is that step.

Perturbations come from programmatic operators (each returns None when it does not apply to a
text) and, optionally, from an attacker model asked for one concrete, plausible bug.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from agentracer.formats import recording as rec
from agentracer.formats.recorded_run import call_index, to_trajectory
from agentracer.llm import ChatModel, ChatRequest, usage_of
from agentracer.replay.majority import majority_replay
from agentracer.replay.upstream import Upstream
from agentracer.replay.workspace import PrivateCwd
from agentracer.trajectory import Trajectory, Usage

Operator = Callable[[str, random.Random], str | None]

_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?!\w|\.\d)")
_COMPARISONS = {"<=": ">", ">=": "<", "==": "!=", "!=": "==", "<": ">=", ">": "<="}
_COMPARISON = re.compile(r"(<=|>=|==|!=|(?<![<>=!-])<(?![<=])|(?<![<>=-])>(?![>=]))")
_REQUIREMENT = re.compile(
    r"[^.\n]*\b(must|should|need to|required|ensure|always|never)\b[^.\n]*[.\n]?", re.I
)
_ENTITY = re.compile(r"\b[A-Z][a-z]{2,}\b")
_CODE_BLOCK = re.compile(r"```[\w+-]*\n(.*?)```", re.S)
# A perturbed run counts as failing when its check failed or the program crashed or hung.
FAILING = ("failure", "crashed", "timeout")
MIN_SUBSTANTIVE = 8  # skips empty turns and short acknowledgements such as "OK" or "Done."


def change_number(text: str, rng: random.Random) -> str | None:
    """One number in the text changed (off by one, or doubled)."""
    found = list(_NUMBER.finditer(text))
    if not found:
        return None
    match = rng.choice(found)
    value = match.group(1)
    new = (
        str(int(value) + rng.choice([1, -1, int(value) or 1]))
        if value.isdigit()
        else str(float(value) * 2)
    )
    return text[: match.start(1)] + new + text[match.end(1) :]


def negate_comparison(text: str, rng: random.Random) -> str | None:
    """One comparison operator flipped (`<` to `>=`, `==` to `!=`, ...)."""
    found = list(_COMPARISON.finditer(text))
    if not found:
        return None
    match = rng.choice(found)
    return text[: match.start()] + _COMPARISONS[match.group()] + text[match.end() :]


def drop_requirement(text: str, rng: random.Random) -> str | None:
    """One sentence that states a requirement (must, should, ensure, ...) removed."""
    found = [m for m in _REQUIREMENT.finditer(text) if m.group().strip()]
    if not found:
        return None
    match = rng.choice(found)
    rest = (text[: match.start()] + text[match.end() :]).strip()
    return rest or None


def swap_entity(text: str, rng: random.Random) -> str | None:
    """Two different capitalised names swapped everywhere."""
    names = sorted(set(_ENTITY.findall(text)))
    if len(names) < 2:
        return None
    a, b = rng.sample(names, 2)
    return re.sub(
        rf"\b({re.escape(a)}|{re.escape(b)})\b", lambda m: b if m.group() == a else a, text
    )


def truncate_code(text: str, rng: random.Random) -> str | None:
    """The second half of a code block cut off."""
    blocks = list(_CODE_BLOCK.finditer(text))
    if not blocks:
        return None
    match = rng.choice(blocks)
    lines = match.group(1).splitlines(keepends=True)
    if len(lines) < 2:
        return None
    kept = "".join(lines[: len(lines) // 2])
    return text[: match.start(1)] + kept + text[match.end(1) :]


def corrupt_tool_arguments(
    tool_calls: list[dict[str, Any]], rng: random.Random
) -> list[dict[str, Any]] | None:
    """One scalar argument of one tool call changed (a number off by one, a flag flipped, a
    string emptied); None when no call has a scalar JSON argument."""
    slots = []
    for i, call in enumerate(tool_calls):
        try:
            arguments = json.loads((call.get("function") or {}).get("arguments") or "{}")
        except json.JSONDecodeError:
            continue
        if isinstance(arguments, dict):
            slots += [
                (i, key, arguments)
                for key, value in arguments.items()
                if isinstance(value, str | int | float | bool)
            ]
    if not slots:
        return None
    i, key, arguments = rng.choice(slots)
    value = arguments[key]
    if isinstance(value, bool):
        changed: Any = not value
    elif isinstance(value, int | float):
        changed = value + 1
    else:
        changed = value[: len(value) // 2] if len(value) > 1 else value + "x"
    corrupted = [dict(call) for call in tool_calls]
    function = dict(corrupted[i]["function"])
    function["arguments"] = json.dumps({**arguments, key: changed})
    corrupted[i]["function"] = function
    return corrupted


TOOL_OPERATOR = "corrupt-tool-argument"

OPERATORS: dict[str, Operator] = {
    "change-number": change_number,
    "negate-comparison": negate_comparison,
    "drop-requirement": drop_requirement,
    "swap-entity": swap_entity,
    "truncate-code": truncate_code,
    TOOL_OPERATOR: lambda text, rng: None,  # works on a call's tool arguments, not on its text
}


@dataclass
class ModelAttacker:
    """Asks a model to plant one concrete, plausible bug in an agent's output."""

    model: ChatModel
    max_tokens: int = 400
    usage: Usage = field(default_factory=Usage)

    @property
    def name(self) -> str:
        return self.model.name

    async def perturb(self, trajectory: Trajectory, step: int) -> str | None:
        prompt = (
            f"Task: {trajectory.question}\n\nThis is the output of {trajectory.steps[step].speaker}, "
            f"one agent of a team:\n{trajectory.steps[step].content}\n\nRewrite it with exactly one "
            "concrete, plausible mistake that would make the team's final answer wrong (a wrong "
            "number, an inverted condition, a dropped requirement, a wrong return value). Keep "
            "everything else the same and do not mention the mistake. Reply with the rewritten "
            "output only."
        )
        messages = [{"role": "user", "content": prompt}]
        response = await self.model.chat(
            ChatRequest(messages=messages, max_tokens=self.max_tokens, temperature=0.0)
        )
        self.usage = self.usage + usage_of(response)
        text = response.text.strip()
        return text if text and text != trajectory.steps[step].content else None


class Injection(BaseModel):
    step: int
    call: int
    agent: str
    operator: str
    content: str
    tool_calls: list[dict[str, Any]] | None = None
    outcomes: list[str]
    agreement: float = Field(description="share of the replays that failed")
    kept: bool
    replay_dir: str | None = Field(default=None, description="a replay whose run failed")


class InjectionResult(BaseModel):
    injections: list[Injection] = Field(default_factory=list)
    replays: int = 0
    attacker_usage: Usage = Field(default_factory=Usage)

    def kept(self) -> list[Injection]:
        return [i for i in self.injections if i.kept]


def chosen_steps(trajectory: Trajectory, steps: int | None, seed: int) -> list[int]:
    """The substantive steps to perturb: all, or a seeded sample of `steps` in step order."""
    chosen = substantive_steps(trajectory)
    if steps is not None and steps < len(chosen):
        chosen = sorted(random.Random(seed).sample(chosen, steps))
    return chosen


def substantive_steps(trajectory: Trajectory) -> list[int]:
    """Agent steps with enough text to perturb meaningfully."""
    return [s.index for s in trajectory.agent_steps() if len(s.content.strip()) >= MIN_SUBSTANTIVE]


async def inject_faults(
    recording_dir: Path,
    upstream: Upstream,
    work_dir: Path,
    *,
    operators: list[str] | None = None,
    attacker: ModelAttacker | None = None,
    steps: int | None = None,
    k: int = 1,
    seed: int = 0,
    stop_at_first: bool = True,
) -> InjectionResult:
    """Perturb steps of a successful recording and keep the perturbations that make it fail.

    `steps` samples that many substantive steps (None: all of them, in order). Each step is
    tried with every applicable operator (and the attacker); with `stop_at_first` the search
    ends at the first kept injection.
    """
    source = rec.load(recording_dir)
    trajectory = to_trajectory(source, path=recording_dir)
    chosen = chosen_steps(trajectory, steps, seed)
    names = operators if operators is not None else list(OPERATORS)
    result = InjectionResult()
    calls = source.calls()
    for step in chosen:
        call = calls[call_index(trajectory, step)]
        original, tool_calls = call.content(), call.tool_calls() or None
        candidates = operator_candidates(step, original, tool_calls, names, seed)
        if (
            attacker is not None
            and (attacked := await attacker.perturb(trajectory, step)) is not None
        ):
            candidates.append((f"attacker:{attacker.name}", attacked, tool_calls))
        for name, content, new_calls in candidates:
            message = (content, new_calls)
            injection = try_injection(
                recording_dir, trajectory, step, name, message, upstream, work_dir, k, result
            )
            result.injections.append(injection)
            if injection.kept and stop_at_first:
                break
        if stop_at_first and result.kept():
            break
    if attacker is not None:
        result.attacker_usage = attacker.usage
    return result


Candidate = tuple[str, str, list[dict[str, Any]] | None]
"""(operator name, perturbed content, tool calls) for one step."""


def injection_plan(
    recording_dir: Path, *, operators: list[str] | None = None, steps: int | None = None,
    seed: int = 0,
) -> list[tuple[int, Candidate]]:  # fmt: skip
    """The operator perturbations `inject_faults` tries, in its order (no attacker)."""
    source = rec.load(recording_dir)
    trajectory = to_trajectory(source, path=recording_dir)
    chosen = chosen_steps(trajectory, steps, seed)
    names = operators if operators is not None else list(OPERATORS)
    calls = source.calls()
    plan = []
    for step in chosen:
        call = calls[call_index(trajectory, step)]
        original, tool_calls = call.content(), call.tool_calls() or None
        plan += [(step, c) for c in operator_candidates(step, original, tool_calls, names, seed)]
    return plan


def operator_candidates(
    step: int,
    original: str,
    tool_calls: list[dict[str, Any]] | None,
    names: list[str],
    seed: int,
) -> list[Candidate]:
    """Every applicable operator's perturbation of one step, in operator order."""
    candidates: list[Candidate] = []
    for name in names:
        rng_for = random.Random(f"{seed}:{step}:{name}")
        if name == TOOL_OPERATOR:
            corrupted = corrupt_tool_arguments(tool_calls, rng_for) if tool_calls else None
            if corrupted:
                candidates.append((name, original, corrupted))
            continue
        perturbed = OPERATORS[name](original, rng_for)
        if perturbed is not None and perturbed != original:
            candidates.append((name, perturbed, tool_calls))
    return candidates


def try_injection(
    recording_dir: Path,
    trajectory: Trajectory,
    step: int,
    operator: str,
    message: tuple[str, list[dict[str, Any]] | None],
    upstream: Upstream,
    work_dir: Path,
    k: int,
    result: InjectionResult,
    private_cwd: PrivateCwd | None = None,
) -> Injection:
    call = call_index(trajectory, step)
    content, tool_calls = message
    slug = operator.replace("/", "_").replace(":", "_")
    vote = majority_replay(
        recording_dir, call, content, upstream, k=k, tool_calls=tool_calls,
        out_prefix=work_dir / f"step{step}-{slug}",
        wanted=lambda replayed: replayed.outcome.status in FAILING, private_cwd=private_cwd,
    )  # fmt: skip
    result.replays += len(vote.replays)
    failing_dir = next((str(out) for out, r in vote.replays if r.outcome.status in FAILING), None)
    return Injection(
        step=step, call=call, agent=trajectory.steps[step].agent, operator=operator, content=content,
        tool_calls=tool_calls, outcomes=vote.outcomes, agreement=vote.agreement, kept=vote.won,
        replay_dir=failing_dir if vote.won else None,
    )  # fmt: skip
