"""Verdicts as OpenTelemetry `gen_ai.evaluation.result` events, sent by the SDK's own OTLP log
exporter to a real receiver that decodes the protobuf request (`receiver.py`)."""

from __future__ import annotations

import json
import socket
import time

import pytest
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import ExportError
from agentracer.export import open_sink
from agentracer.export.otlp import EVENT_NAME, logs_endpoint
from agentracer.formats import load_file
from agentracer.trajectory import Verdict
from tests.conftest import EXAMPLE
from tests.export.receiver import LogsReceiver
from tests.formats.otel_helpers import OPENINFERENCE, WRONG, span_holding

runner = CliRunner()


def test_attribute_sends_the_event_onto_the_blamed_span() -> None:
    writer_span = span_holding(OPENINFERENCE, "llm.output_messages.0.message.content", WRONG)
    with LogsReceiver() as receiver:
        result = runner.invoke(
            app,
            ["attribute", str(OPENINFERENCE), "--tracer", "last-agent-step", "--json",
             "--export-verdicts", receiver.url],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)["verdict"]
    [event] = receiver.records
    assert receiver.paths == ["/v1/logs"]
    assert event.event_name == EVENT_NAME == "gen_ai.evaluation.result"
    # parented to the blamed step's span, ids kept from the import
    assert event.trace_id == writer_span["traceId"] and event.span_id == writer_span["spanId"]
    attributes = event.attributes
    assert attributes["gen_ai.evaluation.name"] == "agentracer.blame"
    assert attributes["gen_ai.evaluation.score.label"] == "blamed"
    assert attributes["gen_ai.evaluation.score.value"] == pytest.approx(verdict["confidence"])
    assert verdict["reason"] in attributes["gen_ai.evaluation.explanation"]
    assert WRONG in attributes["gen_ai.evaluation.explanation"]  # the evidence quote
    assert attributes["agentracer.agent"] == "Writer" and attributes["agentracer.step"] == 5
    assert attributes["agentracer.tracer"] == "last-agent-step"
    assert attributes["agentracer.category"] == verdict["category"]
    assert attributes["agentracer.suggested_fix"] == verdict["suggested_fix"]
    resource = {a["key"]: a["value"].get("stringValue") for a in event.resource["attributes"]}
    assert resource["service.name"] == "agentracer"
    assert "1 sent, 0 not delivered" in result.stderr


def test_a_model_tracer_names_its_model(scripted, cache_dir) -> None:
    from tests.llm.loopback import Reply, completion

    scripted.default = Reply(
        body=completion("Agent Name: Writer\nStep Number: 5\nReason for Mistake: 21.0 million")
    )
    with LogsReceiver() as receiver:
        result = runner.invoke(
            app,
            ["attribute", str(OPENINFERENCE), "--tracer", "all-at-once", "--model",
             "openai/scripted", "--base-url", scripted.base_url, "--export-verdicts", receiver.url],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    [event] = receiver.records
    assert event.attributes["agentracer.model"] == "openai/scripted"
    assert "gen_ai.evaluation.score.value" not in event.attributes  # this tracer gives none


def test_the_standard_variables_name_the_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    with LogsReceiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-team=agents")
        result = runner.invoke(
            app,
            ["attribute", str(OPENINFERENCE), "--tracer", "last-agent-step",
             "--export-verdicts", "env"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert len(receiver.records) == 1 and receiver.paths == ["/v1/logs"]


def test_a_transient_failure_is_retried_by_the_sdk() -> None:
    with LogsReceiver(fail_first=1) as receiver:
        [trajectory] = load_file(OPENINFERENCE)
        sink = open_sink(receiver.url)
        sink.send(trajectory, Verdict(agent="Writer", step=5, reason="r", tracer="t"))
        delivery = sink.close(timeout=20)
    assert receiver.requests == 2 and len(receiver.records) == 1
    assert delivery.sent == 1 and delivery.failed == 0


def test_a_run_without_span_ids_sends_an_unparented_event() -> None:
    with LogsReceiver() as receiver:
        result = runner.invoke(
            app, ["attribute", str(EXAMPLE), "--tracer", "last-agent-step",
                  "--export-verdicts", receiver.url + "/v1/logs"],
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    [event] = receiver.records
    assert event.trace_id == "" and event.span_id == ""  # no parent to invent
    assert event.attributes["agentracer.trajectory.id"] == "failed_run"


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_never_fails_the_attribution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")  # seconds, as the spec reads it
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    result = runner.invoke(
        app, ["attribute", str(OPENINFERENCE), "--tracer", "last-agent-step", "--json",
              "--export-verdicts", url],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["verdict"]["agent"] == "Writer"  # the verdict is printed
    assert "warning:" in result.stderr and "1 not delivered" in result.stderr
    assert time.monotonic() - started < 15


def test_a_bad_destination_is_one_line_before_any_work() -> None:
    result = runner.invoke(
        app, ["attribute", str(EXAMPLE), "--tracer", "fast", "--export-verdicts", "ftp://x"]
    )
    assert result.exit_code == 2
    assert "cannot send verdicts to 'ftp://x'" in result.stderr
    with pytest.raises(ExportError):
        logs_endpoint("localhost:4318")
    assert logs_endpoint("http://h:4318") == "http://h:4318/v1/logs"
    assert logs_endpoint("http://h:4318/v1/logs") == "http://h:4318/v1/logs"


def test_without_the_sdk_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "opentelemetry.sdk._logs", None)  # as if not installed
    with pytest.raises(ExportError, match=r"pip install 'agentracer-attribution\[export\]'"):
        open_sink("http://127.0.0.1:4318")
