import pytest

from agentracer.evaluation.metrics import accuracy, score_verdict, wilson_interval
from agentracer.trajectory import AnnotatedFailure, Label, Verdict


def _score(agent: str | None, step: int | None, gold_agent: str = "WebSurfer", gold_step: int = 4):
    return score_verdict(Verdict(agent=agent, step=step), Label(agent=gold_agent, step=gold_step))


def test_exact_hit() -> None:
    score = _score("WebSurfer", 4)
    assert score.agent and score.step and score.official_agent and score.official_step


def test_official_scorer_counts_a_substring_step_as_a_hit() -> None:
    score = _score("WebSurfer", 14)  # gold "4" is inside "14"
    assert score.official_step and not score.step


def test_official_step_containment_is_one_directional() -> None:
    score = _score("WebSurfer", 4, gold_step=14)  # "14" is not inside "4"
    assert not score.official_step and not score.step


def test_exact_agent_scoring_normalises_spelling_but_official_does_not() -> None:
    score = _score("web surfer", 4)
    assert score.agent and not score.official_agent


def test_official_agent_containment_over_counts() -> None:
    score = _score("WebSurfer_2", 4)
    assert score.official_agent and not score.agent


def test_missing_answers_are_wrong_under_every_rule() -> None:
    score = _score(None, None)
    assert not any([score.agent, score.step, score.official_agent, score.official_step])
    assert score.step_within == {"1": False, "3": False}


@pytest.mark.parametrize(
    ("step", "within"),
    [
        (4, {"1": True, "3": True}),
        (5, {"1": True, "3": True}),
        (1, {"1": False, "3": True}),
        (8, {"1": False, "3": False}),
    ],
)
def test_step_within_k(step: int, within: dict[str, bool]) -> None:
    assert _score("WebSurfer", step).step_within == within


def test_wilson_interval_known_values() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    with pytest.raises(ValueError):
        wilson_interval(0, 0)


def test_accuracy_of_nothing_is_none() -> None:
    empty = accuracy([])
    assert empty.value is None and empty.n == 0
    three = accuracy([True, False, True])
    assert (
        three.value == pytest.approx(2 / 3)
        and three.low is not None
        and three.low < three.value < three.high
    )


def test_top3_reads_the_verdicts_candidates_and_is_top1_without_them() -> None:
    gold = Label(agent="WebSurfer", step=4)
    assert not score_verdict(Verdict(agent="WebSurfer", step=2), gold).step_top3
    ranked = Verdict(agent="WebSurfer", step=2, candidates=[2, 7, 4, 9])  # 2 repeats the step
    assert score_verdict(ranked, gold).step_top3 and not score_verdict(ranked, gold).step
    too_far = Verdict(agent="WebSurfer", step=2, candidates=[7, 9, 4])
    assert not score_verdict(too_far, gold).step_top3
    assert score_verdict(Verdict(agent="WebSurfer", step=4), gold).step_top3


def test_any_annotated_failure_counts_every_marked_step() -> None:
    gold = Label(
        agent="WebSurfer",
        step=9,
        failures=[
            AnnotatedFailure(agent="Orchestrator", step=3),
            AnnotatedFailure(agent="WebSurfer", step=9),
        ],
    )
    early = score_verdict(Verdict(agent="Orchestrator", step=3), gold)
    assert early.any_failure and not early.step
    assert score_verdict(Verdict(agent="WebSurfer", step=9), gold).any_failure
    assert not score_verdict(Verdict(agent="WebSurfer", step=5), gold).any_failure
    assert not score_verdict(Verdict(), gold).any_failure
