"""Arize Phoenix through its REST API (`/v1`): read a project's traces as OTLP spans, and write
a verdict back as a span annotation on the blamed span.

The annotation is named `agentracer.blame`, with the label `blamed`, the verdict's confidence
as its score, the reason, evidence and fix as its explanation, and annotator kind `LLM` for
tracers that ask a model, `CODE` for the others. Writing is idempotent: its identifier is
`agentracer/TRACER/TRACE_ID`, which Phoenix upserts on, so a re-run with the same tracer
updates the annotation in place; when the re-run blames another span of the trace, the old
annotation is deleted first, so a trace never shows two blamed spans from one tracer.

Tested against a real Phoenix server (arize-phoenix 20.26.1). `PHOENIX_API_KEY`, when set, is
sent as a bearer token (Phoenix with authentication on).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

from agentracer.errors import ExportError
from agentracer.export.base import BackgroundSender, Delivery
from agentracer.export.blame import EVALUATION_NAME, Blame, blame_of
from agentracer.trajectory import Trajectory, Verdict

API_KEY_ENV = "PHOENIX_API_KEY"
DEFAULT_PROJECT = "default"
AnnotatorKind = Literal["LLM", "CODE"]


def annotator_kind(tracer: str) -> AnnotatorKind:
    """`LLM` for a tracer that asks a language model, `CODE` for the others (baselines, fast)."""
    from agentracer.errors import UnknownTracerError
    from agentracer.tracers.registry import tracer_spec

    try:
        return "LLM" if tracer_spec(tracer).needs_model else "CODE"
    except UnknownTracerError:
        return "CODE"


def identifier(tracer: str, trace_id: str | None) -> str:
    """The annotation's identifier: one per tracer and trace, what makes a re-run an update."""
    return f"agentracer/{tracer or 'tracer'}/{trace_id}"


def annotation(blame: Blame) -> dict[str, Any]:
    """The span annotation Phoenix's `POST /v1/span_annotations` takes for `blame`."""
    return {
        "span_id": blame.span_id,
        "name": EVALUATION_NAME,
        "annotator_kind": annotator_kind(blame.tracer),
        "identifier": identifier(blame.tracer, blame.trace_id),
        "result": {"label": blame.label, "score": blame.score, "explanation": blame.explanation},
        "metadata": {
            "agent": blame.agent,
            "step": blame.step,
            "category": blame.category,
            "suggested_fix": blame.suggested_fix,
            "tracer": blame.tracer,
            "model": blame.model,
            "trajectory_id": blame.trajectory_id,
        },
    }


def _without_nulls(value: Any) -> Any:
    """Phoenix writes every unset field of an OTLP value as null (`"int_value": null` beside the
    `string_value`); the OTLP reader takes a present key as the value, so drop them."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


class PhoenixClient:
    """The few Phoenix REST calls we need, on one `httpx.Client`."""

    def __init__(self, url: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ExportError(f"{url!r} is not the http(s) URL of a Phoenix server")
        # PHOENIX_COLLECTOR_ENDPOINT may name the span endpoint itself; the API is beside it
        path = parts.path.rstrip("/").removesuffix("/v1/traces")
        self.url = f"{parts.scheme}://{parts.netloc}{path}"
        headers = (
            {"Authorization": f"Bearer {os.environ[API_KEY_ENV]}"}
            if os.environ.get(API_KEY_ENV)
            else {}
        )
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._http.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ExportError(
                f"Phoenix at {self.url} cannot be reached ({type(error).__name__}: {error}); "
                "is it running (`phoenix serve`), and is the URL right?"
            ) from None
        if response.status_code == 401 or response.status_code == 403:
            raise ExportError(
                f"Phoenix at {self.url} refused the request ({response.status_code}); set "
                f"{API_KEY_ENV} to an API key of that server"
            )
        if response.status_code >= 400:
            raise ExportError(
                f"Phoenix at {self.url} answered {response.status_code} to {method} {path}: "
                f"{response.text[:300]}"
            )
        return response

    def projects(self) -> list[str]:
        """The names of the server's projects."""
        names: list[str] = []
        cursor = None
        while True:
            params: dict[str, str] = {"cursor": cursor} if cursor else {}
            body = self._request("GET", "/v1/projects", params=params).json()
            names += [project["name"] for project in body.get("data", [])]
            cursor = body.get("next_cursor")
            if not cursor:
                return names

    def check_project(self, project: str) -> None:
        """A clear error when `project` is not on the server, naming the ones that are."""
        known = self.projects()
        if project not in known:
            raise ExportError(
                f"Phoenix at {self.url} has no project {project!r}; its projects: "
                f"{', '.join(known) or '(none)'}"
            )

    def spans(
        self,
        project: str,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        trace_ids: Sequence[str] = (),
        roots_only: bool = False,
        page: int = 1000,
    ) -> Iterator[dict[str, Any]]:
        """The project's spans (OTLP/JSON shape, newest first), filtered by start time, trace
        ids or root spans, page by page."""
        params: dict[str, Any] = {"limit": page}
        if start is not None:
            params["start_time"] = start.isoformat()
        if end is not None:
            params["end_time"] = end.isoformat()
        if trace_ids:
            params["trace_id"] = list(trace_ids)
        if roots_only:
            params["parent_id"] = "null"
        path = f"/v1/projects/{project}/spans/otlpv1"
        while True:
            body = self._request("GET", path, params=params).json()
            yield from (_without_nulls(span) for span in body.get("data", []))
            if not body.get("next_cursor"):
                return
            params["cursor"] = body["next_cursor"]

    def annotations(self, project: str, ident: str) -> list[dict[str, Any]]:
        """Span annotations of the project with identifier `ident`."""
        body = self._request(
            "GET",
            f"/v1/projects/{project}/span_annotations",
            params={"identifier": ident, "limit": 100},
        ).json()
        return list(body.get("data", []))

    def annotate(self, project: str, blame: Blame) -> str:
        """Write `blame` onto its span (see the module docstring); returns the annotation id."""
        if not blame.parented:
            raise ExportError(
                f"run {blame.trajectory_id} has no span id for step {blame.step}: Phoenix "
                "annotates spans, so the run must come from a trace"
            )
        ident = identifier(blame.tracer, blame.trace_id)
        stale = [a for a in self.annotations(project, ident) if a.get("span_id") != blame.span_id]
        if stale:
            # Phoenix deletes only within a time range (or with delete_all): bound it by when
            # the stale annotations were made; name and identifier narrow it to ours.
            made = [datetime.fromisoformat(a["created_at"]) for a in stale]
            self._request(
                "DELETE",
                f"/v1/projects/{project}/span_annotations",
                params={
                    "name": EVALUATION_NAME,
                    "identifier": ident,
                    "start_time": (min(made) - timedelta(seconds=1)).isoformat(),
                    "end_time": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
                },
            )
        body = self._request(
            "POST",
            "/v1/span_annotations",
            params={"sync": "true"},
            json={"data": [annotation(blame)]},
        ).json()
        return str(body["data"][0]["id"])


class PhoenixSink:
    """Writes each verdict as a span annotation, on a background thread with retries."""

    def __init__(self, url: str, *, project: str = DEFAULT_PROJECT, model: str | None = None):
        self.client = PhoenixClient(url)
        self.project = project
        self.model = model
        self.destination = f"Phoenix {self.client.url} (project {project})"
        self._sender = BackgroundSender(self.destination, self._deliver)

    @classmethod
    def from_url(cls, url: str, *, model: str | None = None) -> PhoenixSink:
        """`http://HOST:6006?project=NAME` (project `default` when not named)."""
        parts = urlsplit(url)
        project = parse_qs(parts.query).get("project", [DEFAULT_PROJECT])[0]
        return cls(parts._replace(query="").geturl(), project=project, model=model)

    def send(self, trajectory: Trajectory, verdict: Verdict) -> None:
        blame = blame_of(trajectory, verdict, model=self.model)
        if not blame.parented:
            self._sender.delivery.fail(
                f"run {trajectory.id} has no span ids (it was not read from a trace)"
            )
            return
        self._sender.put(blame)

    def _deliver(self, item: object) -> None:
        assert isinstance(item, Blame)
        self.client.annotate(self.project, item)

    def close(self, timeout: float = 10.0) -> Delivery:
        delivery = self._sender.close(timeout)
        self.client.close()
        return delivery
