"""One YAML file per training setup, validated before anything is loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agentracer.errors import AgenTracerError


class ConfigError(AgenTracerError):
    """A training config that cannot be used as written."""


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: list[str] | str = "all-linear"


class TrainConfig(BaseModel):
    """A GRPO run. Defaults are the paper's where it gives them (batch 32 prompts, 8 rollouts
    per prompt, learning rate 1e-6, no KL term)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="'tiny' (random, for tests), local/<embedded model> or a .gguf file "
        "(converted to transformers once), or a transformers model directory"
    )
    dataset: str = Field(description="who-and-when, tracertraj, or a path to a labelled dataset")
    subsets: list[str] | None = None
    data_dir: str | None = None
    output_dir: str
    with_ground_truth: bool = True
    max_prompt_chars: int = Field(default=24_000, gt=0)
    validation_fraction: float = 0.1
    seed: int = 0
    learning_rate: float = Field(default=1e-6, gt=0)
    batch_size: int = Field(default=32, gt=0, description="prompts per optimiser step")
    num_generations: int = Field(default=8, ge=2, description="rollouts per prompt (G)")
    per_device_batch_size: int | None = Field(
        default=None,
        gt=0,
        description="completions per device per forward pass; the rest is gradient "
        "accumulation (default: the whole step at once)",
    )
    max_completion_length: int = Field(default=1024, gt=0)
    max_steps: int = Field(default=200, gt=0)
    temperature: float = Field(default=1.0, gt=0)
    loss_type: str = Field(
        default="dapo", description="TRL's loss_type; 'dapo' is a token-level mean, like verl's"
    )
    epsilon0: float = Field(default=0.2, gt=0)
    epsilon_floor: float = Field(
        default=0.2, ge=0, le=1, description="the clip range never drops below floor * epsilon0"
    )
    reward_lambda: float = Field(default=0.5, ge=0, le=1)
    reward_sigma: float = Field(default=1.0, gt=0)
    format_warmup_steps: int = Field(
        default=0, ge=0, description="SFT steps on the answer format (random answers) first"
    )
    format_warmup_learning_rate: float | None = Field(
        default=None, gt=0, description="default: learning_rate"
    )
    save_steps: int = Field(default=50, gt=0)
    logging_steps: int = Field(default=1, gt=0)
    bf16: bool | None = Field(default=None, description="default: on when a GPU is there")
    gradient_checkpointing: bool = False
    use_vllm: bool = Field(default=False, description="generate rollouts with vLLM (GPU only)")
    vllm_mode: Literal["colocate", "server"] = "colocate"
    lora: LoraSettings | None = None


def load_config(path: str | Path) -> TrainConfig:
    """Read and validate a YAML config; a wrong key or value is one line naming it."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("no such config file", path=path) from None
    except yaml.YAMLError as error:
        raise ConfigError(f"not valid YAML ({str(error).splitlines()[0]})", path=path) from None
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of keys to values", path=path)
    try:
        return TrainConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(map(str, first["loc"]))
        message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
        raise ConfigError(f"{where}: {message}", path=path) from None
