"""The anchor a fast model leads with: the model-free rule with the best top-1 on its training runs.

Measured leave-one-system-out (`benchmarks/loso.py`), no learned ranker beat the best
model-free rule at top-1 on a system it never saw, while a ranker did lift top-3 well above the
rules. So a fast model may carry an *anchor*: the rule (`tracers.rules.RULES`) with the best
top-1 on its own training runs (`choose_anchor`, chosen at training time, never on the runs it
is scored on). The anchored tracer blames the anchor's first pick and fills the next places
from the ranker.
"""

from __future__ import annotations

from collections.abc import Sequence

from agentracer.tracers.rules import RULES, rule_ranking
from agentracer.trajectory import StepKind, Trajectory

__all__ = ["RULES", "choose_anchor", "rule_ranking", "rule_top1"]


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
