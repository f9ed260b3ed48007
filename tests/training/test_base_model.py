"""Base models for training: spec errors, and the embedded SmolLM2 GGUF turned into a real
transformers model, trained for a step and used as a tracer."""

import asyncio
import json
import os
from pathlib import Path

import pytest

from agentracer.training.base_model import BaseModelError, model_directory

REPO = Path(__file__).resolve().parents[2]


def test_specs_that_name_nothing_trainable_fail_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(BaseModelError, match="not a transformers model directory"):
        model_directory(str(tmp_path))
    with pytest.raises(BaseModelError, match="model: no model file at"):
        model_directory(str(tmp_path / "absent.gguf"))
    with pytest.raises(BaseModelError, match="model: no model file at"):
        model_directory(f"local/{tmp_path / 'absent.gguf'}")


@pytest.fixture(scope="module")
def smollm2_dir(smollm2_path: Path) -> Path:
    """SmolLM2-135M-Instruct as a transformers directory (converted once, then cached)."""
    try:
        import gguf  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install the [train] extra")
        pytest.skip("the [train] extra is not installed")
    return model_directory("local/smollm2-135m")


@pytest.mark.slow
def test_smollm2_from_the_gguf_is_a_transformers_model(smollm2_dir: Path) -> None:
    from agentracer.formats import load_one
    from agentracer.llm import ConnectionSettings, get_model
    from agentracer.tracers.agentracer import AgenTracerTracer
    from agentracer.tracers.llm_tracer import LLMTracerOptions
    from tests.conftest import EXAMPLE

    config = json.loads((smollm2_dir / "config.json").read_text())
    assert config["model_type"] == "llama" and "quantization_config" not in config
    assert (smollm2_dir / "chat_template.jinja").is_file()
    assert model_directory("local/smollm2-135m") == smollm2_dir  # converted once
    model = get_model(f"hf/{smollm2_dir}", ConnectionSettings(use_cache=False))
    verdict = asyncio.run(
        AgenTracerTracer(model, LLMTracerOptions(max_tokens=16)).attribute(load_one(EXAMPLE))
    )
    assert verdict.usage.completion_tokens > 0 and verdict.raw_output


@pytest.mark.slow
def test_the_smollm2_config_trains(smollm2_dir: Path, tmp_path: Path) -> None:
    """configs/smollm2-cpu.yaml, reduced to one warm-up step and one GRPO step on the short
    example run (CI's reduced form of the real-model run)."""
    from typer.testing import CliRunner

    from agentracer.cli import app
    from tests.conftest import EXAMPLE

    text = (REPO / "configs" / "smollm2-cpu.yaml").read_text()
    for key, value in {
        "dataset": str(EXAMPLE), "output_dir": str(tmp_path / "run"), "batch_size": "1",
        "num_generations": "2", "max_completion_length": "8", "max_steps": "1",
        "format_warmup_steps": "1",
    }.items():  # fmt: skip
        text = "\n".join(
            f"{key}: {value}" if line.startswith(f"{key}:") else line for line in text.splitlines()
        )
    config = tmp_path / "smollm2.yaml"
    config.write_text(text + "\nvalidation_fraction: 0\n")
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 0, result.output
    final = tmp_path / "run" / "final"
    assert json.loads((final / "config.json").read_text())["model_type"] == "llama"
    history = json.loads((tmp_path / "run" / "log_history.json").read_text())
    assert [e["step"] for e in history if "reward" in e] == [1]
