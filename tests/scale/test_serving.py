"""A GGUF tracer served over HTTP by xllamacpp, used by `attribute` and by a Ray job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import ModelNotFoundError
from agentracer.llm import ConnectionSettings
from agentracer.scale.corpus import CorpusJob, attribute_corpus
from agentracer.scale.serving import serve_gguf
from agentracer.tracers import TracerSettings
from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def served(smollm2_path: Path) -> Any:
    server = serve_gguf(smollm2_path, port=0, alias="tracer", parallel=1, context_window=8192)
    yield f"{server.listening_address}/v1"
    del server


@pytest.mark.slow
def test_attribute_against_the_served_model(served: str) -> None:
    args = ["attribute", str(EXAMPLE), "--tracer", "all-at-once", "--model", "openai/tracer"]
    # a long timeout: a retried request would queue behind the one still being decoded
    args += ["--base-url", served, "--no-cache", "-o", "max_tokens=32", "--timeout", "900"]
    args += ["--json"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.output)["verdict"]
    assert verdict["tracer"] == "all-at-once" and verdict["raw_output"]
    assert verdict["usage"]["calls"] == 1 and verdict["usage"]["prompt_tokens"] > 0


@pytest.mark.slow
def test_a_ray_job_uses_the_served_model(ray_cluster: Any, served: str, tmp_path: Path) -> None:
    connection = ConnectionSettings(base_url=served, use_cache=False)
    settings = TracerSettings(
        model="openai/tracer", connection=connection, options={"max_tokens": 48}
    )
    out = tmp_path / "verdicts.jsonl"
    report = attribute_corpus(EXAMPLE, CorpusJob("all-at-once", settings, limit=2), out, ray=True)
    assert report.written == 1 and not report.failed
    row = json.loads(out.read_text())
    assert row["verdict"]["usage"]["calls"] == 1 and row["verdict"]["raw_output"]


def test_a_missing_gguf_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="no GGUF file"):
        serve_gguf(tmp_path / "missing.gguf")
