"""An optional supervised warm-up on the answer *format*, before GRPO.

The format gate makes every reward 0 until a completion is `<think>...</think><answer>agent |
step</answer>`. A model that never writes that by chance (a random tiny model, a 135M model
that has not seen the tag convention) gets all-zero groups, hence no advantage and no gradient.
The warm-up teaches the shape only: each target answer names a step drawn at random among the
run's own agent steps, never the gold one, so what GRPO later learns about *which* step is to
blame comes from the reward alone. The paper's Qwen3-8B needed no warm-up (its GPU config keeps
it off).

Needs the `[train]` extra.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

WARMUP_THINKING = "Find the first decisive mistake."


def format_target(agent: str, step: int) -> str:
    """A completion in the exact format the reward's gate accepts."""
    return f"<think>{WARMUP_THINKING}</think><answer>{agent} | {step}</answer>"


def warmup_rows(examples: list[dict[str, Any]], seed: int = 0) -> list[dict[str, Any]]:
    """Prompt/completion rows for TRL's SFT: one per example, the answer a random agent step of
    that run (drawn again when it happens to be the gold step, if the run has another)."""
    rng = random.Random(seed)
    rows = []
    for example in examples:
        gold = (example["gold_step"], example["gold_agent"])
        choices = [tuple(pair) for pair in example["agent_steps"] if tuple(pair) != gold]
        step, agent = rng.choice(choices or [tuple(pair) for pair in example["agent_steps"]])
        rows.append(
            {
                "prompt": example["prompt"],
                "completion": [{"role": "assistant", "content": format_target(agent, step)}],
            }
        )
    return rows


def format_warmup(
    model: Any,
    tokenizer: Any,
    examples: list[dict[str, Any]],
    *,
    steps: int,
    learning_rate: float,
    batch_size: int,
    output_dir: Path,
    seed: int = 0,
    use_cpu: bool = True,
) -> Any:
    """`steps` optimiser steps of SFT (loss on the completion only) on `warmup_rows`; returns the
    trained model (the same object, updated in place)."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        output_dir=str(output_dir), max_steps=steps, learning_rate=learning_rate,
        per_device_train_batch_size=batch_size, completion_only_loss=True, packing=False,
        save_strategy="no", report_to="none", logging_steps=1, seed=seed, use_cpu=use_cpu,
        bf16=not use_cpu, lr_scheduler_type="constant", max_length=None,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(warmup_rows(examples, seed)),
        processing_class=tokenizer,
    )
    trainer.train()
    return trainer.model
