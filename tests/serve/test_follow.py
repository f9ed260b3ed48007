"""Live forecasting over the real receiver: an app exports its spans in several batches with the
OpenTelemetry SDK's OTLP/HTTP exporter, and `follow` raises the alarm before the last batch."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opentelemetry.trace import Status, StatusCode
from typer.testing import CliRunner

from agentracer.cli import app
from agentracer.errors import AgenTracerError
from agentracer.forecast.baselines import NeverForecaster
from agentracer.serve.app import Service
from agentracer.serve.follow import FollowResult, UnknownTraceError, follow
from agentracer.trajectory import Trajectory
from tests.serve.test_receiver import wait_for

runner = CliRunner()
ANSWERS = [
    ("Planner", "Plan: the Solver adds the two prices, 12 and 30."),
    ("Solver", "12 + 30 = 52. WRONG sum passed on."),
    ("Checker", "The sum 52 looks fine to me."),
    ("Planner", "Final answer: 52."),
]


def messages(role: str, text: str) -> str:
    return json.dumps([{"role": role, "parts": [{"type": "text", "content": text}]}])


class ContentAlarm:
    """Scripted: alarms at the first step whose content says WRONG; counts what it read."""

    name = "content-alarm"

    def __init__(self) -> None:
        self.read: list[int] = []

    async def alarm(self, prefix: Trajectory) -> int | None:
        self.read.append(len(prefix.steps) - 1)
        hits = [s.index for s in prefix.steps if "WRONG" in s.content]
        return hits[0] if hits else None


def agent_span(tracer: Any, agent: str, answer: str) -> None:
    with tracer.start_as_current_span(f"invoke_agent {agent}") as span:
        span.set_attribute("gen_ai.operation.name", "invoke_agent")
        span.set_attribute("gen_ai.agent.name", agent)
        with tracer.start_as_current_span("chat scripted") as chat:
            chat.set_attribute("gen_ai.operation.name", "chat")
            chat.set_attribute("gen_ai.request.model", "scripted")
            chat.set_attribute("gen_ai.input.messages", messages("user", "Add 12 and 30."))
            chat.set_attribute("gen_ai.output.messages", messages("assistant", answer))


def test_the_alarm_is_raised_live_before_the_last_batch(
    start_service: Callable[..., Service], sdk_provider: Callable[..., Any], tmp_path: Path
) -> None:
    service = start_service(tmp_path / "store", assembler=None, settle=0.5)
    provider = sdk_provider(service.endpoint)
    tracer = provider.get_tracer("team")
    forecaster = ContentAlarm()
    found: list[FollowResult | BaseException] = []
    with tracer.start_as_current_span("invoke_agent team") as root:
        root.set_attribute("gen_ai.operation.name", "invoke_agent")
        root.set_attribute("gen_ai.agent.name", "team")
        trace_id = format(root.get_span_context().trace_id, "032x")
        agent_span(tracer, *ANSWERS[0])
        assert provider.force_flush()  # batch 1: the plan
        wait_for(lambda: service.store.get_trace(trace_id))

        def run() -> None:
            try:
                found.append(asyncio.run(follow(service.store, trace_id, forecaster, poll=0.05)))
            except BaseException as error:  # handed to the test thread
                found.append(error)

        thread = threading.Thread(target=run)
        thread.start()
        wait_for(lambda: forecaster.read, timeout=30)  # the plan was read: no alarm yet
        assert not found
        agent_span(tracer, *ANSWERS[1])
        assert provider.force_flush()  # batch 2: the wrong sum
        thread.join(timeout=30)
        assert found, "no alarm after the batch with the error"
        # batch 3 (the checker, the final answer, the root) has not been sent yet
        for agent, answer in ANSWERS[2:]:
            agent_span(tracer, agent, answer)
        root.set_status(Status(StatusCode.ERROR, "wrong answer"))
    provider.force_flush()
    result = found[0]
    assert isinstance(result, FollowResult), result
    assert not result.ended and result.agent == "Solver"
    final = wait_for(lambda: (t := service.store.get_trace(trace_id)) and t.trajectory)
    wrong = next(s.index for s in final.steps if "WRONG" in s.content)
    assert result.alarm == wrong and result.read == wrong + 1
    assert len(final.steps) > result.read  # raised before the whole run was there

    # the same trace, now ended: a forecaster that never alarms says so
    wait_for(lambda: service.store.get_trace(trace_id).summary.state != "open")
    quiet = asyncio.run(follow(service.store, trace_id, NeverForecaster(), poll=0.05))
    assert quiet.alarm is None and quiet.ended and quiet.read == len(final.steps)
    cli = runner.invoke(app, ["forecast", "--follow", trace_id, "--tracer", "never",
                              "--store", str(tmp_path / "store")])  # fmt: skip
    assert cli.exit_code == 0, cli.output
    assert f"no alarm: the trace ended after {len(final.steps)} steps" in cli.stdout


def test_an_unknown_trace_id_is_a_clear_error(
    start_service: Callable[..., Service], tmp_path: Path
) -> None:
    service = start_service(tmp_path / "store")
    try:
        asyncio.run(follow(service.store, "0" * 32, NeverForecaster(), wait=0.1, poll=0.05))
    except UnknownTraceError as error:
        assert "no trace" in str(error) and "--wait" in str(error)
    else:
        raise AssertionError("an unknown trace id was followed")
    cli = runner.invoke(app, ["forecast", "--follow", "ab" * 16, "--tracer", "first-step",
                              "--store", str(tmp_path / "store")])  # fmt: skip
    assert cli.exit_code == 2 and "no trace" in cli.output


def test_a_trace_no_importer_can_read_is_a_clear_error(
    start_service: Callable[..., Service], sdk_provider: Callable[..., Any], tmp_path: Path
) -> None:
    service = start_service(tmp_path / "store", assembler=None, settle=0.2)
    provider = sdk_provider(service.endpoint)
    with provider.get_tracer("plain").start_as_current_span("no agents here") as root:
        trace_id = format(root.get_span_context().trace_id, "032x")
    assert provider.force_flush()
    wait_for(lambda: (t := service.store.get_trace(trace_id)) and t.summary.state != "open")
    try:
        asyncio.run(follow(service.store, trace_id, NeverForecaster(), poll=0.05))
    except AgenTracerError as error:
        assert "no importer could read it" in str(error)
    else:
        raise AssertionError("an unreadable trace was followed to 'no alarm'")
