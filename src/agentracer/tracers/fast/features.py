"""Features of each agent step of a trajectory, for the fast tracer's ranking model.

Every feature is computed from the log alone (never from the gold label or the correct
answer), so the same code serves training and attribution. Three families:

- position: absolute and relative index, rank among agent steps, first/last agent step,
  first/last step of its agent, right after a hand-off, the first hand-off;
- agent: its share of the agent steps, order of first appearance, whether it is the most
  frequent agent, whether its name says it orchestrates;
- content: length, numbers and code introduced, the first appearance of the final answer's
  numbers, errors in this step and in the tool output right after it, repetition of earlier
  steps, hedges, and corrections by later steps.
"""

from __future__ import annotations

import math
import re
from collections import Counter

from agentracer.tracers.taxonomy import ERROR_WORDS, FINAL_WORDS, HEDGE_WORDS, VERIFY_WORDS
from agentracer.trajectory import StepKind, Trajectory

NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
CODE = re.compile(r"```|\bdef \w+\(|\bimport \w+|\bprint\(")
ORCHESTRATOR = re.compile(r"orchestr|manager|planner|leader|lead\b|coordinator|admin", re.I)
CORRECTION = re.compile(
    r"\b(incorrect|wrong|mistake|not correct|error in|actually|however|re-?check|revis\w+"
    r"|doesn't match|does not match|discrepanc\w+)\b",
    re.I,
)
WORD = re.compile(r"[a-z0-9]+")
REPEAT_WINDOW = 20  # steps looked back for repetition by any agent (keeps long logs linear)

FEATURES = (
    "index",
    "n_steps",
    "relative_index",
    "agent_rank",
    "n_agent_steps",
    "relative_agent_rank",
    "agent_steps_after",
    "is_first_agent_step",
    "is_last_agent_step",
    "is_first_of_agent",
    "is_last_of_agent",
    "turn_of_agent",
    "after_hand_off",
    "is_first_hand_off",
    "steps_since_hand_off",
    "agent_order",
    "n_agents",
    "agent_share",
    "is_most_frequent_agent",
    "is_orchestrator",
    "log_chars",
    "relative_length",
    "n_numbers",
    "new_numbers",
    "has_code",
    "introduces_final_numbers",
    "mentions_final_numbers",
    "declares_final_answer",
    "errors_in_step",
    "error_after",
    "tool_after",
    "repeats_own",
    "repeats_any",
    "hedges",
    "verifies",
    "corrected_later",
    "question_overlap",
)


def _words(text: str) -> frozenset[str]:
    return frozenset(WORD.findall(text.lower()))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)
    return common / (len(a) + len(b) - common)


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "") for n in NUMBER.findall(text)}


def _final_numbers(trajectory: Trajectory) -> set[str]:
    """Numbers of the run's final answer: from the last agent step declaring one, else from
    the last agent step."""
    agent_steps = trajectory.agent_steps()
    if not agent_steps:
        return set()
    declaring = [s for s in agent_steps if FINAL_WORDS.search(s.content)]
    last = (declaring or agent_steps)[-1]
    return _numbers(last.content[-400:])


def step_features(trajectory: Trajectory) -> tuple[list[int], list[list[float]]]:
    """The agent steps' indices and, for each, the values of `FEATURES` in that order."""
    steps = trajectory.steps
    agent_steps = trajectory.agent_steps()
    n, m = len(steps), len(agent_steps)
    counts = Counter(s.agent for s in agent_steps)
    order = {agent: i for i, agent in enumerate(dict.fromkeys(s.agent for s in agent_steps))}
    most = max(counts.values()) if counts else 0
    firsts: dict[str, int] = {}
    lasts: dict[str, int] = {}
    for s in agent_steps:
        firsts.setdefault(s.agent, s.index)
        lasts[s.agent] = s.index
    hand_off = next((s.index for s in agent_steps if s.agent != agent_steps[0].agent), None)
    words = [_words(s.content) for s in steps]
    question_words = _words(trajectory.question)
    mean_length = sum(len(s.content) for s in agent_steps) / m if m else 1.0
    final = _final_numbers(trajectory)
    seen_numbers = _numbers(trajectory.question)
    number_sets = [_numbers(s.content) for s in steps]
    first_seen: dict[str, int] = {}
    for s, numbers in zip(steps, number_sets, strict=True):
        for number in numbers:
            first_seen.setdefault(number, s.index)
    corrections = [bool(CORRECTION.search(s.content)) for s in steps]
    errors = [bool(ERROR_WORDS.search(s.content)) for s in steps]

    indices: list[int] = []
    rows: list[list[float]] = []
    turn: Counter[str] = Counter()
    previous_agent: str | None = None
    last_hand_off = 0
    for rank, step in enumerate(agent_steps):
        i = step.index
        text = step.content
        after_hand_off = previous_agent is not None and previous_agent != step.agent
        if after_hand_off:
            last_hand_off = rank
        following = steps[i + 1 : i + 3]
        tools_after = [s for s in following if s.kind is not StepKind.AGENT]
        own_earlier = [j for j in range(i) if steps[j].agent == step.agent]
        numbers = number_sets[i]
        introduced = {x for x in numbers if first_seen[x] == i and x not in seen_numbers}
        later_others = [s.index for s in agent_steps[rank + 1 : rank + 4] if s.agent != step.agent]
        row = [
            i,
            n,
            i / (n - 1) if n > 1 else 0.0,
            rank,
            m,
            rank / (m - 1) if m > 1 else 0.0,
            m - 1 - rank,
            float(rank == 0),
            float(rank == m - 1),
            float(firsts[step.agent] == i),
            float(lasts[step.agent] == i),
            turn[step.agent],
            float(after_hand_off),
            float(hand_off == i),
            rank - last_hand_off,
            order[step.agent],
            len(counts),
            counts[step.agent] / m,
            float(counts[step.agent] == most),
            float(bool(ORCHESTRATOR.search(step.agent))),
            math.log1p(len(text)),
            len(text) / mean_length if mean_length else 0.0,
            len(numbers),
            len(introduced),
            float(bool(CODE.search(text))),
            float(bool(final & introduced)),
            float(bool(final & numbers)),
            float(bool(FINAL_WORDS.search(text))),
            len(ERROR_WORDS.findall(text)),
            float(any(errors[s.index] for s in tools_after)),
            float(bool(tools_after)),
            max((_jaccard(words[i], words[j]) for j in own_earlier), default=0.0),
            max(
                (_jaccard(words[i], words[j]) for j in range(max(0, i - REPEAT_WINDOW), i)),
                default=0.0,
            ),
            len(HEDGE_WORDS.findall(text)),
            float(bool(VERIFY_WORDS.search(text))),
            float(any(corrections[j] for j in later_others)),
            _jaccard(words[i], question_words),
        ]
        turn[step.agent] += 1
        previous_agent = step.agent
        indices.append(i)
        rows.append([float(v) for v in row])
    return indices, rows
