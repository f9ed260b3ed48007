"""The GRPO recipe on TRL's `GRPOTrainer`: no KL term, G rollouts per prompt, the
multi-granular reward, and AgenTracer's clip range decaying linearly to a floor.

Needs the `[train]` extra (torch, transformers, trl, peft): on a CPU machine install
`torch==2.13.0` first, then `pip install -e .[train]`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from agentracer.errors import INSTALL_TRAIN_EXTRA, AgenTracerError
from agentracer.formats import load_benchmark
from agentracer.training.base_model import load_base_model
from agentracer.training.config import ConfigError, TrainConfig
from agentracer.training.data import build_examples, split_by_question, trajectories_of
from agentracer.training.reward import format_reward, make_reward
from agentracer.training.schedule import clip_range
from agentracer.training.warmup import format_warmup


def _require_stack() -> None:
    try:
        import torch  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        raise AgenTracerError(f"training needs the [train] extra: {INSTALL_TRAIN_EXTRA}") from None


def batch_layout(config: TrainConfig, world_size: int) -> tuple[int, int]:
    """(completions per device per forward pass, gradient accumulation steps) so that one
    optimiser step sees `batch_size` prompts with `num_generations` rollouts each, over all
    devices."""
    completions = config.batch_size * config.num_generations
    per_device = config.per_device_batch_size or max(1, completions // world_size)
    if completions % (per_device * world_size):
        raise ConfigError(
            f"per_device_batch_size: {completions} completions per step ({config.batch_size} "
            f"prompts x {config.num_generations} rollouts) do not split evenly into "
            f"{world_size} device(s) x {per_device}"
        )
    return per_device, completions // (per_device * world_size)


def _clip_callback(trainer: Any, config: TrainConfig) -> Any:
    """A callback that sets the trainer's clip range before every optimiser step and keeps
    the value it set, by step, in `.epsilons`."""
    from transformers import TrainerCallback

    class DynamicClip(TrainerCallback):  # type: ignore[misc]
        def __init__(self) -> None:
            self.epsilons: dict[int, float] = {}

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            epsilon = clip_range(
                state.global_step, state.max_steps, config.epsilon0, config.epsilon_floor
            )
            trainer.epsilon_low = trainer.epsilon_high = epsilon
            self.epsilons[state.global_step + 1] = epsilon

    return DynamicClip()


def train(config: TrainConfig, *, resume: bool = False) -> Path:
    """Run GRPO as configured; returns the directory of the final checkpoint (the full model,
    or the LoRA adapter with its base saved beside it). The output directory also gets
    `log_history.json` (reward, format rate, clip range, ... per step) and the ids of the
    held-out validation trajectories. Every check on the config, the data and the model happens
    before the first step; `resume` continues from the last checkpoint in the output directory."""
    _require_stack()
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    gpu = _has_gpu()
    if config.use_vllm and not gpu:
        raise ConfigError("use_vllm: vLLM generation needs a GPU")
    per_device, accumulation = batch_layout(config, int(os.environ.get("WORLD_SIZE", "1")))
    bench = load_benchmark(config.dataset, config.subsets, config.data_dir)
    examples = build_examples(
        trajectories_of(bench),
        with_ground_truth=config.with_ground_truth,
        max_prompt_chars=config.max_prompt_chars,
    )
    train_examples, validation = split_by_question(
        examples, config.validation_fraction, config.seed
    )
    if not train_examples:
        raise ConfigError("validation_fraction: no example is left for training")
    columns = ("prompt", "gold_agent", "gold_step")
    dataset = Dataset.from_list([{k: e[k] for k in columns} for e in train_examples])
    model, tokenizer = _starting_model(config, examples, train_examples, per_device, resume, gpu)
    output = Path(config.output_dir)
    output.mkdir(parents=True, exist_ok=True)
    (output / "validation_ids.txt").write_text(
        "".join(e["trajectory_id"] + "\n" for e in validation)
    )
    peft_config = None
    if config.lora is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
            target_modules=config.lora.target_modules, task_type="CAUSAL_LM",
        )  # fmt: skip
    bf16 = gpu if config.bf16 is None else config.bf16
    args = GRPOConfig(
        output_dir=str(output), learning_rate=config.learning_rate,
        per_device_train_batch_size=per_device, gradient_accumulation_steps=accumulation,
        num_generations=config.num_generations, max_completion_length=config.max_completion_length,
        max_steps=config.max_steps, temperature=config.temperature, beta=0.0,
        epsilon=config.epsilon0, loss_type=config.loss_type,
        # R is the first function alone; the format rate is logged beside it, not added to it.
        reward_weights=[1.0, 0.0],
        logging_steps=config.logging_steps, save_steps=config.save_steps, seed=config.seed,
        bf16=bf16, gradient_checkpointing=config.gradient_checkpointing,
        use_vllm=config.use_vllm, vllm_mode=config.vllm_mode,
        report_to="none", use_cpu=not gpu,
    )  # fmt: skip
    rewards: list[Any] = [make_reward(config.reward_lambda, config.reward_sigma), format_reward]
    trainer = GRPOTrainer(
        model=model, processing_class=tokenizer, reward_funcs=rewards, args=args,
        train_dataset=dataset, peft_config=peft_config,
    )  # fmt: skip
    clip = _clip_callback(trainer, config)
    trainer.add_callback(clip)
    trainer.train(resume_from_checkpoint=resume and _has_checkpoint(output))
    final = output / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    history = [
        {**entry, "clip_epsilon": clip.epsilons[entry["step"]]}
        if entry.get("step") in clip.epsilons and "loss" in entry
        else entry
        for entry in trainer.state.log_history
    ]
    (output / "log_history.json").write_text(json.dumps(history, indent=1) + "\n")
    return final


def _has_checkpoint(output: Path) -> bool:
    return any(output.glob("checkpoint-*"))


def _starting_model(
    config: TrainConfig,
    examples: list[dict[str, Any]],
    train_examples: list[dict[str, Any]],
    per_device: int,
    resume: bool,
    gpu: bool,
) -> tuple[Any, Any]:
    """The model GRPO starts from: the base, format-warmed when configured. A LoRA adapter must
    name a base that exists on disk, so a base that exists nowhere else (the tiny model, a
    warmed-up model) is saved to `<output>/base` first, and a resumed run starts from there."""
    output = Path(config.output_dir)
    saved_base = output / "base"
    if resume and (saved_base / "config.json").is_file():
        return load_base_model(str(saved_base), [], config.seed)
    model, tokenizer = load_base_model(config.model, examples, config.seed)
    warm = config.format_warmup_steps > 0 and not (resume and _has_checkpoint(output))
    if warm:
        model = format_warmup(
            model, tokenizer, train_examples, steps=config.format_warmup_steps,
            learning_rate=config.format_warmup_learning_rate or config.learning_rate,
            batch_size=min(per_device, len(train_examples)), output_dir=output / "warmup",
            seed=config.seed, use_cpu=not gpu,
        )  # fmt: skip
    if config.lora is not None and (warm or config.model == "tiny"):
        model.save_pretrained(saved_base)
        tokenizer.save_pretrained(saved_base)
        model.name_or_path = model.config._name_or_path = str(saved_base.resolve())
    return model, tokenizer


def _has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())
