"""The released Who&When scorer's rules, on hand-computed predictions.

Each expected figure below was worked out by hand from the rules of `Automated_FA/evaluate.py`
(first `Agent Name:\\s*([\\w_]+)` and `Step Number:\\s*(\\d+)`, labels case-insensitive, both
needed, case-sensitive `gold in predicted`, denominator = every record file).
"""

import pytest

from agentracer.evaluation.official import (
    official_hits,
    official_score,
    printed_text,
    read_prediction,
)
from agentracer.trajectory import Label, Verdict


def _answer(text: str) -> Verdict:
    return Verdict(tracer="all-at-once", raw_output=text, parse_status="parsed")


def test_agent_name_stops_at_the_first_non_word_character() -> None:
    prediction = read_prediction("Agent Name: Blu-Ray_Expert\nStep Number: 3")
    assert prediction is not None and prediction.agent == "Blu"
    # so a gold `Blu-Ray_Expert` is never a hit, even for a perfect answer
    assert official_hits(prediction, Label(agent="Blu-Ray_Expert", step=3)) == (False, True)


def test_step_containment_counts_14_for_gold_4() -> None:
    prediction = read_prediction("Agent Name: WebSurfer\nStep Number: 14")
    assert official_hits(prediction, Label(agent="WebSurfer", step=4)) == (True, True)
    assert official_hits(prediction, Label(agent="WebSurfer", step=41)) == (True, False)


def test_agent_containment_is_case_sensitive_but_the_labels_are_not() -> None:
    prediction = read_prediction("agent name: websurfer_2\nSTEP NUMBER: 4")
    assert prediction is not None and prediction.agent == "websurfer_2"
    assert official_hits(prediction, Label(agent="WebSurfer", step=4)) == (False, True)
    assert official_hits(prediction, Label(agent="websurfer", step=4)) == (True, True)


@pytest.mark.parametrize(
    "text",
    [
        "**Agent Name:** WebSurfer\n**Step Number:** 4",  # markdown after the colon
        "Agent Name: WebSurfer",  # no step
        "Step Number: 4",  # no agent
        "The mistake was made by WebSurfer at step 4.",
        "",
    ],
)
def test_unreadable_answers_are_not_predictions(text: str) -> None:
    assert read_prediction(text) is None


def test_the_first_match_wins() -> None:
    prediction = read_prediction(
        "Agent Name: Orchestrator\nStep Number: 2\nAgent Name: WebSurfer\nStep Number: 4"
    )
    assert prediction is not None and (prediction.agent, prediction.step) == ("Orchestrator", "2")


def test_raw_text_is_cut_where_the_next_prediction_block_would_begin() -> None:
    verdict = _answer("Prediction for x.json:\nAgent Name: WebSurfer\nStep Number: 4")
    assert read_prediction(printed_text(verdict)) is None


def test_raw_text_not_the_parsed_verdict_for_all_at_once() -> None:
    # our parser normalised the answer to the right agent; the released script reads raw text
    verdict = Verdict(
        agent="Blu-Ray_Expert",
        step=4,
        tracer="all-at-once",
        raw_output="Agent Name: Blu-Ray Expert\nStep Number: 4",
        parse_status="parsed",
    )
    assert official_hits(
        read_prediction(printed_text(verdict)), Label(agent="Blu-Ray_Expert", step=4)
    ) == (
        False,
        True,
    )


def test_other_tracers_are_printed_as_the_released_inference_script_printed_them() -> None:
    verdict = Verdict(agent="WebSurfer", step=14, tracer="random")
    assert printed_text(verdict) == "Agent Name: WebSurfer\nStep Number: 14"
    assert printed_text(Verdict(agent=None, step=None, tracer="step-by-step")) is None


def test_denominator_is_every_record() -> None:
    gold = Label(agent="WebSurfer", step=4)
    scored = [
        (_answer("Agent Name: WebSurfer\nStep Number: 4"), gold),  # agent + step
        (_answer("Agent Name: WebSurfer_2\nStep Number: 14"), gold),  # agent + step (containment)
        (_answer("Agent Name: Orchestrator\nStep Number: 4"), gold),  # step only
        (_answer("I think WebSurfer erred at step 4"), gold),  # unparsed: counted, never a hit
        (
            Verdict(agent="Blu-Ray_Expert", step=4, tracer="random"),
            Label(agent="Blu-Ray_Expert", step=4),
        ),
    ]
    # plus 2 records that failed (tracer error) or did not load: 7 records in all
    score = official_score(scored, records=7)
    assert (score.agent_hits, score.step_hits, score.predicted) == (2, 4, 4)
    assert score.agent_accuracy == pytest.approx(2 / 7)
    assert score.step_accuracy == pytest.approx(4 / 7)
    assert score.as_dict()["records"] == 7
    with pytest.raises(ValueError):
        official_score(scored, records=3)
