"""The released Who&When scorer (`Automated_FA/evaluate.py`), replicated rule for rule.

Our primary numbers are exact (`metrics.score_verdict`). Published Who&When figures come from
the released script, which differs in four ways, all reproduced here so the figures can be
set side by side (checked against the script in `mingyin1/Agents_Failure_Attribution`):

1. It reads the prediction from the *printed text* of each record, not from a parsed verdict:
   the agent is the first `Agent Name:\\s*([\\w_]+)` and the step the first
   `Step Number:\\s*(\\d+)`. The labels are found case-insensitively (the script passes
   `re.IGNORECASE`), but the captured agent stops at the first non-word character, so
   `Blu-Ray_Expert` is read as `Blu`, and a markdown `Agent Name:** X` is not read at all.
2. A record counts as predicted only when *both* the agent and the step were read.
3. It tests containment, case-sensitively, on those strings: gold `in` predicted. A gold step
   `4` is a hit for a predicted `14`; gold `WebSurfer` is a hit for `WebSurfer_2`; gold
   `Blu-Ray_Expert` can never be a hit.
4. The denominator is every record file of the subset, including records that failed to
   load, that the tracer failed on, or whose answer was not read.

The printed text is what the released inference script printed for its methods: the model's
raw answer for all-at-once (and our `agentracer` tracer, which answers in the same format), and
`Agent Name: …\\nStep Number: …` rendered from the verdict for every other method (as it
printed step-by-step and binary-search verdicts; nothing when no step was blamed). A block ends
where the next `Prediction for` begins, so raw text is cut there too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agentracer.trajectory import Label, Verdict

AGENT_PATTERN = re.compile(r"Agent Name:\s*([\w_]+)", re.IGNORECASE)
STEP_PATTERN = re.compile(r"Step Number:\s*(\d+)", re.IGNORECASE)
BLOCK_END = "Prediction for"
RAW_ANSWER_TRACERS = frozenset({"all-at-once", "agentracer"})
"""Tracers whose verdict is read from one model answer in the `Agent Name:` format."""


@dataclass(frozen=True)
class OfficialPrediction:
    """What the released script reads from one record's printed text."""

    agent: str
    step: str


def printed_text(verdict: Verdict) -> str | None:
    """The text the released inference script would have printed for this verdict."""
    if verdict.tracer in RAW_ANSWER_TRACERS and verdict.raw_output is not None:
        return verdict.raw_output.split(BLOCK_END, 1)[0]
    if verdict.agent is None or verdict.step is None:
        return None
    return f"Agent Name: {verdict.agent}\nStep Number: {verdict.step}"


def read_prediction(text: str | None) -> OfficialPrediction | None:
    """The agent and step the released script reads from `text`; None unless it reads both."""
    if text is None:
        return None
    content = text.strip()
    agent = AGENT_PATTERN.search(content)
    step = STEP_PATTERN.search(content)
    if agent is None or step is None:
        return None
    return OfficialPrediction(agent=agent.group(1), step=step.group(1))


def official_hits(prediction: OfficialPrediction | None, gold: Label) -> tuple[bool, bool]:
    """(agent hit, step hit) under the released script's case-sensitive containment test."""
    if prediction is None:
        return False, False
    return gold.agent in prediction.agent, str(gold.step) in prediction.step


@dataclass(frozen=True)
class OfficialScore:
    """The released script's figures for one subset."""

    agent_hits: int
    step_hits: int
    predicted: int
    records: int

    @property
    def agent_accuracy(self) -> float | None:
        return self.agent_hits / self.records if self.records else None

    @property
    def step_accuracy(self) -> float | None:
        return self.step_hits / self.records if self.records else None

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "agent_accuracy": self.agent_accuracy,
            "step_accuracy": self.step_accuracy,
            "predicted": self.predicted,
            "records": self.records,
        }


def official_score(scored: Iterable[tuple[Verdict, Label]], records: int) -> OfficialScore:
    """Score verdicts as the released script does, over `records` record files in all.

    `scored` holds the verdicts that exist; `records` counts every record of the subset
    (loaded or not, attributed or failed), which is the script's denominator. It may not be
    smaller than the number of verdicts.
    """
    agent_hits = step_hits = predicted = n = 0
    for verdict, gold in scored:
        n += 1
        prediction = read_prediction(printed_text(verdict))
        predicted += prediction is not None
        agent_hit, step_hit = official_hits(prediction, gold)
        agent_hits += agent_hit
        step_hits += step_hit
    if records < n:
        raise ValueError(f"{n} verdicts but only {records} records")
    return OfficialScore(agent_hits, step_hits, predicted, records)
