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


def test_the_encoder_benchmark_combines_scores_with_the_rule_as_documented() -> None:
    """`benchmarks/encoder_transfer.py`'s three ways to use a step scorer, on the example with
    a scripted scorer (the real fine-tuned encoder is the benchmark's own run)."""
    import encoder_transfer

    run = load_one(EXAMPLE)  # five agent steps, the gold at step 1, where the rule starts

    class Reversed:
        def order(self, trajectory):  # the last agent step scores highest
            return [s.index for s in reversed(trajectory.agent_steps())]

    found = encoder_transfer.variants("first-hand-off", Reversed(), [run])  # type: ignore[arg-type]
    ranking = loso.rule_ranking("first-hand-off", run)
    assert ranking[0] == 1
    assert found["encoder"] == [loso.hits_of(Reversed().order(run), run)]
    assert found["rule, then encoder"] == [(1.0, 1.0)]  # the rule's pick leads
    reranked = [i for i in Reversed().order(run) if i in ranking[:3]] + ranking[3:]
    assert found["encoder re-ranks"] == [loso.hits_of(reranked, run)]
    assert found["encoder re-ranks"][0][1] == 1.0  # same three steps, so the same top-3
