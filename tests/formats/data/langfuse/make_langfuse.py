"""Write `langfuse/observations.json`: a Langfuse observations export of a real LangGraph run,
traced by the real Langfuse SDK (langfuse 5, its LangChain `CallbackHandler`).

Langfuse is a hosted server that cannot run here. The SDK turns each LangChain run into an
OpenTelemetry span carrying `langfuse.observation.*` attributes and would send those spans to
the server, which stores them as observations. Here the SDK's `span_exporter` is an in-memory
exporter; each span is then turned into the Langfuse API's own `ObservationV2` model (id,
traceId, parentObservationId, type, name, level, statusMessage, input, output, metadata,
model, usage), and the file is an `ObservationsV2Response` (`{"data": [...], "meta": {...}}`),
the body of `GET /api/public/v2/observations?traceId=...`, dumped with the API's field names.
The span -> observation mapping (attribute names, uppercased types, JSON-decoded input and
output) follows the SDK's attribute constants; the server's own ingestion code is not run.

The graph is the one of `make_langgraph.py` (planner -> researcher -> tool -> researcher).
Run from the repository root: `python -m tests.formats.data.langfuse.make_langfuse`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langfuse import Langfuse
from langfuse._client.attributes import LangfuseOtelSpanAttributes as Attr
from langfuse.api.commons.types.observation_v2 import ObservationV2
from langfuse.api.observations.types.observations_v2response import ObservationsV2Response
from langfuse.langchain import CallbackHandler
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.formats.data.langgraph.make_langgraph import build_graph
from tests.formats.data.scripted import text, tool_call
from tests.llm.loopback import ScriptedServer

OUT = Path(__file__).with_name("observations.json")
METADATA_PREFIX = Attr.OBSERVATION_METADATA + "."


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _time(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, tz=UTC)


def as_observation(span: ReadableSpan) -> ObservationV2:
    attributes = dict(span.attributes or {})
    metadata = {
        key.removeprefix(METADATA_PREFIX): _json(value)
        for key, value in attributes.items()
        if key.startswith(METADATA_PREFIX)
    }
    parent = span.parent.span_id if span.parent is not None else None
    start, end = _time(span.start_time), _time(span.end_time)
    return ObservationV2(
        id=format(span.context.span_id, "016x"),
        trace_id=format(span.context.trace_id, "032x"),
        start_time=start,
        end_time=end,
        project_id="local-project",
        parent_observation_id=None if parent is None else format(parent, "016x"),
        type=str(attributes.get(Attr.OBSERVATION_TYPE, "span")).upper(),
        is_root_observation=parent is None,
        name=span.name,
        level=attributes.get(Attr.OBSERVATION_LEVEL, "DEFAULT"),
        status_message=attributes.get(Attr.OBSERVATION_STATUS_MESSAGE),
        input=_json(attributes.get(Attr.OBSERVATION_INPUT)),
        output=_json(attributes.get(Attr.OBSERVATION_OUTPUT)),
        metadata=metadata or None,
        model=attributes.get(Attr.OBSERVATION_MODEL),
        usage_details=_json(attributes.get(Attr.OBSERVATION_USAGE_DETAILS)),
        latency=None if end is None or start is None else (end - start).total_seconds(),
    )


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def write(out: Path = OUT) -> None:
    """Run the graph under the Langfuse SDK and write its observations to `out`."""
    exporter = InMemorySpanExporter()
    client = Langfuse(
        public_key="pk-lf-local",
        secret_key="sk-lf-local",
        host="http://127.0.0.1:9",  # never reached: spans go to the in-memory exporter
        span_exporter=exporter,
        tracer_provider=TracerProvider(),
    )
    handler = CallbackHandler(public_key="pk-lf-local")
    with ScriptedServer() as server:
        server.script = [
            text("Researcher: look up the census figure for Paris."),
            tool_call("get_population", {"city": "Paris"}, "call_pop_1"),
            text("Paris has about 3 million inhabitants."),
        ]
        build_graph(server.base_url).invoke(
            {"messages": [("user", "What is the population of Paris?")]},
            config={"callbacks": [handler]},
        )
    client.flush()
    observations = [as_observation(span) for span in exporter.get_finished_spans()]
    response = ObservationsV2Response(data=observations, meta={"cursor": None})
    document = response.dict(by_alias=True, exclude_none=True)
    out.write_text(json.dumps(document, indent=1, default=_iso) + "\n", encoding="utf-8")
    client.shutdown()
    print(f"wrote {len(observations)} observations to {out}")


def main() -> None:
    write()


if __name__ == "__main__":
    main()
