"""The GRPO recipe on TRL's `GRPOTrainer`: no KL term, G rollouts per prompt, the
multi-granular reward, and AgenTracer's clip range decaying linearly to a floor.

Needs the `[train]` extra (torch, transformers, trl, peft): on a CPU machine install
`torch==2.13.0` first, then `pip install -e .[train]`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.formats import load_benchmark
from agentracer.training.config import ConfigError, TrainConfig
from agentracer.training.data import build_examples, split_by_question
from agentracer.training.reward import format_reward, make_reward
from agentracer.training.schedule import clip_range

SPECIAL_TOKENS = ["<unk>", "<pad>", "<s>", "</s>", "<think>", "</think>", "<answer>", "</answer>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


def _require_stack() -> None:
    try:
        import torch  # noqa: F401
        import trl  # noqa: F401
    except ImportError:
        raise AgenTracerError(
            "training needs the [train] extra: pip install torch==2.13.0 && pip install -e '.[train]'"
        ) from None


def tiny_model(texts: list[str], *, vocab_size: int = 512, seed: int = 0) -> tuple[Any, Any]:
    """A randomly initialised 2-layer Llama and a byte-level BPE tokenizer trained on `texts`:
    real transformers objects, small enough for a GRPO step in well under a second on a CPU."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(seed)
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS)
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config), tokenizer


def _load_model(config: TrainConfig, examples: list[dict[str, Any]]) -> tuple[Any, Any]:
    if config.model == "tiny":
        texts = [m["content"] for e in examples for m in e["prompt"]]
        texts += [
            f"<think>.</think><answer>{e['gold_agent']} | {e['gold_step']}</answer>"
            for e in examples
        ]
        return tiny_model(texts, seed=config.seed)
    path = Path(config.model).expanduser()
    if not (path / "config.json").is_file():
        raise ConfigError(f"model: {path} is not a transformers model directory (no config.json)")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)


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


def train(config: TrainConfig) -> Path:
    """Run GRPO as configured; returns the directory of the final checkpoint. The output
    directory also gets `log_history.json` (reward, clip range, ... per step) and the ids of the
    held-out validation trajectories. Every check on the data and the model happens before the
    first step."""
    _require_stack()
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    bench = load_benchmark(config.dataset, config.subsets, config.data_dir)
    examples = build_examples(
        [t for _, t in bench.trajectories()],
        with_ground_truth=config.with_ground_truth,
        max_prompt_chars=config.max_prompt_chars,
    )
    train_examples, validation = split_by_question(
        examples, config.validation_fraction, config.seed
    )
    columns = ("prompt", "gold_agent", "gold_step")
    dataset = Dataset.from_list([{k: e[k] for k in columns} for e in train_examples])
    model, tokenizer = _load_model(config, examples)
    peft_config = None
    if config.lora is not None:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=config.lora.r, lora_alpha=config.lora.alpha, lora_dropout=config.lora.dropout,
            target_modules=config.lora.target_modules, task_type="CAUSAL_LM",
        )  # fmt: skip
    output = Path(config.output_dir)
    args = GRPOConfig(
        output_dir=str(output), learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size, num_generations=config.num_generations,
        max_completion_length=config.max_completion_length, max_steps=config.max_steps,
        temperature=config.temperature, beta=0.0, epsilon=config.epsilon0,
        logging_steps=config.logging_steps, save_steps=config.save_steps, seed=config.seed,
        report_to="none", use_cpu=not _has_gpu(),
    )  # fmt: skip
    rewards: list[Any] = [make_reward(config.reward_lambda, config.reward_sigma), format_reward]
    trainer = GRPOTrainer(
        model=model, processing_class=tokenizer, reward_funcs=rewards, args=args,
        train_dataset=dataset, peft_config=peft_config,
    )  # fmt: skip
    clip = _clip_callback(trainer, config)
    trainer.add_callback(clip)
    trainer.train()
    final = output / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    (output / "validation_ids.txt").write_text(
        "\n".join(e["trajectory_id"] for e in validation) + "\n"
    )
    history = [
        {**entry, "clip_epsilon": clip.epsilons[entry["step"]]}
        if entry.get("step") in clip.epsilons and "loss" in entry
        else entry
        for entry in trainer.state.log_history
    ]
    (output / "log_history.json").write_text(json.dumps(history, indent=1) + "\n")
    return final


def _has_gpu() -> bool:
    import torch

    return bool(torch.cuda.is_available())
