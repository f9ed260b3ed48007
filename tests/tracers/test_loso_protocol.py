"""The leave-one-system-out benchmark's own arithmetic (`benchmarks/loso.py`): the analytic
randoms and the rule a left-out system is scored with."""

import itertools
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import loso

from agentracer.formats import load_one
from tests.conftest import EXAMPLE


def _brute_top3(p: list[float], g: int) -> float:
    """Chance that g is among three draws without replacement, by enumerating ordered triples."""
    total = 0.0
    for a, b, c in itertools.permutations(range(len(p)), 3):
        if g in (a, b, c):
            total += p[a] * p[b] / (1 - p[a]) * p[c] / (1 - p[a] - p[b])
    return total


@pytest.mark.parametrize("g", [0, 2, 4])
def test_top3_without_replacement_matches_enumeration(g: int) -> None:
    p = [0.4, 0.1, 0.2, 0.15, 0.15]
    assert loso._top3_without_replacement(p, g) == pytest.approx(_brute_top3(p, g))


def test_the_randoms_on_the_example() -> None:
    run = load_one(EXAMPLE)  # 5 agent steps: Planner, Time_Expert, then Verification_Expert x3
    [uniform] = loso.uniform_hits([run])
    assert uniform == pytest.approx((1 / 5, 3 / 5))
    [agent_first] = loso.agent_then_step_hits([run])
    assert agent_first[0] == pytest.approx(1 / 3)  # gold is Time_Expert's only step


def test_a_ranker_spec_names_families_settings_and_anchor() -> None:
    ranker = loso.Ranker.parse("base,transfer@small+anchor")
    assert ranker == loso.Ranker("base,transfer", "small", True)
    assert "led by the rule chosen" in ranker.label and "small settings" in ranker.label
    assert loso.Ranker.parse("base") == loso.Ranker("base", "default", False)
