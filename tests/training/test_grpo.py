"""The GRPO recipe, run for real on a tiny random model (seconds on a CPU)."""

import doctest
import json
import os
from pathlib import Path

import pytest

from agentracer.formats import Benchmark
from agentracer.training import schedule
from agentracer.training.config import ConfigError, TrainConfig, load_config
from agentracer.training.schedule import clip_range

REPO = Path(__file__).resolve().parents[2]


def _require_trl() -> None:
    try:
        import trl  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install the [train] extra")
        pytest.skip("the [train] extra is not installed")


def test_clip_range_decays_linearly_to_the_floor() -> None:
    assert clip_range(0, 100, 0.2) == 0.2
    assert clip_range(50, 100, 0.2) == pytest.approx(0.1)
    assert clip_range(90, 100, 0.2) == pytest.approx(0.04)  # the floor, 0.2 * 0.2
    assert clip_range(100, 100, 0.28, floor=0.5) == pytest.approx(0.14)
    assert doctest.testmod(schedule).failed == 0


def test_configs_are_validated_before_training(tmp_path: Path) -> None:
    assert load_config(REPO / "configs" / "tiny-cpu.yaml").model == "tiny"
    gpu = load_config(REPO / "configs" / "qwen3-8b-gpu.yaml")
    assert (gpu.batch_size, gpu.num_generations, gpu.learning_rate) == (32, 8, 1e-6)
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: tiny\ndataset: tracertraj\noutput_dir: x\nlearning_rat: 1\n")
    with pytest.raises(ConfigError, match="learning_rat: unknown key"):
        load_config(bad)
    bad.write_text("model: tiny\ndataset: tracertraj\noutput_dir: x\nbatch_size: many\n")
    with pytest.raises(ConfigError, match="batch_size: Input should be a valid integer"):
        load_config(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.yaml")


def tiny_config(data_dir: Path, output: Path, **changes: object) -> TrainConfig:
    """A tiny-model run on TracerTraj small enough for the test suite: 2 GRPO steps of one
    prompt with 4 rollouts, after one format warm-up step."""
    settings: dict[str, object] = dict(
        model="tiny", dataset="tracertraj", data_dir=str(data_dir), output_dir=str(output),
        max_prompt_chars=1500, learning_rate=1e-3, batch_size=1, num_generations=4,
        max_completion_length=16, max_steps=2, save_steps=1000, format_warmup_steps=1,
    )  # fmt: skip
    return TrainConfig.model_validate({**settings, **changes})


@pytest.fixture(scope="module")
def tiny_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One real 2-step GRPO run on the tiny model: (output dir, final checkpoint)."""
    _require_trl()
    from agentracer.training.grpo import train

    run = tmp_path_factory.mktemp("grpo") / "run"
    return run, train(tiny_config(data_dir, run))


def test_grpo_runs_on_the_tiny_model(tiny_run: tuple[Path, Path]) -> None:
    run, final = tiny_run
    assert (final / "config.json").is_file() and (final / "tokenizer.json").is_file()
    steps = [
        entry for entry in json.loads((run / "log_history.json").read_text()) if "reward" in entry
    ]
    assert [entry["step"] for entry in steps] == [1, 2]
    assert {"rewards/multi_granular_reward/mean", "rewards/format_reward/mean"} <= set(steps[0])
    # The clip range decays within the run: 0.2 for the first step, 0.1 for the second of two.
    assert [entry["clip_epsilon"] for entry in steps] == pytest.approx([0.2, 0.1])
    assert (run / "validation_ids.txt").read_text().splitlines()  # a held-out split


def test_bad_inputs_fail_before_training(tmp_path: Path, data_dir: Path) -> None:
    _require_trl()
    from agentracer.training.base_model import BaseModelError
    from agentracer.training.data import TrainingDataError
    from agentracer.training.grpo import train

    with pytest.raises(BaseModelError, match="not a transformers model directory"):
        train(
            TrainConfig(
                model=str(tmp_path),
                dataset="tracertraj",
                data_dir=str(data_dir),
                output_dir=str(tmp_path / "o"),
            )
        )
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(
        json.dumps({"question": "q", "history": [{"content": "x", "role": "A"}]}) + "\n"
    )
    with pytest.raises(TrainingDataError, match="have no gold label"):
        train(TrainConfig(model="tiny", dataset=str(unlabelled), output_dir=str(tmp_path / "o")))
    outside = tmp_path / "outside.jsonl"
    record = {"question": "q", "history": [{"content": "x", "name": "A", "role": "assistant"}]}
    outside.write_text(json.dumps({**record, "mistake_agent": "A", "mistake_step": "5"}) + "\n")
    with pytest.raises(
        TrainingDataError, match=r"1 record\(s\) of .* cannot be trained on; first: .*5"
    ):
        train(TrainConfig(model="tiny", dataset=str(outside), output_dir=str(tmp_path / "o")))
    assert not (tmp_path / "o").exists()


def test_the_train_command(data_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from agentracer.cli import app

    _require_trl()
    config = tmp_path / "tiny.yaml"
    text = (REPO / "configs" / "tiny-cpu.yaml").read_text()
    text = text.replace("data_dir: ../shared/data", f"data_dir: {data_dir}").replace(
        "output_dir: runs/train-tiny", f"output_dir: {tmp_path / 'out'}"
    )
    config.write_text(text.replace("max_steps: 4", "max_steps: 2"))
    result = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert (
        "final checkpoint:" in result.stdout
        and (tmp_path / "out" / "final" / "config.json").is_file()
    )
    config.write_text(text + "\nwarmup: 3\n")
    bad = CliRunner().invoke(app, ["train", "--config", str(config)])
    assert bad.exit_code == 2 and "warmup: unknown key" in bad.stderr


def test_a_trained_checkpoint_is_a_model_for_the_tracers(
    tiny_run: tuple[Path, Path], tmp_path: Path
) -> None:
    """The `hf/` backend loads what `train` saved, and a tracer produces a verdict with it."""
    import asyncio

    from agentracer.formats import load_one
    from agentracer.llm import ConnectionSettings, get_model
    from agentracer.tracers.agentracer import AgenTracerTracer
    from agentracer.tracers.llm_tracer import LLMTracerOptions
    from tests.conftest import EXAMPLE

    _, final = tiny_run
    model = get_model(f"hf/{final}", ConnectionSettings(use_cache=False))
    assert model.name == f"hf/{final}"
    verdict = asyncio.run(
        AgenTracerTracer(model, LLMTracerOptions(max_tokens=24)).attribute(load_one(EXAMPLE))
    )
    assert verdict.usage.calls == 1 and verdict.usage.completion_tokens > 0
    assert verdict.raw_output is not None
    # A 2-step random model rarely writes a readable answer; whatever it wrote, nothing outside
    # the run is ever reported as the verdict.
    if verdict.agent is not None:
        assert verdict.agent in load_one(EXAMPLE).agents
    with pytest.raises(Exception, match="not a transformers model directory"):
        get_model(f"hf/{tmp_path}")


def test_the_batch_is_prompts_times_rollouts_over_devices() -> None:
    from agentracer.training.grpo import batch_layout

    paper = TrainConfig(model="m", dataset="d", output_dir="o")  # 32 prompts x 8 rollouts
    assert batch_layout(paper, world_size=1) == (256, 1)
    assert batch_layout(paper, world_size=8) == (32, 1)
    small = paper.model_copy(update={"per_device_batch_size": 4})
    assert batch_layout(small, world_size=8) == (4, 8)  # 4 x 8 devices x 8 accumulation = 256
    with pytest.raises(ConfigError, match="do not split evenly into 8 device"):
        batch_layout(paper.model_copy(update={"per_device_batch_size": 3}), world_size=8)


def test_vllm_needs_a_gpu(tmp_path: Path, data_dir: Path) -> None:
    _require_trl()
    import torch

    from agentracer.training.grpo import train

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="use_vllm: vLLM generation needs a GPU"):
        train(tiny_config(data_dir, tmp_path / "o", use_vllm=True))
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def lora_run(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-step GRPO run with a LoRA adapter on the tiny model, format-warmed first."""
    _require_trl()
    from agentracer.training.config import LoraSettings
    from agentracer.training.grpo import train

    run = tmp_path_factory.mktemp("lora") / "run"
    return train(tiny_config(data_dir, run, lora=LoraSettings(r=4, alpha=8)))


def test_a_lora_adapter_is_saved_with_a_base_that_exists(lora_run: Path) -> None:
    adapter = json.loads((lora_run / "adapter_config.json").read_text())
    assert not (lora_run / "config.json").exists()
    # The warmed-up tiny model exists nowhere else, so the run saved it and the adapter names it.
    base = Path(adapter["base_model_name_or_path"])
    assert base == lora_run.parent / "base" and (base / "config.json").is_file()


def test_agentracer_eval_scores_a_trained_adapter(
    lora_run: Path, tracertraj: Benchmark, tmp_path: Path
) -> None:
    """`agentracer eval` runs the `agentracer` tracer on the checkpoint through the hf/ backend
    and writes a scored run directory."""
    from typer.testing import CliRunner

    from agentracer.cli import app

    held_out = (lora_run.parent / "validation_ids.txt").read_text().splitlines()[:3]
    trajectories = {t.id: t for _, t in tracertraj.trajectories()}
    dataset = tmp_path / "held_out.jsonl"
    dataset.write_text("".join(trajectories[i].model_dump_json() + "\n" for i in held_out))
    out = tmp_path / "eval"
    result = CliRunner().invoke(
        app,
        ["eval", "--bench", str(dataset), "--tracer", "agentracer", "--model", f"hf/{lora_run}",
         "-o", "max_tokens=24", "--out", str(out), "--no-cache", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    subset = json.loads((out / "summary.json").read_text())["subsets"]["dataset"]
    assert subset["n"] == 3 and subset["cost"]["calls"] >= 3
    assert sum(subset["parse"].values()) - subset["parse"]["direct"] == 3
    assert (out / "results.md").is_file()


def test_an_interrupted_run_resumes_from_its_last_checkpoint(
    data_dir: Path, tmp_path: Path
) -> None:
    _require_trl()
    from agentracer.training.grpo import train

    config = tiny_config(
        data_dir, tmp_path, num_generations=2, max_completion_length=8, save_steps=1,
        format_warmup_steps=0,
    )  # fmt: skip
    train(config)
    assert (tmp_path / "checkpoint-2").is_dir()
    train(config.model_copy(update={"max_steps": 3}), resume=True)
    history = json.loads((tmp_path / "log_history.json").read_text())
    # Steps 1 and 2 come back from the checkpoint's state; only step 3 was trained again.
    assert [e["step"] for e in history if "reward" in e] == [1, 2, 3]


def test_the_hf_backend_refuses_a_prompt_over_its_window(tiny_run: tuple[Path, Path]) -> None:
    """Over the window, the backend raises the same error a server's refusal becomes, so the
    tracers shorten the log and ask again."""
    import asyncio

    from agentracer.errors import ContextLengthError
    from agentracer.llm.hf import HFBackend
    from agentracer.llm.types import ChatRequest

    backend = HFBackend(tiny_run[1])
    backend.load()
    assert backend.context_window == 16_384
    backend.context_window = 40
    request = ChatRequest(messages=[{"role": "user", "content": "x " * 50}], max_tokens=8)
    with pytest.raises(ContextLengthError) as refused:
        asyncio.run(backend.complete(request))
    assert refused.value.context_window == 40 and refused.value.prompt_tokens > 40
