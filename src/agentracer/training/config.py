"""One YAML file per training setup, validated before anything is loaded."""

from __future__ import annotations

from pathlib import Path

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
    """A GRPO run. Defaults are the paper's where it gives them (batch 32, 8 rollouts per
    prompt, learning rate 1e-6, no KL term)."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(
        description="'tiny' (random, for tests) or a local transformers model directory"
    )
    dataset: str = Field(description="who-and-when, tracertraj, or a path to a labelled dataset")
    subsets: list[str] | None = None
    data_dir: str | None = None
    output_dir: str
    with_ground_truth: bool = True
    max_prompt_chars: int = 24_000
    validation_fraction: float = 0.1
    seed: int = 0
    learning_rate: float = 1e-6
    batch_size: int = 32
    num_generations: int = 8
    max_completion_length: int = 1024
    max_steps: int = 200
    temperature: float = 1.0
    epsilon0: float = 0.2
    epsilon_floor: float = Field(
        default=0.2, description="the clip range never drops below floor * epsilon0"
    )
    reward_lambda: float = 0.5
    reward_sigma: float = 1.0
    save_steps: int = 50
    logging_steps: int = 1
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
