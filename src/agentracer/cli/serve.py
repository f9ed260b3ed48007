"""`agentracer serve` (OTLP receiver + worker + UI) and `agentracer traces list|show|export`."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agentracer.cli.common import (
    BaseUrlOpt,
    CacheDirOpt,
    ConstrainOpt,
    ExportOpt,
    GroundTruthOpt,
    ModelOpt,
    NoCacheOpt,
    OptionOpt,
    SeedOpt,
    TimeoutOpt,
    app,
    close_sinks,
    err,
    excerpt,
    open_sinks,
    out,
    tracer_settings,
    user_errors,
)
from agentracer.errors import AgenTracerError, install_hint
from agentracer.export.document import SCHEMA_VERSION, document

if TYPE_CHECKING:
    from agentracer.export.phoenix_sync import PhoenixWatcher
    from agentracer.serve.store import TraceStore
    from agentracer.tracers import TracerSettings

STORE_ENV = "AGENTRACER_STORE"
SERVE_EXTRA = install_hint("serve")

traces_app = typer.Typer(
    help="Read the trace store that `agentracer serve` writes.", no_args_is_help=True
)
app.add_typer(traces_app, name="traces")

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store", help=f"store directory (default: ${STORE_ENV}, else a user data directory)"
    ),
]


def _require_serve_extra() -> None:
    try:
        import google.protobuf  # noqa: F401
        import jinja2  # noqa: F401
        import opentelemetry.proto  # noqa: F401
    except ImportError as error:
        raise AgenTracerError(
            f"the receiver needs the serve extra ({error.name} is missing): {SERVE_EXTRA}"
        ) from None


def _store_dir(store: Path | None) -> Path:
    from agentracer.serve.app import default_store_dir

    if store is not None:
        return store
    return Path(os.environ[STORE_ENV]) if os.environ.get(STORE_ENV) else default_store_dir()


def _open_store(store: Path | None, *, must_exist: bool = True) -> TraceStore:
    from agentracer.serve.store import STORE_FILE, TraceStore

    directory = _store_dir(store)
    if must_exist and not (directory / STORE_FILE).is_file():
        raise AgenTracerError(
            f"no trace store in {directory} (start `agentracer serve --store {directory}` "
            "first, or give --store)"
        )
    return TraceStore(directory)


@app.command()
@user_errors
def serve(
    host: Annotated[
        str, typer.Option(help="address to listen on; anything but loopback exposes your traces")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port (4318 is the OTLP/HTTP port)")] = 4318,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allow-host",
            help="another name clients may use in the Host header (repeatable; '*' for any); "
            "by default only the bound address, localhost, 127.0.0.1 and [::1]",
        ),
    ] = None,
    store: StoreOpt = None,
    settle: Annotated[
        float,
        typer.Option(
            help="seconds without a new span, after the root span ended, before a "
            "trace is assembled"
        ),
    ] = 5.0,
    failed_if: Annotated[
        str | None,
        typer.Option(
            "--failed-if",
            help="a rule over span fields (attributes, name, status, error) that marks a run "
            'failed when true for any span, e.g. \'name == "judge" and status == "ERROR"\' '
            "or 'attributes[KEY] == False'",
        ),
    ] = None,
    max_body: Annotated[int, typer.Option(help="largest request body in bytes (else 413)")] = (
        16 * 1024 * 1024
    ),
    tracer: Annotated[
        str, typer.Option(help="tracer for failed traces (see `agentracer tracers`)")
    ] = "all-at-once",
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    option: OptionOpt = None,
    seed: SeedOpt = 0,
    ground_truth: GroundTruthOpt = True,
    timeout: TimeoutOpt = 120.0,
    no_cache: NoCacheOpt = False,
    cache_dir: CacheDirOpt = None,
    constrain: ConstrainOpt = None,
    export_verdicts: ExportOpt = None,
    attribute_timeout: Annotated[
        float,
        typer.Option(
            min=1,
            help="seconds one trace's attribution may take (all its model calls); a trace "
            "that runs past it, or crashes the tracer, is tried 3 times, then given up",
        ),
    ] = 900.0,
    phoenix: Annotated[
        str | None,
        typer.Option(
            help="also attribute the failed traces of this Arize Phoenix server and annotate "
            "each blamed span there, continuously"
        ),
    ] = None,
    phoenix_project: Annotated[str, typer.Option(help="the Phoenix project to watch")] = (
        "default"
    ),
    phoenix_since: Annotated[
        str, typer.Option(help="with --phoenix: look at traces started since (30m, 1d, ISO)")
    ] = "1h",
    phoenix_every: Annotated[
        float, typer.Option(min=0.5, help="with --phoenix: seconds between looks")
    ] = 10.0,
) -> None:
    """Receive OpenTelemetry traces (OTLP/HTTP), attribute the failed runs, show them at /."""
    _require_serve_extra()
    from agentracer.serve.app import Service
    from agentracer.serve.assemble import FailedIf
    from agentracer.serve.server import ServerSettings
    from agentracer.serve.worker import WorkerSettings

    settings = tracer_settings(
        tracer, seed=seed, model=model, base_url=base_url, options=option, timeout=timeout,
        concurrency=1, no_cache=no_cache, cache_dir=cache_dir, constrain=constrain,
    )  # fmt: skip
    # The tracer and its model are made now, as `attribute` makes them: an unknown tracer or
    # model, or a missing model file, stops here instead of failing every attribution later.
    from agentracer.tracers import create_tracer

    attributor = create_tracer(tracer, settings)
    sinks = open_sinks(export_verdicts, settings.model)
    watcher = (
        _phoenix_watcher(phoenix, phoenix_project, phoenix_since, phoenix_every, settle, tracer,
                         settings, ground_truth)
        if phoenix else None
    )  # fmt: skip
    worker = WorkerSettings(
        settle=settle,
        failed_if=FailedIf(failed_if) if failed_if else None,
        tracer=tracer,
        tracer_settings=settings,
        with_ground_truth=ground_truth,
        on_verdict=[sink.send for sink in sinks],
        attribute_timeout=attribute_timeout,
    )
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    server = ServerSettings(host, port, max_body, allow_hosts=tuple(allow_host or ()))
    try:
        service = Service(_store_dir(store), server, worker, tracer=attributor)
    except OSError as error:
        raise AgenTracerError(listen_error(host, port, error)) from None
    if service.exposed:
        err.print(
            f"[bold red]WARNING: listening on {escape(host)}, not loopback: anyone who can reach "
            "this machine can send spans and read every stored trace (no authentication).[/]"
        )
    service.start()
    if watcher is not None:
        watcher.start()
    # Everything after start() is inside the try: a Ctrl-C that lands while the banner is
    # printed must still stop the worker thread, or the process would never exit.
    try:
        endpoint = service.endpoint
        err.print(f"store: {escape(str(service.store.path))}")
        err.print(f"OTLP/HTTP: {endpoint}/v1/traces  (OTEL_EXPORTER_OTLP_ENDPOINT={endpoint})")
        err.print(f"UI: {endpoint}/   tracer: {escape(tracer)}   settle: {settle:g} s")
        if watcher is not None:
            err.print(f"Phoenix: {escape(phoenix or '')} (project {escape(phoenix_project)})")
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        err.print("stopping")
    finally:
        if watcher is not None:
            watcher.stop()
        service.stop()
        close_sinks(sinks)


def listen_error(host: str, port: int, error: OSError) -> str:
    """Why `serve` cannot listen, and what to change: the port only when it is the port."""
    import errno
    import socket

    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    reason = error.strerror or str(error)
    if isinstance(error, socket.gaierror):
        return f"cannot listen on {where}: --host {host!r} does not resolve ({reason})"
    if error.errno == errno.EADDRINUSE:
        return f"cannot listen on {where} ({reason}); pick another --port"
    if error.errno in (errno.EACCES, errno.EPERM) and port < 1024:
        return f"cannot listen on {where} ({reason}); ports under 1024 need privileges"
    return f"cannot listen on {where} ({reason}); check --host"


def _phoenix_watcher(
    url: str, project: str, since: str, every: float, settle: float, tracer: str,
    settings: TracerSettings, ground_truth: bool,
) -> PhoenixWatcher:  # fmt: skip
    """The `--phoenix` loop, with its own tracer (it runs on its own thread and event loop);
    an unreachable server or unknown project fails here, before anything starts."""
    from agentracer.export.phoenix import PhoenixClient
    from agentracer.export.phoenix_sync import PhoenixAnnotator, PhoenixWatcher, parse_time
    from agentracer.tracers import create_tracer

    client = PhoenixClient(url)
    client.check_project(project)
    annotator = PhoenixAnnotator(
        client, project, create_tracer(tracer, settings), tracer_name=tracer,
        model=settings.model, with_ground_truth=ground_truth,
    )  # fmt: skip
    return PhoenixWatcher(annotator, since=parse_time(since), every=every, settle=settle)


@traces_app.command("list")
@user_errors
def list_traces(
    store: StoreOpt = None,
    failed: Annotated[bool, typer.Option("--failed", help="only runs judged failed")] = False,
    limit: Annotated[int, typer.Option(help="at most this many, most recent first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """The traces in the store, most recent first, with their verdicts."""
    from agentracer.serve.server import summary_json

    summaries = _open_store(store).list_traces(failed=True if failed else None, limit=limit)
    if as_json:
        rows = [summary_json(s) for s in summaries]
        typer.echo(json.dumps(document("traces", traces=rows), indent=2))
        return
    table = Table(title=f"{len(summaries)} traces")
    # A trace id is never cut or wrapped (it is what you copy into `traces show`); the other
    # columns fold around it.
    table.add_column("trace", no_wrap=True, min_width=32)
    table.add_column("status", no_wrap=True)  # short words, searched for by scripts
    for column in ("agents", "steps", "verdict"):
        table.add_column(column, overflow="fold")
    for s in summaries:
        status = s.state if s.failed is None else ("failed" if s.failed else "ok")
        if s.state == "pending":
            status += " (attributing)"
        elif s.state == "gave up" and s.failed is not None:
            status += " (gave up)"
        verdict = s.verdict
        said = (
            f"{verdict.agent} at step {verdict.step} ({verdict.tracer})"
            if verdict is not None
            else ("(below)" if s.problem else "")
        )
        table.add_row(
            escape(s.trace_id), status, escape(", ".join(s.agents)),
            "" if s.n_steps is None else str(s.n_steps), escape(said),
        )  # fmt: skip
    out.print(table)
    # A problem is a sentence: printed whole under the table, not folded into a narrow cell.
    for s in summaries:
        if s.verdict is None and s.problem:
            out.print(f"{escape(s.trace_id)}: {escape(s.problem)}", highlight=False)


def _get(store: Path | None, trace_id: str):  # type: ignore[no-untyped-def]
    stored = _open_store(store).get_trace(trace_id)
    if stored is None:
        raise AgenTracerError(f"no trace {trace_id!r} in the store (see `agentracer traces list`)")
    return stored


@traces_app.command("show")
@user_errors
def show_trace(
    trace_id: Annotated[str, typer.Argument(help="a trace id from `traces list`")],
    store: StoreOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="trajectory and verdicts as JSON")
    ] = False,
) -> None:
    """One trace: its trajectory, step by step, and its verdicts."""
    stored = _get(store, trace_id)
    summary, trajectory = stored.summary, stored.trajectory
    if as_json:
        typer.echo(json.dumps({
            "version": SCHEMA_VERSION, "kind": "trace", "trace_id": summary.trace_id, "state": summary.state, "failed": summary.failed,
            "problem": summary.problem,
            "trajectory": None if trajectory is None else trajectory.model_dump(mode="json"),
            "verdicts": [v.model_dump(mode="json") for v in summary.verdicts],
        }, indent=2))  # fmt: skip
        return
    out.print(f"[bold]{escape(summary.trace_id)}[/bold]  {summary.state}, {summary.n_spans} spans")
    if summary.problem:
        out.print(f"[yellow]{escape(summary.problem)}[/yellow]")
    if trajectory is None:
        out.print("no trajectory yet (the trace has not settled, or no importer could read it)")
        return
    blamed = {v.step for v in summary.verdicts}
    for step in trajectory.steps:
        mark = " [bold red]◀ blamed[/]" if step.index in blamed else ""
        out.print(
            f"{step.index:>3} [bold]{escape(step.speaker)}[/bold] ({step.kind.value}){mark}: "
            f"{escape(excerpt(step.content, 160))}"
        )
    for verdict in summary.verdicts:
        out.print(
            f"[bold]verdict ({escape(verdict.tracer)}):[/bold] {escape(str(verdict.agent))} at "
            f"step {verdict.step}: {escape(excerpt(verdict.reason, 300))}"
        )


@traces_app.command("export")
@user_errors
def export_trace(
    trace_id: Annotated[str, typer.Argument(help="a trace id from `traces list`")],
    out_file: Annotated[Path, typer.Option("--out", help="trajectory JSON file to write")],
    store: StoreOpt = None,
) -> None:
    """Write a trace's trajectory as our JSON, for `attribute`, `replay`, `eval` and `view`."""
    stored = _get(store, trace_id)
    if stored.trajectory is None:
        raise AgenTracerError(
            f"trace {trace_id} has no trajectory yet ({stored.summary.problem or stored.summary.state})"
        )
    out_file.write_text(stored.trajectory.model_dump_json(indent=2) + "\n", encoding="utf-8")
    err.print(f"wrote {escape(str(out_file))}")
