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


def test_step_by_step_shows_only_the_log_up_to_the_step_a_prefix_of_the_shared_one() -> None:
    text = _user(prompts.step_by_step(TRAJECTORY, CONTENTS, 2, with_ground_truth=False))
    assert "Step 2 - Verification_Expert" in text and "Step 3 -" not in text
    assert "step 2 by Verification_Expert" in text
    log_so_far = text.rsplit(prompts.SEPARATOR, 2)[0]
    shared = prompts.shared_prefix(TRAJECTORY, CONTENTS, with_ground_truth=False)
    assert shared.startswith(log_so_far + "\n") and log_so_far.endswith(CONTENTS[2])


def test_binary_search_shows_the_whole_log_and_asks_about_the_range_last() -> None:
    text = _user(
        prompts.binary_search(TRAJECTORY, CONTENTS, (1, 2), (4, 5), with_ground_truth=False)
    )
    assert "Step 0 - Planner" in text and "Step 3 - Computer_terminal" in text
    question = text.rsplit("Step 5 - Planner", 1)[1]
    assert "first half (steps 1 to 2)" in question and "second half (steps 4 to 5)" in question


def test_every_prompt_is_the_shared_prefix_then_its_question() -> None:
    prefix = prompts.shared_prefix(TRAJECTORY, CONTENTS, with_ground_truth=True)
    built = [
        prompts.all_at_once(TRAJECTORY, CONTENTS, with_ground_truth=True, numbered=True),
        prompts.agentracer(TRAJECTORY, CONTENTS, with_ground_truth=True),
        prompts.binary_search(TRAJECTORY, CONTENTS, (0, 2), (4, 5), with_ground_truth=True),
        prompts.binary_search(TRAJECTORY, CONTENTS, (4, 4), (5, 5), with_ground_truth=True),
    ]
    for messages in built:
        assert messages[0] == {"role": "system", "content": prompts.SYSTEM}
        assert _user(messages).startswith(prefix + prompts.SEPARATOR)
    # the prefix holds the task and every step; no call's question
    assert "190" in prefix and all(f"Step {i} - " in prefix for i in range(6))
    assert prefix.endswith(CONTENTS[-1]) and "half" not in prefix and "Answer" not in prefix


def test_the_runs_context_comes_first_and_is_not_a_step() -> None:
    told = TRAJECTORY.model_copy(update={"context": "  Policy: never book flights on Sundays.\n"})
    text = _user(prompts.binary_search(told, CONTENTS, (0, 2), (4, 5), with_ground_truth=False))
    policy = text.index("Policy: never book flights on Sundays.")
    assert policy < text.index("The task the system had to solve") < text.index("Step 0 - ")
    assert "Step 6" not in text  # not numbered as a step
    plain = _user(prompts.all_at_once(told, CONTENTS, with_ground_truth=False, numbered=False))
    assert plain.index("Policy: never book") < plain.index("Planner: PLAN")
    assert "not a step" not in _user(
        prompts.all_at_once(TRAJECTORY, CONTENTS, with_ground_truth=False, numbered=False)
    )


def test_agentracer_prompt_asks_for_the_contract() -> None:
    text = _user(prompts.agentracer(TRAJECTORY, CONTENTS, with_ground_truth=False))
    assert "<think></think>" in text and "<answer>agent | step</answer>" in text
    assert "Step 1 - Time_Expert" in text
