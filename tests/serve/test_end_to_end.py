"""Done-when: an app instrumented with the OpenTelemetry SDK (and one with OpenInference),
pointed at OTEL_EXPORTER_OTLP_ENDPOINT, shows up in `agentracer traces list` with a verdict.

These go through the real importers of the format registry (no stand-in assembler).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.serve.app import Service
from tests.llm.loopback import Reply, ScriptedServer, completion
from tests.serve.test_receiver import wait_for

APPS = Path(__file__).parent / "apps"
runner = CliRunner()


def run_app(script: str, endpoint: str, **env: str) -> None:
    result = subprocess.run(
        [sys.executable, str(APPS / script)],
        env={**os.environ, "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def listed_with_verdict(store: Path) -> dict:
    def ready() -> dict | None:
        result = runner.invoke(app, ["traces", "list", "--store", str(store), "--json"])
        assert result.exit_code == 0, result.output
        rows = json.loads(result.stdout)["traces"]
        return rows[0] if rows and rows[0]["verdict"] else None

    return wait_for(ready, timeout=60)


def test_opentelemetry_genai_app_shows_up_with_a_verdict(
    start_service: Callable[..., Service], tmp_path: Path
) -> None:
    service = start_service(tmp_path / "store", assembler=None, tracer="last-agent-step")
    run_app("genai_app.py", service.endpoint)
    row = listed_with_verdict(tmp_path / "store")
    assert row["failed"] is True and row["state"] == "done"
    assert {"Planner", "Solver"} <= set(row["agents"])
    assert row["verdict"]["agent"] == "Solver" and row["verdict"]["tracer"] == "last-agent-step"
    result = runner.invoke(
        app, ["traces", "show", row["trace_id"], "--store", str(tmp_path / "store")]
    )
    assert result.exit_code == 0 and "205 minutes" in result.stdout


def test_openinference_app_shows_up_with_a_verdict(
    start_service: Callable[..., Service], tmp_path: Path
) -> None:
    answers = iter(["Plan: Solver, count the minutes.", "3 h 25 min = 205 minutes."])
    with ScriptedServer(
        default=lambda body: Reply(body=completion(next(answers, "done")))
    ) as model:
        service = start_service(tmp_path / "store", assembler=None, tracer="last-agent-step")
        run_app("openinference_app.py", service.endpoint, OPENAI_BASE_URL=model.base_url)
        assert len(model.requests) == 2
    row = listed_with_verdict(tmp_path / "store")
    assert row["failed"] is True
    assert {"Planner", "Solver"} <= set(row["agents"])
    assert row["verdict"]["agent"] == "Solver"
