from agentracer.formats import load_one
from agentracer.tracers import prompts
from tests.conftest import EXAMPLE

TRAJECTORY = load_one(EXAMPLE)
CONTENTS = [s.content for s in TRAJECTORY.steps]


def _user(messages: list[dict[str, str]]) -> str:
    assert messages[0]["role"] == "system"
    return messages[-1]["content"]


def test_ground_truth_only_in_the_with_g_setting() -> None:
    with_g = _user(
        prompts.all_at_once(TRAJECTORY, CONTENTS, with_ground_truth=True, numbered=False)
    )
    without = _user(
        prompts.all_at_once(TRAJECTORY, CONTENTS, with_ground_truth=False, numbered=False)
    )
    assert "The correct answer to the task: 190" in with_g
    assert "190" not in without


def test_all_at_once_numbers_entries_only_when_asked() -> None:
    plain = _user(
        prompts.all_at_once(TRAJECTORY, CONTENTS, with_ground_truth=False, numbered=False)
    )
    numbered = _user(
        prompts.all_at_once(TRAJECTORY, CONTENTS, with_ground_truth=False, numbered=True)
    )
    assert "\nPlanner: PLAN" in plain and "Step 0 - Planner: PLAN" not in plain
    assert "Step 0 - Planner: PLAN" in numbered and "Step 5 - Planner: FINAL ANSWER" in numbered
    assert "Planner, Time_Expert, Verification_Expert" in plain
    assert "Agent Name:" in plain and "Step Number:" in plain and "counted from 0" in plain


def test_step_by_step_shows_only_the_prefix() -> None:
    text = _user(prompts.step_by_step(TRAJECTORY, CONTENTS, 2, with_ground_truth=False))
    assert "Step 2 - Verification_Expert" in text and "Step 3 -" not in text
    assert "step 2 by Verification_Expert" in text


def test_binary_search_shows_the_range_with_absolute_numbers() -> None:
    text = _user(
        prompts.binary_search(TRAJECTORY, CONTENTS, (1, 2), (4, 5), with_ground_truth=False)
    )
    assert (
        "Step 0 -" not in text
        and "Step 1 - Time_Expert" in text
        and "Step 3 - Computer_terminal" in text
    )
    assert "first half (steps 1 to 2)" in text and "second half (steps 4 to 5)" in text


def test_agentracer_prompt_asks_for_the_contract() -> None:
    text = _user(prompts.agentracer(TRAJECTORY, CONTENTS, with_ground_truth=False))
    assert "<think></think>" in text and "<answer>agent | step</answer>" in text
    assert "Step 1 - Time_Expert" in text
