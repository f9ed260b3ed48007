"""The report of an `agentracer eval` run directory, as one self-contained HTML file.

Everything is computed from the run's `results.jsonl` (so a report always matches the
verdicts on disk): accuracy by subset with 95% Wilson intervals, accuracy by trajectory length,
the model-free baselines on the same trajectories (re-run here in memory when the benchmark
data can be found; they cost nothing), cost per method, and the confusion of the blamed step's
relative position against the gold step's. Plots are matplotlib SVGs inlined in the page.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentracer.errors import AgenTracerError, install_hint
from agentracer.evaluation.metrics import Accuracy, accuracy, score_verdict
from agentracer.evaluation.runner import (
    CONFIG_FILE,
    RESULTS_FILE,
    SUMMARY_FILE,
    RecordResult,
    RunConfig,
)
from agentracer.serve.pages import render
from agentracer.tracers.baselines import BASELINES
from agentracer.wording import count as counted

POSITION_BINS = 5  # relative position in the run: fifths
LENGTH_EDGES = (10, 20, 40, 80)  # trajectory length buckets (steps)


@dataclass
class MethodRow:
    """One method's accuracy and cost on the run's trajectories."""

    name: str
    n: int
    agent: Accuracy
    step: Accuracy
    calls: float = 0.0
    tokens: float = 0.0
    seconds: float = 0.0
    note: str = ""


@dataclass
class EvalReport:
    title: str
    config: RunConfig
    subsets: list[tuple[str, MethodRow]]
    by_length: list[tuple[str, MethodRow]]
    methods: list[MethodRow]
    confusion: list[list[int]]
    plots: list[tuple[str, str]] = field(default_factory=list)  # (caption, data: URI)
    problems: list[str] = field(default_factory=list)


def is_run_directory(path: Path) -> bool:
    return path.is_dir() and (path / RESULTS_FILE).is_file() and (path / CONFIG_FILE).is_file()


def read_run(path: Path) -> tuple[RunConfig, list[RecordResult]]:
    """The run's configuration and results; an unreadable line is an error naming it."""
    try:
        config = RunConfig.model_validate_json((path / CONFIG_FILE).read_text(encoding="utf-8"))
    except ValueError as error:
        raise AgenTracerError(f"unreadable {CONFIG_FILE} ({error})", path=path) from None
    results = []
    for number, line in enumerate(
        (path / RESULTS_FILE).read_text(encoding="utf-8").splitlines(), 1
    ):
        if line.strip():
            try:
                results.append(RecordResult.model_validate_json(line))
            except ValueError:
                raise AgenTracerError(
                    f"{RESULTS_FILE} line {number} is not a result", path=path
                ) from None
    if not results:
        raise AgenTracerError(f"the run has no results yet ({RESULTS_FILE} is empty)", path=path)
    return config, results


def _row(name: str, results: Sequence[RecordResult], note: str = "") -> MethodRow:
    n = len(results) or 1
    usage = [r.verdict.usage for r in results]
    return MethodRow(
        name=name,
        n=len(results),
        agent=accuracy([r.score.agent for r in results]),
        step=accuracy([r.score.step for r in results]),
        calls=sum(u.calls for u in usage) / n,
        tokens=sum(u.prompt_tokens + u.completion_tokens for u in usage) / n,
        seconds=sum(u.seconds for u in usage) / n,
        note=note,
    )


def _length_bucket(n_steps: int) -> str:
    low = 0
    for edge in LENGTH_EDGES:
        if n_steps <= edge:
            return f"{low + 1}-{edge} steps"
        low = edge
    return f"over {LENGTH_EDGES[-1]} steps"


def position_bin(step: int | None, n_steps: int) -> int | None:
    """Which fifth of the run a step falls in (None: no step)."""
    if step is None or n_steps <= 0:
        return None
    return min(POSITION_BINS - 1, step * POSITION_BINS // n_steps)


def confusion(results: Sequence[RecordResult]) -> list[list[int]]:
    """Rows: gold position fifth; columns: blamed position fifth, then 'no step'."""
    matrix = [[0] * (POSITION_BINS + 1) for _ in range(POSITION_BINS)]
    for r in results:
        gold = position_bin(r.gold.step, r.n_steps)
        blamed = position_bin(r.verdict.step, r.n_steps)
        if gold is not None:
            matrix[gold][POSITION_BINS if blamed is None else blamed] += 1
    return matrix


def baseline_results(
    config: RunConfig, results: Sequence[RecordResult]
) -> tuple[dict[str, list[RecordResult]], str | None]:
    """The model-free baselines on the same trajectories (same seed), or why they are missing."""
    from agentracer.formats import load_benchmark
    from agentracer.tracers import TracerSettings, create_tracer

    try:
        benchmark = load_benchmark(config.bench, config.subsets, data=config.data)
    except AgenTracerError as error:
        return (
            {},
            f"baselines not computed: the benchmark is not readable here ({error.one_line()})",
        )
    wanted = {r.id for r in results}
    trajectories = [(s, t) for s, t in benchmark.trajectories() if t.id in wanted and t.label]
    out: dict[str, list[RecordResult]] = {}
    for name in BASELINES:
        if name == config.tracer:
            continue
        tracer = create_tracer(name, TracerSettings(seed=config.settings.seed))
        rows = []
        for subset, trajectory in trajectories:
            verdict = asyncio.run(tracer.attribute(trajectory))
            assert trajectory.label is not None
            rows.append(
                RecordResult(
                    id=trajectory.id, subset=subset, n_steps=len(trajectory.steps),
                    gold=trajectory.label, verdict=verdict,
                    score=score_verdict(verdict, trajectory.label, config.tolerances),
                )
            )  # fmt: skip
        out[name] = rows
    missing = len(wanted) - len(trajectories)
    note = (
        f"baselines cover {len(trajectories)} of {counted(len(wanted), 'trajectory')}"
        if missing
        else None
    )
    return out, note


def analytic_rows(path: Path, shown: set[str]) -> list[MethodRow]:
    """The baselines `summary.json` holds that are not re-run here (random by its analytic
    expectation, and as the Who&When paper drew it): a value, no interval."""
    try:
        summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # an interrupted run has no summary yet
    rows = []
    for name, figures in (summary.get("baselines") or {}).items():
        overall = figures.get("all") if isinstance(figures, dict) else None
        if name in shown or not isinstance(overall, dict):
            continue
        n = int(overall.get("n") or 0)
        rows.append(
            MethodRow(
                name=name, n=n,
                agent=Accuracy(value=overall.get("agent_accuracy"), low=None, high=None, hits=0, n=n),
                step=Accuracy(value=overall.get("step_accuracy"), low=None, high=None, hits=0, n=n),
                note="analytic expectation, from summary.json",
            )
        )  # fmt: skip
    return rows


def mark_best(rows: list[MethodRow]) -> None:
    """Say in its note which baseline is best at each accuracy (the tracer is read against it)."""
    for metric in ("agent", "step"):
        scored = [r for r in rows if getattr(r, metric).value is not None]
        if scored:
            best = max(getattr(r, metric).value for r in scored)
            for row in scored:
                if getattr(row, metric).value == best:
                    row.note += f" · best baseline, {metric} accuracy"


def build_report(path: Path, *, baselines: bool = True) -> EvalReport:
    config, results = read_run(path)
    subsets = [
        (s, _row(s, [r for r in results if r.subset == s]))
        for s in sorted({r.subset for r in results})
    ]
    if len(subsets) > 1:
        subsets.append(("all", _row("all", results)))
    buckets: dict[str, list[RecordResult]] = {}
    for r in sorted(results, key=lambda r: r.n_steps):
        buckets.setdefault(_length_bucket(r.n_steps), []).append(r)
    methods = [_row(config.tracer, results, note="this run")]
    problems = []
    if baselines:
        found, note = baseline_results(config, results)
        methods += [_row(name, rows, note="model-free baseline") for name, rows in found.items()]
        methods += analytic_rows(path, {m.name for m in methods})
        mark_best(methods[1:])
        if note:
            problems.append(note)
    report = EvalReport(
        title=f"{config.bench} · {config.tracer} · "
        + ("with ground truth" if config.with_ground_truth else "without ground truth"),
        config=config,
        subsets=subsets,
        by_length=[(name, _row(name, rows)) for name, rows in buckets.items()],
        methods=methods,
        confusion=confusion(results),
        problems=problems,
    )
    report.plots = plots(report)
    return report


def plots(report: EvalReport) -> list[tuple[str, str]]:
    """Matplotlib figures as inline SVG data URIs (needs the `view` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    figures = []

    def bars(rows: list[tuple[str, MethodRow]], caption: str) -> None:
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        names = [name for name, _ in rows]
        for offset, (metric, color) in enumerate((("agent", "#3e63dd"), ("step", "#d92d20"))):
            values = [100 * (getattr(row, metric).value or 0) for _, row in rows]
            # An analytic expectation has no interval: no error bar (low = high = value).
            lows = [100 * _bound(getattr(row, metric), "low") for _, row in rows]
            highs = [100 * _bound(getattr(row, metric), "high") for _, row in rows]
            xs = [i + (offset - 0.5) * 0.38 for i in range(len(rows))]
            ax.bar(xs, values, width=0.36, color=color, label=f"{metric} accuracy")
            ax.errorbar(xs, values, yerr=[[v - lo for v, lo in zip(values, lows, strict=True)],
                                          [hi - v for v, hi in zip(values, highs, strict=True)]],
                        fmt="none", ecolor="#222", capsize=3, linewidth=1)  # fmt: skip
        ax.set_xticks(range(len(rows)), names, rotation=15, ha="right", fontsize=8)
        ax.set_ylabel("% (95% Wilson interval)")
        ax.set_ylim(0, 100)
        ax.legend(fontsize=8)
        ax.set_title(caption, fontsize=10)
        fig.tight_layout()
        figures.append((caption, _svg(fig)))
        plt.close(fig)

    bars([(m.name, m) for m in report.methods], "Tracer and baselines")
    bars(report.by_length, "Accuracy by trajectory length")
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.imshow(report.confusion, cmap="Reds")
    labels = [f"{i + 1}/{POSITION_BINS}" for i in range(POSITION_BINS)]
    ax.set_xticks(range(POSITION_BINS + 1), [*labels, "none"], fontsize=8)
    ax.set_yticks(range(POSITION_BINS), labels, fontsize=8)
    ax.set_xlabel("blamed step: fifth of the run")
    ax.set_ylabel("gold step: fifth of the run")
    for i, row in enumerate(report.confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8)
    ax.set_title("Blamed vs gold relative position", fontsize=10)
    fig.tight_layout()
    figures.append(("Blamed vs gold relative position", _svg(fig)))
    plt.close(fig)
    return figures


def _bound(a: Accuracy, side: str) -> float:
    bound = getattr(a, side)
    return (a.value or 0) if bound is None else bound


def _svg(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg")
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


def evaluation_report(path: Path, *, baselines: bool = True) -> str:
    """The HTML report of the run directory `path`."""
    report = build_report(path, baselines=baselines)
    return render("evaluation.html", report=report, bins=POSITION_BINS, live=False,
                  view_hint=install_hint("view"),
                  config_json=json.dumps(report.config.model_dump(mode="json", exclude={"settings": {"connection"}}), indent=2))  # fmt: skip
