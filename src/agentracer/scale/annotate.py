"""`agentracer annotate --ray`: every candidate replay of every recording as a Ray task.

The driver plans each recording's candidates in the order the in-process search tries them
(counterfactual search: agent steps in order, or the analyzer's ranked top; fault injection:
each step's operator perturbations, then the attacker's, when an attacker model is given) and
keeps a window of candidates in flight across all recordings. A task proposes the fix
(counterfactual) or the attack (injection) and replays it, majority of `k`, behind its own
proxy port into its own directory, each replay in its own copy of the recorded working
directory (`replay.workspace`: concurrent replays of a program that writes files in its working
directory do not see each other's files). With an endpoint limit, every model call of a task
(analyzer, attacker, and the replays' live calls through the proxy) takes a slot of the
cluster-wide limiter (`scale.limiter`). The search's early stop is kept: once a candidate
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

from agentracer.credentials import secret
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
from agentracer.errors import AgenTracerError, TraceFormatError
from agentracer.formats.recorded_run import call_index
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
    ModelAttacker,
    chosen_steps,
    injection_plan,
    try_injection,
)
from agentracer.replay.upstream import Upstream, make_upstream
from agentracer.replay.workspace import DEFAULT_LIMIT_MB, MB, PrivateCwd
from agentracer.scale.cluster import cluster_cpus, require_ray
from agentracer.scale.limiter import SharedLimitUpstream, get_limiter, share_limits
from agentracer.scale.tasks import error_line
from agentracer.scale.worker import worker_loop

FAILED = ("failure", "crashed", "timeout")
TASK_RETRIES = 1  # a lost worker's replay is redone once, into a fresh directory


class Models(BaseModel):
    """Model names, connection and limits the tasks rebuild their clients from."""

    analyzer: str
    attacker: str | None = None
    connection: ConnectionSettings
    api_key: str | None = None
    endpoint_limit: int | None = None  # calls in flight per endpoint, cluster-wide
    cwd_copy_limit: int = DEFAULT_LIMIT_MB * MB  # bytes; 0 runs replays in the recorded cwd
    out_dir: str = ""  # never copied with a working directory that holds it

    def settings(self) -> ConnectionSettings:
        return self.connection.model_copy(update={"api_key": self.api_key})

    def model(self, name: str) -> Any:
        """A chat model, behind the shared limiter when there is an endpoint limit."""
        model = get_model(name, self.settings())
        if self.endpoint_limit is not None:
            share_limits(model, self.endpoint_limit)
        return model

    def upstream(self, name: str) -> Upstream:
        upstream = make_upstream(name, self.settings())
        if self.endpoint_limit is not None:
            return SharedLimitUpstream(upstream, get_limiter(), self.endpoint_limit)
        return upstream

    def private_cwd(self) -> PrivateCwd:
        return PrivateCwd(self.cwd_copy_limit, (Path(self.out_dir),) if self.out_dir else ())


def counterfactual_task(item: dict[str, Any]) -> dict[str, Any]:
    """The Ray task for one counterfactual candidate: propose the fix, replay it."""
    models = Models.model_validate(item["models"])
    directory = Path(item["recording"])
    source = rec.load(directory)
    trajectory = to_trajectory(source, path=directory)
    analyzer = ModelAnalyzer(models.model(models.analyzer))
    tried = worker_loop().run_until_complete(
        try_candidate(
            directory, trajectory, item["step"], feedback_of(directory, source), analyzer,
            models.upstream(item["upstream"]), Path(item["work"]), k=item["k"],
            private_cwd=models.private_cwd(),
        )
    )  # fmt: skip
    return {"tried": tried.model_dump(mode="json")}


def injection_task(item: dict[str, Any]) -> dict[str, Any]:
    """The Ray task for one fault-injection candidate: replay the perturbed step. An `attack`
    candidate first asks the attacker model for the perturbation (none: nothing is replayed,
    as in-process)."""
    models = Models.model_validate(item["models"])
    directory = Path(item["recording"])
    trajectory = to_trajectory(rec.load(directory), path=directory)
    if item["kind"] == "attack":
        assert models.attacker is not None
        attacker = ModelAttacker(models.model(models.attacker))
        perturbed = worker_loop().run_until_complete(attacker.perturb(trajectory, item["step"]))
        if perturbed is None:
            return {"injection": None, "replays": 0}
        name, content, tool_calls = f"attacker:{attacker.name}", perturbed, item["tool_calls"]
    else:
        name, content, tool_calls = item["candidate"]
    spent = InjectionResult()
    injection = try_injection(
        directory, trajectory, item["step"], name, (content, tool_calls),
        models.upstream(item["upstream"]), Path(item["work"]), item["k"], spent,
        private_cwd=models.private_cwd(),
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
    private_cwd = models.private_cwd()
    if source.outcome.status in (*FAILED, "success") and not private_cwd.shared:
        # fail before any task starts, in one line
        private_cwd.check(Path(source.cwd))
    work = work_dir_for(out_dir, position, source)
    base = {"recording": str(directory), "upstream": upstream, "k": options.k,
            "work": str(work), "models": models.model_dump(mode="json")}  # fmt: skip
    if source.outcome.status in FAILED:
        trajectory = to_trajectory(source, path=directory)
        steps = [s.index for s in trajectory.agent_steps()]
        if options.strategy == "ranked":
            analyzer = ModelAnalyzer(models.model(models.analyzer))
            ranked = worker_loop().run_until_complete(
                analyzer.rank_steps(trajectory, feedback_of(directory, source))
            )
            steps = sorted(ranked[: default_budget(trajectory)])
        items = [{**base, "kind": "counterfactual", "step": step} for step in steps]
    elif source.outcome.status == "success":
        items = _injection_items(directory, source, base, options, models.attacker is not None)
    else:
        return AnnotateReport(str(directory), f"skipped ({source.outcome.status})")
    return _Search(position, directory, source, work, items)


def _injection_items(
    directory: Path,
    source: rec.Recording,
    base: dict[str, Any],
    options: AnnotateOptions,
    attack: bool,
) -> list[dict[str, Any]]:
    """Fault injection's candidates in `inject_faults`' order: per chosen step, each operator's
    perturbation, then (with an attacker) the attacker's."""
    plan = injection_plan(
        directory, operators=options.operators, steps=options.injection_steps, seed=options.seed
    )
    trajectory = to_trajectory(source, path=directory)
    calls = source.calls()
    items = []
    for step in chosen_steps(trajectory, options.injection_steps, options.seed):
        items += [
            {**base, "kind": "injection", "step": step, "candidate": list(candidate)}
            for at, candidate in plan
            if at == step
        ]
        if attack:
            tool_calls = calls[call_index(trajectory, step)].tool_calls() or None
            items.append({**base, "kind": "attack", "step": step, "tool_calls": tool_calls})
    return items


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
        if payload["injection"] is not None:  # the attacker proposed nothing
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
    attacker: str | None = None,
    endpoint_limit: int | None = None,
    cwd_copy_limit_mb: float = DEFAULT_LIMIT_MB,
) -> list[AnnotateReport]:
    """`datasets.builder.annotate` with the candidates of every recording as Ray tasks.

    `analyzer`, `attacker` and `upstream_for(recording)` are model names (`openai/...`,
    `local/...`) that the workers connect to with `connection`. `endpoint_limit`: model calls
    in flight per endpoint across the cluster (None: no shared limit). Each replay runs in a
    copy of the recorded working directory when that holds at most `cwd_copy_limit_mb` MB
    (else a one-line error; 0: no copy, replays share the recorded directory).
    """
    ray = require_ray()
    options = options or AnnotateOptions()
    connection = connection or ConnectionSettings()
    out_dir.mkdir(parents=True, exist_ok=True)
    models = Models(
        analyzer=analyzer, attacker=attacker, connection=connection, api_key=connection.api_key or secret("OPENAI_API_KEY"),
        endpoint_limit=endpoint_limit, cwd_copy_limit=int(cwd_copy_limit_mb * MB),
        out_dir=str(out_dir.resolve()),
    )  # fmt: skip
    # created here so the driver owns it: an actor dies with its owner, and a worker may die
    limiter = get_limiter() if endpoint_limit is not None else None
    done = done_reports(out_dir)
    reports: dict[int, AnnotateReport] = {}
    searches: list[_Search] = []
    for position, directory in enumerate(recordings):
        if str(directory) in done:
            reports[position] = done[str(directory)]
            continue
        try:
            source = rec.load(directory)
        except TraceFormatError as error:  # fails alone, and is tried again on a re-run
            reports[position] = AnnotateReport(str(directory), f"unreadable: {error.one_line()}")
            if on_progress:
                on_progress(reports[position])
            continue
        planned = _plan(position, directory, out_dir, models, upstream_for(source), options)
        if isinstance(planned, AnnotateReport):
            _finish(out_dir, planned, position, reports, on_progress)
        else:
            searches.append(planned)
    injection = ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(injection_task)
    tasks = {
        "counterfactual": ray.remote(num_cpus=1, max_retries=TASK_RETRIES)(counterfactual_task),
        "injection": injection,
        "attack": injection,
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
                else bool(payload["injection"] and payload["injection"]["kept"])
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
    del limiter
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
