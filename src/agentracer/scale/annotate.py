"""`agentracer annotate --ray`: every candidate replay of every recording as a Ray task.

The driver plans each recording's candidates in the order the in-process search tries them
(counterfactual search: agent steps in order, or the analyzer's ranked top; fault injection:
each step's operator perturbations) and keeps a window of candidates in flight across all
recordings. A task proposes the fix (counterfactual) and replays it, majority of `k`, behind
its own proxy port into its own directory. The search's early stop is kept: once a candidate
at position p decides the label, no candidate after p is launched for that recording, and the
label is final when every candidate before p is done, so the label is the one the sequential
search finds. Tasks already running past p finish (a killed replay would leave its program
running) and are counted as spent replays. The driver alone writes `annotate.log` and the
dataset, once per recording.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agentracer.datasets.builder import (
    AnnotateOptions,
    AnnotateReport,
    done_reports,
    failure_report,
    log_report,
    success_report,
    work_dir_for,
    write_dataset,
)
from agentracer.errors import AgenTracerError
from agentracer.llm import ConnectionSettings, get_model
from agentracer.replay import recording as rec
from agentracer.replay.convert import to_trajectory
from agentracer.replay.counterfactual import (
    ModelAnalyzer,
    SearchResult,
    Tried,
    add_attempt,
    default_budget,
    feedback_of,
    try_candidate,
)
from agentracer.replay.injection import (
    Injection,
    InjectionResult,
    injection_plan,
    try_injection,
)
from agentracer.replay.upstream import make_upstream
from agentracer.scale.cluster import cluster_cpus, require_ray
from agentracer.scale.tasks import error_line
from agentracer.scale.worker import worker_loop

FAILED = ("failure", "crashed", "timeout")
TASK_RETRIES = 1  # a lost worker's replay is redone once, into a fresh directory


class Models(BaseModel):
    """Model names and connection the tasks rebuild their clients from."""

    analyzer: str
    connection: ConnectionSettings
    api_key: str | None = None

    def settings(self) -> ConnectionSettings:
        return self.connection.model_copy(update={"api_key": self.api_key})


def counterfactual_task(item: dict[str, Any]) -> dict[str, Any]:
    """The Ray task for one counterfactual candidate: propose the fix, replay it."""
    models = Models.model_validate(item["models"])
    connection = models.settings()
    directory = Path(item["recording"])
    source = rec.load(directory)
    trajectory = to_trajectory(source, path=directory)
    analyzer = ModelAnalyzer(get_model(models.analyzer, connection))
    upstream = make_upstream(item["upstream"], connection)
    tried = worker_loop().run_until_complete(
        try_candidate(
            directory, trajectory, item["step"], feedback_of(directory, source), analyzer,
            upstream, Path(item["work"]), k=item["k"],
        )
    )  # fmt: skip
    return {"tried": tried.model_dump(mode="json")}


def injection_task(item: dict[str, Any]) -> dict[str, Any]:
    """The Ray task for one fault-injection candidate: replay the perturbed step."""
    models = Models.model_validate(item["models"])
    directory = Path(item["recording"])
    trajectory = to_trajectory(rec.load(directory), path=directory)
    upstream = make_upstream(item["upstream"], models.settings())
    spent = InjectionResult()
    name, content, tool_calls = item["candidate"]
    injection = try_injection(
        directory, trajectory, item["step"], name, (content, tool_calls), upstream,
        Path(item["work"]), item["k"], spent,
    )  # fmt: skip
    return {"injection": injection.model_dump(mode="json"), "replays": spent.replays}


@dataclass
class _Search:
    """One recording's ordered candidates and what has come back (see the module docstring)."""

    position: int
    directory: Path
    source: rec.Recording
    work: Path
    items: list[dict[str, Any]]
    hits: list[bool | None] = field(default_factory=list)
    results: list[dict[str, Any] | None] = field(default_factory=list)
    launched: int = 0
    extra_replays: int = 0

    def __post_init__(self) -> None:
        self.hits = [None] * len(self.items)
        self.results = [None] * len(self.items)

    def first_hit(self) -> int | None:
        return next((i for i, hit in enumerate(self.hits) if hit), None)

    def can_launch(self) -> bool:
        stop = self.first_hit()
        return self.launched < len(self.items) and (stop is None or self.launched < stop)

    def decided(self) -> bool:
        stop = self.first_hit()
        end = len(self.items) if stop is None else stop + 1
        return all(hit is not None for hit in self.hits[:end])

    def used(self) -> list[dict[str, Any]]:
        """The results the sequential search would have seen, in its order."""
        stop = self.first_hit()
        end = len(self.items) if stop is None else stop + 1
        return [r for r in self.results[:end] if r is not None]


def _plan(
    position: int,
    directory: Path,
    out_dir: Path,
    models: Models,
    upstream: str,
    options: AnnotateOptions,
) -> _Search | AnnotateReport:
    source = rec.load(directory)
    work = work_dir_for(out_dir, position, source)
    base = {"recording": str(directory), "upstream": upstream, "k": options.k,
            "work": str(work), "models": models.model_dump(mode="json")}  # fmt: skip
    if source.outcome.status in FAILED:
        trajectory = to_trajectory(source, path=directory)
        steps = [s.index for s in trajectory.agent_steps()]
        if options.strategy == "ranked":
            analyzer = ModelAnalyzer(get_model(models.analyzer, models.settings()))
            ranked = worker_loop().run_until_complete(
                analyzer.rank_steps(trajectory, feedback_of(directory, source))
            )
            steps = sorted(ranked[: default_budget(trajectory)])
        items = [{**base, "kind": "counterfactual", "step": step} for step in steps]
    elif source.outcome.status == "success":
        plan = injection_plan(
            directory, operators=options.operators, steps=options.injection_steps,
            seed=options.seed,
        )  # fmt: skip
        items = [
            {**base, "kind": "injection", "step": step, "candidate": list(candidate)}
            for step, candidate in plan
        ]
    else:
        return AnnotateReport(str(directory), f"skipped ({source.outcome.status})")
    return _Search(position, directory, source, work, items)


def _report(search: _Search, options: AnnotateOptions, analyzer: str) -> AnnotateReport:
    if search.source.outcome.status in FAILED:
        trajectory = to_trajectory(search.source, path=search.directory)
        result = SearchResult(strategy=options.strategy, analyzer=analyzer)
        for payload in search.used():
            add_attempt(result, trajectory, Tried.model_validate(payload["tried"]))
        result.replays += search.extra_replays
        return failure_report(search.directory, search.source, result, search.work, options)
    injections = InjectionResult(replays=search.extra_replays)
    for payload in search.used():
        injections.injections.append(Injection.model_validate(payload["injection"]))
        injections.replays += payload["replays"]
    return success_report(search.directory, search.source, injections, search.work, options)


def _replays_of(payload: dict[str, Any]) -> int:
    return payload["tried"]["replays"] if "tried" in payload else payload["replays"]


def annotate_on_ray(
    recordings: list[Path],
    out_dir: Path,
    *,
    analyzer: str,
    upstream_for: Callable[[rec.Recording], str],
    connection: ConnectionSettings | None = None,
    options: AnnotateOptions | None = None,
    window: int | None = None,
    on_progress: Callable[[AnnotateReport], None] | None = None,
) -> list[AnnotateReport]:
    """`datasets.builder.annotate` with the candidates of every recording as Ray tasks.

    `analyzer` and `upstream_for(recording)` are model names (`openai/...`, `local/...`) that
    the workers connect to with `connection`. An attacker model is not supported here yet.
    """
    ray = require_ray()
    options = options or AnnotateOptions()
    connection = connection or ConnectionSettings()
    models = Models(analyzer=analyzer, connection=connection, api_key=connection.api_key)
    out_dir.mkdir(parents=True, exist_ok=True)
    done = done_reports(out_dir)
    reports: dict[int, AnnotateReport] = {}
    searches: list[_Search] = []
    for position, directory in enumerate(recordings):
        if str(directory) in done:
            reports[position] = done[str(directory)]
            continue
        source = rec.load(directory)
        planned = _plan(position, directory, out_dir, models, upstream_for(source), options)
        if isinstance(planned, AnnotateReport):
            _finish(out_dir, planned, position, reports, on_progress)
        else:
            searches.append(planned)
    tasks = {
        "counterfactual": ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(counterfactual_task),
        "injection": ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(injection_task),
    }
    window = window or 2 * cluster_cpus()
    pending: dict[Any, tuple[_Search, int]] = {}
    open_searches = list(searches)

    def submit() -> None:
        for search in open_searches:
            while len(pending) < window and search.can_launch():
                index = search.launched
                item = search.items[index]
                pending[tasks[item["kind"]].remote(item)] = (search, index)
                search.launched += 1

    for search in [s for s in open_searches if not s.items]:  # nothing to try
        open_searches.remove(search)
        _finish(out_dir, _report(search, options, analyzer), search.position, reports, on_progress)
    submit()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1)
        for ref in ready:
            search, index = pending.pop(ref)
            try:
                payload = ray.get(ref)
            except ray.exceptions.RayError as error:
                raise AgenTracerError(f"{search.directory}: {error_line(error)}") from None
            stop = search.first_hit()
            if stop is not None and index > stop:  # launched before the label was decided
                search.extra_replays += _replays_of(payload)
                continue
            search.results[index] = payload
            search.hits[index] = (
                payload["tried"]["attempt"]["flipped"]
                if "tried" in payload
                else payload["injection"]["kept"]
            )
            new_stop = search.first_hit()
            if new_stop is not None:  # later results already in were speculative
                for later in range(new_stop + 1, len(search.results)):
                    if search.results[later] is not None:
                        search.extra_replays += _replays_of(search.results[later] or {})
                        search.results[later], search.hits[later] = None, None
            if search in open_searches and search.decided():
                open_searches.remove(search)
                report = _report(search, options, analyzer)
                _finish(out_dir, report, search.position, reports, on_progress)
        submit()
    ordered = [reports[p] for p in sorted(reports)]
    write_dataset([r.record for r in ordered if r.record is not None], out_dir)
    return ordered


def _finish(
    out_dir: Path,
    report: AnnotateReport,
    position: int,
    reports: dict[int, AnnotateReport],
    on_progress: Callable[[AnnotateReport], None] | None,
) -> None:
    from agentracer.datasets.builder import LOG_FILE

    log_report(out_dir / LOG_FILE, report)
    reports[position] = report
    if on_progress:
        on_progress(report)
