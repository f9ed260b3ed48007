"""`serve` and `eval` send their verdicts too: the worker hands each stored verdict to the
destinations of `--export-verdicts` (here a real OTLP receiver), and `eval` sends each verdict
it computes (never the resumed ones)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.export import open_sink
from agentracer.formats import load_file
from agentracer.serve.app import Service
from tests.conftest import EXAMPLE
from tests.export.receiver import LogsReceiver
from tests.formats.data.make_otel_traces import openinference_program, script
from tests.llm.loopback import ScriptedServer
from tests.serve.conftest import start_service  # noqa: F401  (fixture)
from tests.serve.test_receiver import wait_for

runner = CliRunner()


def test_serve_sends_each_verdict_onto_the_blamed_span(
    start_service: Callable[..., Service],  # noqa: F811
    tmp_path: Path,
) -> None:
    with LogsReceiver() as receiver:
        sink = open_sink(receiver.url)
        service = start_service(tmp_path / "store", on_verdict=[sink.send])
        with ScriptedServer() as model:
            model.script = script()
            exporter = OTLPSpanExporter(endpoint=f"{service.endpoint}/v1/traces")
            openinference_program(model.base_url, tmp_path / "run.json", exporter)
        [run] = load_file(tmp_path / "run.json")
        wait_for(lambda: receiver.records or None, timeout=60)
        delivery = sink.close()
    [event] = receiver.records
    assert (event.trace_id, event.span_id) == (run.id, run.steps[5].source_id)  # the Writer
    assert event.attributes["agentracer.tracer"] == "last-agent-step"
    assert delivery.sent == 1


def test_serve_refuses_an_unreachable_phoenix_before_starting() -> None:
    result = runner.invoke(app, ["serve", "--port", "0", "--phoenix", "http://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot be reached" in result.stderr


def test_eval_sends_computed_verdicts_only(tmp_path: Path) -> None:
    args = ["eval", "--bench", str(EXAMPLE), "--tracer", "last-agent-step",
            "--out", str(tmp_path / "run")]  # fmt: skip
    with LogsReceiver() as receiver:
        first = runner.invoke(app, [*args, "--export-verdicts", receiver.url])
        again = runner.invoke(app, [*args, "--export-verdicts", receiver.url])
    assert first.exit_code == 0 and again.exit_code == 0, first.output + again.output
    [event] = receiver.records  # the resumed run sent nothing again
    assert event.attributes["agentracer.trajectory.id"] == "failed_run"
    assert event.attributes["agentracer.agent"] == "Planner"
