"""Model-free rules as rankings of a run's agent steps, most blamed first.

One place for every rule, so the baseline tracers `eval` scores beside each tracer
(`tracers.baselines`), the anchor a fast model leads with (`tracers.fast.anchor`) and the
leave-one-system-out benchmark rank the same steps the same way. A rule's verdict blames its
first pick and offers the next two as candidates (top-3).

- `first-agent-step`: first to last;
- `last-agent-step`: last to first;
- `first-hand-off`: by distance, in agent steps, from the first step of the second agent to act
  (earlier first on ties);
- `most-frequent-agent`: the steps of the agent that acted most often (the earliest such agent
  on a tie), in order, then the others;
- `tool-error-near-hand-off`: the agent steps whose tool output right after reports an error
  (`taxonomy.has_error`), then the others, each group in `first-hand-off` order;
- `first-state-change`: the agent steps that call a tool changing the world's state (its name
  starts with a verb such as cancel, modify, send, book: `STATE_VERBS`), in order, then the
  others in `tool-error-near-hand-off` order. Why: a tool-using agent fails by what it does, and
  only such calls change what the task is judged on; a run without structured tool calls (most
  chat logs) ranks exactly as `tool-error-near-hand-off`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from agentracer.errors import AgenTracerError
from agentracer.naming import normalise_agent
from agentracer.tracers.taxonomy import has_error
from agentracer.trajectory import Step, StepKind, Trajectory

STATE_VERBS = frozenset(
    [
        "add",
        "append",
        "approve",
        "assign",
        "book",
        "buy",
        "cancel",
        "charge",
        "close",
        "commit",
        "create",
        "delete",
        "deploy",
        "drop",
        "edit",
        "exchange",
        "execute",
        "grant",
        "insert",
        "issue",
        "merge",
        "modify",
        "move",
        "order",
        "pay",
        "place",
        "post",
        "publish",
        "purchase",
        "push",
        "put",
        "refund",
        "reject",
        "remove",
        "rename",
        "replace",
        "reserve",
        "reset",
        "return",
        "revoke",
        "save",
        "schedule",
        "send",
        "set",
        "submit",
        "transfer",
        "update",
        "upload",
        "upsert",
        "write",
    ]
)
"""First words of a tool name that changes state (`cancel_pending_order`, `sendEmail`).
Reading verbs (get, find, list, search, calculate, think) are not here: such a call changes
nothing, so it cannot be what a state-checked task failed on."""

_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def tool_outputs(steps: Sequence[Step], index: int, limit: int = 2) -> list[Step]:
    """The steps that are not an agent's right after step `index`, up to the next agent step
    (at most `limit`): the output of what that step ran, not of a later agent's call."""
    found: list[Step] = []
    for following in steps[index + 1 : index + 1 + limit]:
        if following.kind is StepKind.AGENT:
            break
        found.append(following)
    return found


def changes_state(tool_name: str, agents: Sequence[str] = ()) -> bool:
    """Whether a tool named `tool_name` changes state: its first word is in `STATE_VERBS`
    (snake_case, camelCase, kebab-case and dotted names alike), and it is not a hand-off to one
    of the run's `agents` (`transfer_to_researcher` in the OpenAI Agents SDK or an AutoGen
    swarm passes the turn; it changes nothing outside the run)."""
    words = _WORDS.findall(tool_name.rsplit(".", 1)[-1])
    if not words or words[0].lower() not in STATE_VERBS:
        return False
    rest = "".join(words[1:]).casefold()  # transfer_to_researcher: "toresearcher"
    return not any(a and rest in (a, f"to{a}") for a in map(normalise_agent, agents))


def hand_off_rank(agent_steps: Sequence[Step]) -> int:
    """Position, among the agent steps, of the first step of the second agent to act (0 when
    one agent acts alone)."""
    first = agent_steps[0].agent if agent_steps else None
    return next((r for r, s in enumerate(agent_steps) if s.agent != first), 0)


def _first_hand_off(agent_steps: Sequence[Step]) -> list[int]:
    h = hand_off_rank(agent_steps)
    return [
        agent_steps[r].index for r in sorted(range(len(agent_steps)), key=lambda r: (abs(r - h), r))
    ]


def _tool_error(trajectory_steps: Sequence[Step], agent_steps: Sequence[Step]) -> list[int]:
    """Agent steps whose tool output (`tool_outputs`) reports an error first, each group by
    distance from the first hand-off."""
    by_hand_off = _first_hand_off(agent_steps)
    failed = set()
    for s in agent_steps:
        if any(has_error(f.content) for f in tool_outputs(trajectory_steps, s.index)):
            failed.add(s.index)
    return [i for i in by_hand_off if i in failed] + [i for i in by_hand_off if i not in failed]


def _agents(trajectory: Trajectory) -> list[str]:
    """The run's agents, as its source listed them or as they acted: the names a hand-off
    tool may pass the turn to."""
    return trajectory.agents or sorted({s.agent for s in trajectory.agent_steps()})


def state_changes(step: Step, agents: Sequence[str]) -> list[str]:
    """The names of the tools `step` calls that change state (`changes_state`)."""
    return [c.name for c in step.tool_calls if changes_state(c.name, agents)]


def _first_state_change(trajectory: Trajectory) -> list[int]:
    agent_steps = trajectory.agent_steps()
    agents = _agents(trajectory)
    acting = [s.index for s in agent_steps if state_changes(s, agents)]
    chosen = set(acting)
    return acting + [i for i in _tool_error(trajectory.steps, agent_steps) if i not in chosen]


def _most_frequent(agent_steps: Sequence[Step]) -> list[int]:
    counts: dict[str, int] = {}
    for s in agent_steps:
        counts[s.agent] = counts.get(s.agent, 0) + 1
    if not counts:
        return []
    top = max(counts, key=lambda a: counts[a])
    mine = [s.index for s in agent_steps if s.agent == top]
    return mine + [s.index for s in agent_steps if s.agent != top]


RULES: dict[str, Callable[[Trajectory], list[int]]] = {
    "first-agent-step": lambda t: [s.index for s in t.agent_steps()],
    "last-agent-step": lambda t: [s.index for s in reversed(t.agent_steps())],
    "first-hand-off": lambda t: _first_hand_off(t.agent_steps()),
    "most-frequent-agent": lambda t: _most_frequent(t.agent_steps()),
    # Listed after first-hand-off so that on a tie the simpler rule is chosen.
    "tool-error-near-hand-off": lambda t: _tool_error(t.steps, t.agent_steps()),
    # Listed last: it ranks as the rule above on runs without state-changing tool calls, so a
    # tie on such runs keeps the older rule.
    "first-state-change": _first_state_change,
}


def rule_ranking(rule: str, trajectory: Trajectory) -> list[int]:
    """The agent steps of `trajectory` ranked by `rule`, most blamed first."""
    if rule not in RULES:
        raise AgenTracerError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    return RULES[rule](trajectory)


def explain(rule: str, trajectory: Trajectory, step: Step) -> str:
    """Which part of `rule` picked `step` (its first pick on `trajectory`), in words."""
    if rule == "first-agent-step":
        return "the first step taken by an agent"
    if rule == "last-agent-step":
        return "the last step taken by an agent"
    if rule == "most-frequent-agent":
        return f"the first step of {step.agent}, the agent that acted most often"
    calls = state_changes(step, _agents(trajectory))
    if rule == "first-state-change" and calls:
        return f"the first step that calls a tool changing state ({calls[0]})"
    if rule != "first-hand-off" and any(
        has_error(f.content) for f in tool_outputs(trajectory.steps, step.index)
    ):
        return "the agent step nearest the first hand-off whose tool output reports an error"
    absent = {
        "first-state-change": " (no step calls a tool changing state, no tool output reports "
        "an error)",
        "tool-error-near-hand-off": " (no tool output reports an error)",
    }.get(rule, "")
    if len({s.agent for s in trajectory.agent_steps()}) > 1:
        return f"the first hand-off{absent}"
    return f"the first step of {step.agent}, which acted alone{absent}"
