"""The model a training run starts from, as one spec string:

- `tiny`: a randomly initialised 2-layer Llama with a small tokenizer trained on the data (for
  tests and the CPU benchmark: it checks the pipeline, it does not make a useful tracer);
- `local/<name>` (e.g. `local/smollm2-135m`) or a path to a `.gguf` file: a llama.cpp model
  turned into a trainable transformers model (weights de-quantised to float32), converted once
  and kept beside the GGUF;
- a transformers model directory (a Hub snapshot, a checkpoint of a previous run).

Needs the `[train]` extra.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError, ModelNotFoundError
from agentracer.llm.models import local_model_file, models_dir
from agentracer.training.warmup import format_target

SPECIAL_TOKENS = ["<unk>", "<pad>", "<s>", "</s>"]
# One token each, but not "special": decoding with skip_special_tokens (as TRL does before the
# reward reads a completion) must keep them.
FORMAT_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant\n{% endif %}"
)


class BaseModelError(AgenTracerError):
    """A base model spec that names nothing trainable."""


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
    bpe.add_tokens(FORMAT_TOKENS)
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
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=16_384,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return LlamaForCausalLM(config), tokenizer


def gguf_source(spec: str) -> Path | None:
    """The GGUF file a spec names (`local/<name>` as the LLM layer reads it, or a `.gguf`
    path; an embedded model is fetched on first use), or None when the spec is no GGUF model."""
    if not (spec.startswith("local/") or spec.endswith(".gguf")):
        return None
    try:
        return local_model_file(spec.removeprefix("local/"))
    except ModelNotFoundError as error:
        raise BaseModelError(f"model: {error.message}") from None


def converted_dir(gguf: Path) -> Path:
    """Where the transformers copy of a GGUF model is kept."""
    return models_dir() / "transformers" / gguf.stem


def gguf_to_transformers(gguf: Path, into: Path | None = None) -> Path:
    """Turn a GGUF model into a transformers model directory (float32 weights, the GGUF's
    tokenizer and chat template); done once, later calls return the saved directory."""
    into = into or converted_dir(gguf)
    if (into / "config.json").is_file():
        return into
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except ImportError as error:
        raise BaseModelError(f"cannot read {gguf}: {error}") from None
    except (ValueError, OSError) as error:
        raise BaseModelError(f"cannot turn {gguf} into a transformers model: {error}") from None
    # The weights are de-quantised on load; left in place, the GGUF quantiser would be saved
    # with them and the directory would not load back.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    partial = into.with_name(into.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    model.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    partial.replace(into)  # a run killed mid-save leaves no half model behind
    return into


def model_directory(spec: str) -> Path:
    """The transformers directory a (non-tiny) spec stands for, converting a GGUF if need be.
    A spec that names nothing loadable is a one-line `BaseModelError`."""
    gguf = gguf_source(spec)
    if gguf is not None:
        return gguf_to_transformers(gguf)
    path = Path(spec).expanduser()
    if not (path / "config.json").is_file():
        raise BaseModelError(
            f"model: {path} is not a transformers model directory (no config.json); "
            "use 'tiny', local/<embedded model>, a .gguf file or a model directory"
        )
    return path


def tokenizer_texts(examples: list[dict[str, Any]]) -> list[str]:
    """What the tiny model's tokenizer is trained on: the prompts and answers in the format."""
    texts = [m["content"] for e in examples for m in e["prompt"]]
    return texts + [
        format_target(agent, step) for e in examples for step, agent in e["agent_steps"]
    ]


def load_base_model(spec: str, examples: list[dict[str, Any]], seed: int = 0) -> tuple[Any, Any]:
    """(model, tokenizer) for a spec; the tiny model's tokenizer is trained on `examples`."""
    if spec == "tiny":
        return tiny_model(tokenizer_texts(examples), seed=seed)
    path = model_directory(spec)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(path), AutoTokenizer.from_pretrained(path)
