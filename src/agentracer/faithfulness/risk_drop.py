"""Risk Drop: how much of a run's risk goes away when the top-n blamed actions are deleted.

- deletion: the top n actions answer with the neutral action, later calls go live (the model
  reacts to the changed past); k replays; Risk Drop = (risk before - mean risk after) / risk
  before. Higher is more faithful; negative means deleting made things worse.
- insertion: every action is neutral except the top n, which keep their recorded text (no
  model calls, so one replay is exact); Risk Kept = risk after / risk before. Higher means the
  top n alone rebuild more of the risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, Field

from agentracer.faithfulness.scorers import Ranking, Scorer
from agentracer.faithfulness.subject import Subject, mean_and_spread

Variant = Literal["deletion", "insertion"]


class Point(BaseModel):
    """One (scorer, variant, n) measurement."""

    scorer: str
    variant: Variant
    n: int = Field(description="how many top actions were deleted or inserted")
    actions: list[str] = Field(description="the edited actions, as agent@call")
    risks: list[float] = Field(description="the risk of each replay")
    mean: float
    spread: float = Field(description="sample standard deviation over the replays")
    score: float = Field(description="deletion: Risk Drop; insertion: Risk Kept")


class FaithfulnessReport(BaseModel):
    recording: str
    command: list[str]
    model: str
    neutral_action: str
    actions: int
    risk_before: float
    k: int
    rankings: list[Ranking]
    points: list[Point]
    replays: int = Field(description="all simulation replays this report made")


def deletion(subject: Subject, ranking: Ranking, n: int, k: int) -> Point:
    top = ranking.order[:n]
    edits = dict.fromkeys(top, subject.neutral_action)
    risks = [subject.replay(edits, f"del-{ranking.scorer}-{n}", live=True).risk for _ in range(k)]
    mean, spread = mean_and_spread(risks)
    return Point(
        scorer=ranking.scorer, variant="deletion", n=len(top),
        actions=[subject.describe(a) for a in top], risks=risks, mean=mean, spread=spread,
        score=(subject.risk_before - mean) / subject.risk_before,
    )  # fmt: skip


def insertion(subject: Subject, ranking: Ranking, n: int) -> Point:
    top = ranking.order[:n]
    texts = subject.recorded_texts()
    edits = {a: texts[a] if a in top else subject.neutral_action for a in subject.actions}
    risk = subject.replay(edits, f"ins-{ranking.scorer}-{n}", live=False).risk
    return Point(
        scorer=ranking.scorer, variant="insertion", n=len(top),
        actions=[subject.describe(a) for a in top], risks=[risk], mean=risk, spread=0.0,
        score=risk / subject.risk_before,
    )  # fmt: skip


def evaluate(
    subject: Subject,
    scorers: Sequence[Scorer],
    tops: Sequence[int],
    *,
    k: int = 1,
    variants: Sequence[Variant] = ("deletion", "insertion"),
) -> FaithfulnessReport:
    """Rank the run's actions with every scorer and measure each ranking at every n."""
    _ = subject.risk_before, subject.neutral_action  # fail early, before any replay
    rankings, points = [], []
    for scorer in scorers:
        ranking = scorer.rank(subject)
        subject.validate(ranking.order, ranking.scorer)
        rankings.append(ranking)
        for n in tops:
            if "deletion" in variants:
                points.append(deletion(subject, ranking, n, k))
            if "insertion" in variants:
                points.append(insertion(subject, ranking, n))
    return FaithfulnessReport(
        recording=str(subject.directory), command=subject.recording.command,
        model=subject.recording.model, neutral_action=subject.neutral_action,
        actions=len(subject.actions), risk_before=subject.risk_before, k=k,
        rankings=rankings, points=points, replays=subject.replays,
    )  # fmt: skip


def _cell(points: list[Point], risk_before: float) -> str:
    """The score, and over k > 1 replays its spread (the risks' standard deviation, scaled
    like the score)."""
    if not points:
        return "-"
    p = points[0]
    spread = f" ±{p.spread / risk_before:.3f}" if len(p.risks) > 1 else ""
    return f"{p.score:+.3f}{spread}"


def table(reports: dict[str, FaithfulnessReport]) -> tuple[list[str], list[list[str]]]:
    """The Risk Drop table: one row per system and scorer, a deletion (Risk Drop) and an
    insertion (Risk Kept) column per n, and each scorer's cost in replays and model tokens."""
    tops = sorted({p.n for r in reports.values() for p in r.points})
    header = ["system", "scorer", "cost"]
    header += [f"RD@{n}" for n in tops] + [f"Kept@{n}" for n in tops]
    rows = []
    for system, report in reports.items():
        for ranking in report.rankings:
            cost = f"{ranking.replays} replays"
            if ranking.usage.calls:
                cost = f"{ranking.usage.calls} model calls"
            cells = [system, ranking.scorer, cost]
            for variant in ("deletion", "insertion"):
                for n in tops:
                    points = [
                        p
                        for p in report.points
                        if p.scorer == ranking.scorer and p.variant == variant and p.n == n
                    ]
                    cells.append(_cell(points, report.risk_before))
            rows.append(cells)
    return header, rows


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """The table as Markdown (what benchmarks/README.md holds; no terminal width involved)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
