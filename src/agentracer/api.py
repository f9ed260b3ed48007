"""The one-call Python API: load a run, attribute its failure, evaluate a tracer.

Each function is synchronous and has an `a`-prefixed async twin (`attribute` / `aattribute`,
`load` / `aload`, `evaluate` / `aevaluate`). The CLI calls these same functions. Everything
heavy (tracers, models, readers) is imported when a function first runs, so `import
agentracer` stays cheap.

>>> import agentracer
>>> verdict = agentracer.attribute("examples/failed_run.json", tracer="last-agent-step")
>>> verdict.agent, verdict.step
('Planner', 5)
"""

from __future__ import annotations

import asyncio
import os
import warnings
from collections.abc import Callable, Coroutine, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from agentracer.trajectory import Trajectory, Verdict
from agentracer.wording import count

if TYPE_CHECKING:
    from agentracer.evaluation.runner import RecordResult
    from agentracer.formats.benchmarks import Benchmark
    from agentracer.llm.types import ConnectionSettings
    from agentracer.tracers.base import Tracer, TracerSettings

RunSource: TypeAlias = (
    "str | os.PathLike[str] | Trajectory | Mapping[str, Any] | Sequence[Any] | object"
)
"""What `load` and `attribute` read: a path to a trace file (any format `agentracer formats`
lists), a `Trajectory`, an OTLP/JSON document, a list of chat messages, or a framework result
object (AutoGen `TaskResult`, AG2 `ChatResult`, a LangGraph state, a smolagents agent)."""

T = TypeVar("T")


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run `coroutine` to completion, also from inside a running event loop (a notebook): then
    on a worker thread with its own loop, since a loop cannot be re-entered."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1, thread_name_prefix="agentracer") as pool:
        return pool.submit(asyncio.run, coroutine).result()


def load_all(source: RunSource) -> list[Trajectory]:
    """Every run in `source` (see `RunSource`), in the order the source holds them.

    >>> [t.id for t in load_all("examples/failed_run.json")]
    ['failed_run']
    """
    if isinstance(source, Trajectory):
        return [source]
    if isinstance(source, str | os.PathLike):
        from agentracer.formats import load_file

        return load_file(Path(source))
    from agentracer.formats.objects import trajectories_from_object

    return trajectories_from_object(source)


def load(source: RunSource, *, index: int | None = None) -> Trajectory:
    """The one run in `source`, or its `index`-th (0-based) when it holds several.

    >>> run = load("examples/failed_run.json")
    >>> len(run.steps), run.agents
    (6, ['Planner', 'Time_Expert', 'Verification_Expert'])
    >>> load([{"role": "user", "content": "2+2?"}, {"role": "assistant", "name": "Solver",
    ...       "content": "5"}]).agents
    ['Solver']
    """
    from agentracer.errors import TraceFormatError

    runs = load_all(source)
    where = str(source) if isinstance(source, str | os.PathLike) else None
    if index is None:
        if len(runs) > 1:
            raise TraceFormatError(
                f"the source holds {len(runs)} runs; pick one with index= (0..{len(runs) - 1})",
                path=where,
            )
        return runs[0]
    if not 0 <= index < len(runs):
        raise TraceFormatError(
            f"index {index} is out of range: the source holds {count(len(runs), 'run')}", path=where
        )
    return runs[index]


async def aload(source: RunSource, *, index: int | None = None) -> Trajectory:
    """`load` on a worker thread, so a large export does not stall the event loop."""
    return await asyncio.to_thread(load, source, index=index)


def tracer_settings(
    tracer: str,
    model: str | None = None,
    *,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    connection: ConnectionSettings | None = None,
) -> TracerSettings:
    """Settings for `tracer`, with the model resolved now when the tracer needs one (`model`,
    else `$AGENTRACER_MODEL`, else the model served at `$OPENAI_BASE_URL`, else the embedded
    model), so a run records which model it used. An unknown tracer raises at once."""
    from agentracer.llm.client import default_model_name
    from agentracer.llm.types import ConnectionSettings
    from agentracer.tracers import TracerSettings
    from agentracer.tracers.registry import tracer_spec

    connection = connection or ConnectionSettings()
    if tracer_spec(tracer).needs_model:
        model = model or default_model_name(connection)
    return TracerSettings(
        seed=seed, model=model, options=dict(options or {}), connection=connection
    )


async def aattribute(
    source: RunSource,
    tracer: str | Tracer = "fast",
    model: str | None = None,
    *,
    index: int | None = None,
    with_ground_truth: bool = True,
    seed: int = 0,
    base_url: str | None = None,
    settings: TracerSettings | None = None,
    export: str | Sequence[str] | None = None,
    **options: Any,
) -> Verdict:
    """The async twin of `attribute` (same arguments, same verdict)."""
    from agentracer.tracers import create_tracer
    from agentracer.tracers.structure import consistency_problems

    trajectory = source if isinstance(source, Trajectory) else await aload(source, index=index)
    if isinstance(tracer, str):
        if settings is None:
            from agentracer.llm.types import ConnectionSettings

            settings = tracer_settings(
                tracer, model, seed=seed, options=options,
                connection=ConnectionSettings(base_url=base_url, concurrency=1),
            )  # fmt: skip
        chosen, owned = create_tracer(tracer, settings), True
    else:
        chosen, owned = tracer, False
    try:
        verdict = await chosen.attribute(trajectory, with_ground_truth=with_ground_truth)
    finally:
        if owned:
            await chosen.aclose()
    if not verdict.tracer:
        verdict.tracer = chosen.name
    problems = consistency_problems(verdict, trajectory)
    if problems:  # registered tracers resolve such answers; this guards any that does not
        verdict.notes.append(
            f"the verdict does not fit the run: {'; '.join(problems)}; read it with care"
        )
    if export:
        used_model = settings.model if settings is not None else model
        await asyncio.to_thread(_export, trajectory, verdict, export, used_model)
    return verdict


def attribute(
    source: RunSource,
    tracer: str | Tracer = "fast",
    model: str | None = None,
    *,
    index: int | None = None,
    with_ground_truth: bool = True,
    seed: int = 0,
    base_url: str | None = None,
    settings: TracerSettings | None = None,
    export: str | Sequence[str] | None = None,
    **options: Any,
) -> Verdict:
    """Name the agent and the 0-based step that made the run in `source` fail, and say why.

    `source` is anything `load` reads (`index` picks a run of a multi-run source). `tracer` is
    a registered name (`agentracer tracers` lists them; the default `fast` needs no model) or a
    tracer object you keep (it is not closed). `model` is a `provider/model` name for the LLM
    tracers (`openai/gpt-4o-mini`, `local/smollm2-135m`); `base_url` an OpenAI-compatible
    endpoint; other keyword arguments are the tracer's options (e.g. `step_numbers=True`).
    With `with_ground_truth` the tracer may show the task's correct answer to its model.
    `export` sends the verdict to one or more destinations (an OTLP endpoint URL, `env`,
    `phoenix+http://HOST:6006`; see `agentracer.export`); a failed delivery is a warning,
    never an error.

    >>> verdict = attribute("examples/failed_run.json", tracer="fast")
    >>> verdict.agent, verdict.step, verdict.tracer
    ('Time_Expert', 1, 'fast')
    >>> print(verdict)  # doctest: +ELLIPSIS
    Time_Expert at step 1 (confidence ...): the first hand-off ..., picked by the `first-state-change` rule, ...
    """
    return run_sync(
        aattribute(
            source, tracer, model, index=index, with_ground_truth=with_ground_truth, seed=seed,
            base_url=base_url, settings=settings, export=export, **options,
        )
    )  # fmt: skip


def _export(
    trajectory: Trajectory, verdict: Verdict, export: str | Sequence[str], model: str | None
) -> None:
    from agentracer.export import open_sink

    for url in [export] if isinstance(export, str) else export:
        sink = open_sink(url, model=model)
        sink.send(trajectory, verdict)
        delivery = sink.close()
        if delivery.failed:
            warnings.warn(delivery.summary(), RuntimeWarning, stacklevel=4)


def default_run_dir(bench: str, tracer: str, settings: TracerSettings, ground_truth: bool) -> Path:
    """Where `evaluate` writes a run when no directory is given (re-running resumes it):
    `agentracer-runs/BENCH-TRACER[-MODEL]-g|nog-seedN` in the current directory."""
    from agentracer.formats.benchmarks import BENCH_SUBSETS

    setting = "g" if ground_truth else "nog"
    model_part = f"-{settings.model.replace('/', '_')}" if settings.model else ""
    label = bench if bench in BENCH_SUBSETS else Path(bench).stem
    return Path("agentracer-runs") / f"{label}-{tracer}{model_part}-{setting}-seed{settings.seed}"


async def aevaluate(
    bench: str | Path | Benchmark,
    tracer: str = "fast",
    model: str | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The async twin of `evaluate`: the run itself happens on a worker thread (it has its own
    event loop), so the caller's loop keeps serving."""
    return await asyncio.to_thread(evaluate, bench, tracer, model, **kwargs)


def evaluate(
    bench: str | Path | Benchmark,
    tracer: str = "fast",
    model: str | None = None,
    *,
    subsets: Sequence[str] | None = None,
    data: str | Path | None = None,
    out: str | Path | None = None,
    with_ground_truth: bool = True,
    seed: int = 0,
    tolerances: Sequence[int] = (1, 3),
    concurrency: int = 4,
    base_url: str | None = None,
    settings: TracerSettings | None = None,
    on_result: Callable[[RecordResult | None], None] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Score `tracer` on a labelled benchmark and return the summary (`summary.json`).

    `bench` is `who-and-when`, `tracertraj`, a path to a labelled dataset, or a loaded
    `Benchmark`; `data` is where the benchmark files are (else `$AGENTRACER_DATA_DIR`). The run
    directory `out` (default: `default_run_dir`) holds every verdict and is resumed when the
    same call runs again. The summary holds accuracies with Wilson intervals, the model-free
    baselines on the same runs, and what could not be scored.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as run_dir:
    ...     summary = evaluate("examples/failed_run.json", tracer="last-agent-step", out=run_dir)
    >>> summary["subsets"]["all"]["n"], summary["subsets"]["all"]["agent_accuracy"]
    (1, 0.0)
    """
    from agentracer.evaluation import RunConfig
    from agentracer.evaluation import evaluate as run
    from agentracer.formats.benchmarks import (
        BENCH_SUBSETS,
        DATASET_SUBSET,
        load_benchmark,
        require_step_labels,
    )
    from agentracer.llm.types import ConnectionSettings
    from agentracer.tracers import create_tracer

    name = bench.name if not isinstance(bench, str | Path) else str(bench)
    require_step_labels(name)  # MAST: failure modes without a step, nothing to score
    if settings is None:
        connection = ConnectionSettings(base_url=base_url, concurrency=concurrency)
        settings = tracer_settings(tracer, model, seed=seed, options=options, connection=connection)
    chosen = create_tracer(tracer, settings)  # a bad name fails before any data is read
    chosen_subsets = list(subsets or BENCH_SUBSETS.get(name, (DATASET_SUBSET,)))
    config = RunConfig(
        bench=name, subsets=chosen_subsets, tracer=tracer, settings=settings,
        with_ground_truth=with_ground_truth, tolerances=sorted(set(tolerances)),
        concurrency=concurrency, data=None if data is None else str(data),
    )  # fmt: skip
    benchmark = (
        bench if not isinstance(bench, str | Path) else load_benchmark(name, chosen_subsets, data)
    )
    run_dir = (
        Path(out) if out is not None else default_run_dir(name, tracer, settings, with_ground_truth)
    )
    summary, _ = run(benchmark, chosen, config, run_dir, on_result=on_result)
    return summary
