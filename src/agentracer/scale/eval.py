"""`agentracer eval --ray`: trajectories as Ray tasks, results written by the driver once.

The task (`attribute_item`) is a plain function of one item (subset, trajectory, run config)
that returns the result line, or the error, as plain data. The driver keeps a bounded window of
tasks in flight, and appends each result to `results.jsonl` itself, fsynced, the moment it
arrives, never twice (it keeps the set of finished ids). A worker killed mid-task: Ray runs the
task again elsewhere (`max_retries`), and only the one result that reaches the driver is
written. The driver killed: its tasks die with it; re-running reads the finished lines (a torn
last line is dropped) and submits only the rest. The summary is computed exactly as the
in-process runner's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError
from agentracer.evaluation.evaluate import write_summary
from agentracer.evaluation.runner import (
    RESULTS_FILE,
    RecordResult,
    RunConfig,
    RunOutcome,
    append_result,
    attribute_one,
    prepare_run_dir,
    split_work,
)
from agentracer.formats.benchmarks import Benchmark
from agentracer.scale.cluster import cluster_cpus, require_ray
from agentracer.scale.limiter import get_limiter
from agentracer.scale.tasks import Item, run_tasks
from agentracer.scale.worker import tracer_for, worker_loop
from agentracer.trajectory import Trajectory

TASK_RETRIES = 3  # re-runs of a task whose worker died; a tracer error is not retried


def attribute_item(item: Item) -> Item:
    """The Ray task: attribute one trajectory; returns `{"result": ...}` or `{"error": ...}`."""
    config = RunConfig.model_validate(item["config"])
    config.settings.connection.api_key = item.get("api_key")  # not part of a dumped config
    trajectory = Trajectory.model_validate(item["trajectory"])
    tracer = tracer_for(config.tracer, config.settings, item.get("limit"))
    try:
        result = worker_loop().run_until_complete(
            attribute_one(tracer, trajectory, item["subset"], config)
        )
    except AgenTracerError as error:
        return {"id": trajectory.id, "error": error.one_line()}
    return {"result": result.model_dump(mode="json")}


def _items(
    todo: list[tuple[str, Trajectory]], config: RunConfig, limit: int | None
) -> Iterator[tuple[str, Item]]:
    dumped = config.model_dump(mode="json")
    for subset, trajectory in todo:
        item = {
            "subset": subset,
            "trajectory": trajectory.model_dump(mode="json"),
            "config": dumped,
            "limit": limit,
            "api_key": config.settings.connection.api_key,
        }
        yield trajectory.id, item


def run_evaluation_on_ray(
    benchmark: Benchmark,
    config: RunConfig,
    out_dir: Path,
    *,
    limit: int | None = None,
    window: int | None = None,
    on_result: Callable[[RecordResult | None], None] | None = None,
    task: Callable[[Item], Item] = attribute_item,
) -> RunOutcome:
    """Like `run_evaluation`, with every trajectory a Ray task on the connected cluster.

    `limit`: calls in flight per model endpoint across the whole cluster (None: no shared
    limit). `window`: tasks in flight (default: twice the cluster's CPUs), which bounds the
    driver's memory. `task` is the function run per item (tests wrap it to kill workers).
    """
    require_ray()
    # created here so the driver owns it: an actor dies with its owner, and a worker may die
    limiter = get_limiter() if limit is not None else None
    results, todo, skipped = split_work(benchmark, prepare_run_dir(out_dir, config))
    resumed = len(results)
    failed: list[dict[str, str]] = []
    with (out_dir / RESULTS_FILE).open("a", encoding="utf-8") as handle:

        def take(trajectory_id: str, payload: Item) -> None:
            if "error" in payload:
                failed.append({"id": trajectory_id, "error": payload["error"]})
                result = None
            else:
                result = RecordResult.model_validate(payload["result"])
                if result.id not in results:  # written once, whatever Ray re-ran
                    append_result(handle, result)
                    results[result.id] = result
            if on_result:
                on_result(result)

        run_tasks(
            task, _items(todo, config, limit), take,
            window=window or 2 * cluster_cpus(), retries=TASK_RETRIES,
        )  # fmt: skip
    del limiter
    order = {t.id: i for i, (_, t) in enumerate(benchmark.trajectories())}
    ordered = sorted(results.values(), key=lambda r: order.get(r.id, len(order)))
    return RunOutcome(ordered, len(results) - resumed, resumed, skipped, failed)


def evaluate_on_ray(
    benchmark: Benchmark,
    config: RunConfig,
    out_dir: Path,
    *,
    limit: int | None = None,
    on_result: Callable[[RecordResult | None], None] | None = None,
) -> tuple[dict[str, Any], RunOutcome]:
    """`evaluate` on Ray: run or resume, then write the same summary and table."""
    outcome = run_evaluation_on_ray(benchmark, config, out_dir, limit=limit, on_result=on_result)
    return write_summary(benchmark, config, outcome, out_dir), outcome


__all__ = ["attribute_item", "evaluate_on_ray", "run_evaluation_on_ray"]
