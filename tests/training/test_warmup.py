"""The format warm-up teaches the answer's shape, never the gold answer."""

import pytest

from agentracer.formats import Benchmark
from agentracer.training.data import build_examples
from agentracer.training.reward import format_reward, parse_answer
from agentracer.training.warmup import format_target, warmup_rows


def test_targets_pass_the_format_gate_and_never_name_the_gold_step(
    tracertraj: Benchmark,
) -> None:
    examples = build_examples([t for _, t in tracertraj.trajectories()], max_prompt_chars=2000)
    rows = warmup_rows(examples, seed=3)
    assert len(rows) == len(examples)
    for example, row in zip(examples, rows, strict=True):
        assert row["prompt"] == example["prompt"]
        [message] = row["completion"]
        assert format_reward([message["content"]]) == [1.0]
        answer = parse_answer(message["content"])
        assert answer is not None
        agent, step = answer
        assert [step, agent] in example["agent_steps"]
        if len(example["agent_steps"]) > 1:
            assert step != example["gold_step"]
    assert warmup_rows(examples, seed=3) == rows  # seeded


def test_a_run_with_one_agent_step_still_gets_a_target() -> None:
    example = {"prompt": [], "gold_agent": "A", "gold_step": 0, "agent_steps": [[0, "A"]]}
    [row] = warmup_rows([example])
    assert row["completion"][0]["content"] == format_target("A", 0)


def test_the_tiny_tokenizer_keeps_the_format_tags_when_decoding() -> None:
    """TRL decodes completions with skip_special_tokens before the reward reads them."""
    pytest.importorskip("transformers")
    from agentracer.training.base_model import tiny_model

    target = format_target("Time_Expert", 3)
    _, tokenizer = tiny_model(["Find the first decisive mistake. Time_Expert", target])
    ids = tokenizer(target)["input_ids"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == target
    assert "<think>" in tokenizer.convert_ids_to_tokens(ids)
