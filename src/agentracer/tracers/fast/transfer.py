"""Features meant to transfer to a system the model never saw (issue 19, item 3).

The base features (`features.py`) hold absolute positions and lengths: a ranker trained on them
learns each training system's position prior (Who&When AG blames early steps, Magentic-One the
last ones) and is at chance elsewhere. These features are relative to the run itself:

- structure relative to the run's hand-offs: the signed distance, in agent steps, to the first
  hand-off (the first step of the second agent to act), clipped; whether the step starts a turn;
  its agent's rank of first appearance over the run's agents;
- percentiles within the run (0 = lowest of the run's agent steps, 1 = highest) of content
  measures: length, numbers introduced, overlap with the task, repetition, error words;
- tool errors, exceptions and later corrections: an error reported right after the step, the
  first such error of the run, a later step of another agent that corrects or retries, and
  whether the step's own content is first seen here and later contradicted (a later step with
  a correction or error word repeats the numbers or rare words it introduced).

Every value is computed from the log alone; rows follow `features.step_features`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from agentracer.tracers.fast.features import CORRECTION, NUMBER, WORD
from agentracer.tracers.rules import hand_off_rank, tool_outputs
from agentracer.tracers.taxonomy import ERROR_WORDS
from agentracer.trajectory import Trajectory

HAND_OFF_CLIP = 3  # agent steps either side of the first hand-off told apart
RETRY = re.compile(
    r"\b(retry|try again|let me try|re-?run|instead|fix(?:ed)?|correct(?:ed)?)\b", re.I
)
RARE_MIN = 7  # a word this long that appears once so far counts as content the step introduced

TRANSFER_FEATURES = (
    "hand_off_offset",
    "at_first_hand_off",
    "before_first_hand_off",
    "starts_turn",
    "agent_first_rank",
    "agent_step_pct",
    "opens_run",
    "closes_run",
    "length_pct",
    "new_terms_pct",
    "numbers_pct",
    "question_overlap_pct",
    "repeat_pct",
    "errors_pct",
    "tool_error_after",
    "first_error_after",
    "before_first_error",
    "corrected_by_other",
    "retried_later",
    "contradicted_later",
    "contradicted_pct",
)


def percentiles(values: Sequence[float]) -> list[float]:
    """Each value's mean rank among `values`, scaled to [0, 1] (ties share their rank; a run of
    one step gives 0.5), so a feature reads the same on short and long runs."""
    n = len(values)
    if n <= 1:
        return [0.5] * n
    order = sorted(range(n), key=lambda k: values[k])
    ranks = [0.0] * n
    start = 0
    while start < n:
        end = start
        while end + 1 < n and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 / (n - 1)
        start = end + 1
    return ranks


def _terms(text: str) -> set[str]:
    """Numbers and long words: the content a step can introduce and a later step contest."""
    numbers = {n.replace(",", "") for n in NUMBER.findall(text)}
    words = {w for w in WORD.findall(text.lower()) if len(w) >= RARE_MIN and not w.isdigit()}
    return numbers | words


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def transfer_features(trajectory: Trajectory) -> list[list[float]]:
    """`TRANSFER_FEATURES` of every agent step of `trajectory`, rows in the order of
    `features.step_features`."""
    steps = trajectory.steps
    agent_steps = trajectory.agent_steps()
    m = len(agent_steps)
    if not m:
        return []
    hand_off = hand_off_rank(agent_steps)
    first_seen_agent: dict[str, int] = {}
    for s in agent_steps:
        first_seen_agent.setdefault(s.agent, len(first_seen_agent))
    n_agents = len(first_seen_agent)
    question_terms = _terms(trajectory.question)
    terms = [_terms(s.content) for s in steps]
    seen: set[str] = set(question_terms)
    introduced: list[set[str]] = []
    for t in terms:
        introduced.append(t - seen)
        seen |= t
    contesting = [
        bool(
            CORRECTION.search(s.content) or ERROR_WORDS.search(s.content) or RETRY.search(s.content)
        )
        for s in steps
    ]
    error_after = [
        float(any(ERROR_WORDS.search(f.content) for f in tool_outputs(steps, s.index)))
        for s in agent_steps
    ]
    first_error = next((r for r, e in enumerate(error_after) if e), None)

    lengths, news, numbers, overlaps, repeats, errors, contradicted = [], [], [], [], [], [], []
    corrected, retried = [], []
    for rank, s in enumerate(agent_steps):
        i = s.index
        lengths.append(float(len(s.content)))
        news.append(float(len(introduced[i])))
        numbers.append(float(len(NUMBER.findall(s.content))))
        overlaps.append(_jaccard(terms[i], question_terms))
        earlier = range(max(0, i - 20), i)
        repeats.append(max((_jaccard(terms[i], terms[j]) for j in earlier), default=0.0))
        errors.append(float(len(ERROR_WORDS.findall(s.content))))
        later = agent_steps[rank + 1 : rank + 4]
        corrected.append(
            float(any(o.agent != s.agent and CORRECTION.search(o.content) for o in later))
        )
        retried.append(float(any(RETRY.search(o.content) for o in later)))
        own = introduced[i]
        contested = [
            len(own & terms[j]) / len(own)
            for j in range(i + 1, len(steps))
            if own and contesting[j]
        ]
        contradicted.append(max(contested, default=0.0))
    pct = {
        "length": percentiles(lengths),
        "new": percentiles(news),
        "numbers": percentiles(numbers),
        "overlap": percentiles(overlaps),
        "repeat": percentiles(repeats),
        "errors": percentiles(errors),
        "contradicted": percentiles(contradicted),
    }
    rows: list[list[float]] = []
    previous: str | None = None
    for rank, s in enumerate(agent_steps):
        offset = max(-HAND_OFF_CLIP, min(HAND_OFF_CLIP, rank - hand_off))
        row = [
            float(offset),
            float(rank == hand_off),
            float(rank < hand_off),
            float(previous is None or previous != s.agent),
            first_seen_agent[s.agent] / (n_agents - 1) if n_agents > 1 else 0.0,
            rank / (m - 1) if m > 1 else 0.0,
            float(rank == 0),
            float(rank == m - 1),
            pct["length"][rank],
            pct["new"][rank],
            pct["numbers"][rank],
            pct["overlap"][rank],
            pct["repeat"][rank],
            pct["errors"][rank],
            error_after[rank],
            float(first_error == rank),
            float(first_error is not None and rank < first_error),
            corrected[rank],
            retried[rank],
            contradicted[rank],
            pct["contradicted"][rank],
        ]
        previous = s.agent
        rows.append(row)
    return rows
