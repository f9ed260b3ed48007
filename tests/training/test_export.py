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
    train_extra: None, smollm2_path: Path, tmp_path: Path
) -> None:
    import torch
    from transformers import AutoModelForCausalLM
    from typer.testing import CliRunner

    from agentracer.cli import app
    from agentracer.scale.serving import serve_gguf
    from agentracer.training.base_model import gguf_to_transformers
    from tests.conftest import EXAMPLE

    # what `agentracer train` leaves in OUTPUT_DIR/final: the base with changed weights
    base = gguf_to_transformers(smollm2_path, tmp_path / "base")
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    with torch.no_grad():
        for layer in model.model.layers[:2]:
            layer.self_attn.q_proj.weight.mul_(1.05)
            layer.self_attn.k_proj.weight.add_(0.01)
    final = tmp_path / "run" / "final"
    model.save_pretrained(final)
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    del model

    out = export_gguf(final, smollm2_path, tmp_path / "tracer.gguf")
    # read back by transformers' own GGUF loader: every weight, the permuted ones included
    back = AutoModelForCausalLM.from_pretrained(str(out.parent), gguf_file=out.name)
    for name, tensor in back.state_dict().items():
        assert torch.allclose(tensor.float(), trained[name], atol=2e-3, rtol=1e-2), name
    del back

    server: Any = serve_gguf(out, port=0, alias="tracer", parallel=1, context_window=8192)
    try:
        args = ["attribute", str(EXAMPLE), "--tracer", "all-at-once", "--model", "openai/tracer"]
        args += ["--base-url", f"{server.listening_address}/v1", "--no-cache"]
        args += ["-o", "max_tokens=32", "--timeout", "900", "--json"]
        result = CliRunner().invoke(app, args)
    finally:
        del server
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)
    assert verdict["raw_output"] and verdict["usage"]["completion_tokens"] > 0
