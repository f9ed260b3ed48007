"""A trained tracer exported to GGUF on its base, served by xllamacpp, used by `attribute`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from agentracer.training.export import ExportError, export_gguf


@pytest.fixture(scope="module")
def train_extra() -> None:
    try:
        import gguf  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("CI must install the [train] extra")
        pytest.skip("the [train] extra is not installed")


@pytest.fixture(scope="module")
def base_dir(
    train_extra: None, smollm2_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """SmolLM2-135M as the transformers model training starts from (converted from the GGUF)."""
    from agentracer.training.base_model import gguf_to_transformers

    return gguf_to_transformers(smollm2_path, tmp_path_factory.mktemp("export") / "base")


def _read_back(gguf_file: Path) -> dict[str, Any]:
    """The GGUF's weights as transformers' own GGUF loader reads them."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    return model.state_dict()


def _same_weights(exported: dict[str, Any], trained: dict[str, Any]) -> None:
    import torch

    for name, tensor in exported.items():  # float16 on export: close, not equal
        assert torch.allclose(tensor.float(), trained[name], atol=2e-3, rtol=1e-2), name


def test_what_cannot_be_exported_is_a_one_line_error(
    train_extra: None, smollm2_path: Path, tmp_path: Path
) -> None:
    with pytest.raises(ExportError, match="no GGUF model"):
        export_gguf(tmp_path, "tiny", tmp_path / "out.gguf")
    with pytest.raises(ExportError, match="holds no model"):
        export_gguf(tmp_path, smollm2_path, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()


@pytest.mark.slow
def test_a_trained_checkpoint_exports_serves_and_attributes(
    base_dir: Path, smollm2_path: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM
    from typer.testing import CliRunner

    from agentracer.cli import app
    from agentracer.scale.serving import serve_gguf
    from tests.conftest import EXAMPLE

    # what `agentracer train` leaves in OUTPUT_DIR/final: the base with changed weights
    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    with torch.no_grad():
        for layer in model.model.layers[:2]:
            layer.self_attn.q_proj.weight.mul_(1.05)
            layer.self_attn.k_proj.weight.add_(0.01)
    final = tmp_path / "run" / "final"
    model.save_pretrained(final)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    del model

    out = export_gguf(final, smollm2_path, tmp_path / "tracer.gguf")
    _same_weights(_read_back(out), trained)  # every weight, the permuted ones included

    server: Any = serve_gguf(out, port=0, alias="tracer", parallel=1, context_window=8192)
    try:
        args = ["attribute", str(EXAMPLE), "--tracer", "all-at-once", "--model", "openai/tracer"]
        args += ["--base-url", f"{server.listening_address}/v1", "--no-cache"]
        args += ["-o", "max_tokens=32", "--timeout", "900", "--json"]
        result = CliRunner().invoke(app, args)
    finally:
        del server
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)["verdict"]
    assert verdict["raw_output"] and verdict["usage"]["completion_tokens"] > 0


@pytest.mark.slow
def test_a_lora_adapter_is_merged_before_export(
    base_dir: Path, smollm2_path: Path, tmp_path: Path
) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
    name = "model.layers.0.self_attn.q_proj.weight"
    original = model.state_dict()[name].clone()
    # random A and B (not the usual B = 0), so the adapter changes the weights
    lora = LoraConfig(r=4, target_modules=["q_proj", "k_proj"], init_lora_weights=False)
    adapted = get_peft_model(model, lora)
    adapted.save_pretrained(tmp_path / "final")  # what train writes with `lora:` configured
    merged = {k: v.clone() for k, v in adapted.merge_and_unload().state_dict().items()}
    out = export_gguf(tmp_path / "final", smollm2_path, tmp_path / "tracer.gguf")
    exported = _read_back(out)
    _same_weights(exported, merged)
    assert not torch.allclose(exported[name].float(), original, atol=1e-3)
