"""Model-free rules as rankings of a run's agent steps, and the anchor a fast model leads with.

Measured leave-one-system-out (`benchmarks/loso.py`), no learned ranker beat the best
model-free rule at top-1 on a system it never saw, while a ranker did lift top-3 well above the
rules. So a fast model may carry an *anchor*: the rule with the best top-1 on its own training
runs (`choose_anchor`, chosen at training time, never on the runs it is scored on). The
anchored tracer blames the anchor's first pick and fills the next places from the ranker.

Rankings (every agent step, most blamed first):
- `first-agent-step`: first to last;
- `last-agent-step`: last to first;
- `first-hand-off`: by distance, in agent steps, from the first step of the second agent to act
  (earlier first on ties);
- `most-frequent-agent`: the steps of the agent that acted most often (the earliest such agent
  on a tie), in order, then the others;
- `tool-error-near-hand-off`: the agent steps whose tool output right after reports an error
  (`taxonomy.has_error`), then the others, each group in `first-hand-off` order (a signal of
  issue 19's list: tool errors and exceptions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from agentracer.errors import AgenTracerError
from agentracer.tracers.fast.transfer import tool_outputs
from agentracer.tracers.taxonomy import has_error
from agentracer.trajectory import Step, StepKind, Trajectory


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
    """Agent steps whose tool output (`transfer.tool_outputs`: the steps right after it that
    are not an agent's) reports an error first, each group by distance from the first
    hand-off."""
    by_hand_off = _first_hand_off(agent_steps)
    failed = set()
    for s in agent_steps:
        if any(has_error(f.content) for f in tool_outputs(trajectory_steps, s.index)):
            failed.add(s.index)
    return [i for i in by_hand_off if i in failed] + [i for i in by_hand_off if i not in failed]


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
}


def rule_ranking(rule: str, trajectory: Trajectory) -> list[int]:
    """The agent steps of `trajectory` ranked by `rule`, most blamed first."""
    if rule not in RULES:
        raise AgenTracerError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    return RULES[rule](trajectory)


def rule_top1(rule: str, trajectories: Sequence[Trajectory]) -> float:
    """Share of the labelled `trajectories` whose gold step is `rule`'s first pick."""
    labelled = [t for t in trajectories if t.label is not None]
    if not labelled:
        return 0.0
    hits = 0
    for t in labelled:
        assert t.label is not None
        if t.steps[t.label.step].kind is StepKind.AGENT:
            hits += rule_ranking(rule, t)[:1] == [t.label.step]
    return hits / len(labelled)


def choose_anchor(trajectories: Sequence[Trajectory]) -> tuple[str, float]:
    """The rule with the best top-1 on `trajectories` (ties: the order of `RULES`) and that
    top-1."""
    scored = {rule: rule_top1(rule, trajectories) for rule in RULES}
    best = max(scored, key=lambda rule: scored[rule])
    return best, scored[best]
