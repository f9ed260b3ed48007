"""Turn run results into `summary.json` and a markdown results table.

Scores are recomputed here from the stored verdicts and gold labels, so a resumed run and a
fresh run of the same configuration give the same summary.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agentracer import __version__
from agentracer.evaluation.baselines import best_baseline
from agentracer.evaluation.metrics import Score, accuracy, score_verdict
from agentracer.evaluation.official import official_score
from agentracer.evaluation.runner import (
    SUMMARY_FILE,
    TABLE_FILE,
    RecordResult,
    RunConfig,
    RunOutcome,
)
from agentracer.formats.who_and_when import FLAG_AGENT_STEP_MISMATCH, FLAG_GOLD_NOT_BLAMABLE

ALL = "all"
COST_FIELDS = (
    "calls",
    "cached_calls",
    "prompt_tokens",
    "cached_prompt_tokens",
    "completion_tokens",
    "seconds",
)


def _accuracies(scores: Sequence[Score]) -> dict[str, Any]:
    agent = accuracy([s.agent for s in scores])
    step = accuracy([s.step for s in scores])
    top3 = accuracy([s.step_top3 for s in scores])
    anyone = accuracy([s.any_failure for s in scores])
    return {
        "n": len(scores),
        "agent_accuracy": agent.value,
        "agent_accuracy_ci95": [agent.low, agent.high],
        "step_accuracy": step.value,
        "step_accuracy_ci95": [step.low, step.high],
        "step_top3_accuracy": top3.value,
        "step_top3_accuracy_ci95": [top3.low, top3.high],
        "any_failure_accuracy": anyone.value,
        "any_failure_accuracy_ci95": [anyone.low, anyone.high],
    }


def blamable(results: Sequence[RecordResult]) -> list[RecordResult]:
    """The results that can be scored: not those whose gold agent no tracer may blame (a
    simulated user), which are reported apart (`not_blamable`)."""
    return [r for r in results if FLAG_GOLD_NOT_BLAMABLE not in r.flags]


def _apart(results: Sequence[RecordResult]) -> dict[str, Any]:
    """The runs whose gold agent cannot be blamed: how many, and what the verdicts said."""
    apart = [r for r in results if FLAG_GOLD_NOT_BLAMABLE in r.flags]
    return {
        "n": len(apart),
        "ids": [r.id for r in apart],
        "step_at_gold": sum(r.verdict.step == r.gold.step for r in apart),
        "step_at_any_failure": sum(
            r.verdict.step is not None and r.verdict.step in r.gold.failure_steps() for r in apart
        ),
    }


def _expected(results: Sequence[RecordResult], measured: dict[str, Any]) -> dict[str, Any] | None:
    """Mean analytic expectation per metric, with the sampling s.d. of a measured accuracy."""
    if not results or any(r.expectation is None for r in results):
        return None
    expected: dict[str, Any] = {}
    n = len(results)
    for metric in results[0].expectation or {}:
        probabilities = [(r.expectation or {})[metric] for r in results]
        mean = sum(probabilities) / n
        entry: dict[str, Any] = {"value": mean}
        if metric in measured and measured[metric] is not None:
            sd = math.sqrt(sum(p * (1 - p) for p in probabilities)) / n
            entry["sd"] = sd
            entry["z"] = (measured[metric] - mean) / sd if sd > 0 else 0.0
        expected[metric] = entry
    return expected


def subset_summary(
    results: Sequence[RecordResult], tolerances: Sequence[int], records: int | None = None
) -> dict[str, Any]:
    """All figures for one subset: exact accuracies with 95% CIs, ±k, official scorer, cost.

    `records` is the number of records of the subset, including those that did not load or
    failed (the released Who&When scorer's denominator); by default, the results. Runs whose
    gold agent cannot be blamed are not scored: they are counted apart (`not_blamable`).
    """
    apart = _apart(results)
    results = blamable(results)
    if records is not None:
        records -= apart["n"]
    scores = [score_verdict(r.verdict, r.gold, tolerances) for r in results]
    summary = _accuracies(scores)
    summary["step_accuracy_within"] = {
        str(k): accuracy([s.step_within[str(k)] for s in scores]).value for k in tolerances
    }
    summary["official"] = official_score(
        ((r.verdict, r.gold) for r in results),
        len(results) if records is None else max(records, len(results)),
    ).as_dict()
    clean = [
        s for s, r in zip(scores, results, strict=True) if FLAG_AGENT_STEP_MISMATCH not in r.flags
    ]
    summary["without_agent_step_mismatch"] = _accuracies(clean)
    summary["not_blamable"] = apart
    statuses = Counter(r.verdict.parse_status for r in results)
    summary["parse"] = {
        status: statuses.get(status, 0) for status in ("parsed", "partial", "unparsed", "direct")
    }
    totals = {f: sum(getattr(r.verdict.usage, f) for r in results) for f in COST_FIELDS}
    summary["cost"] = {
        **totals,
        "per_trajectory": {f: (totals[f] / len(results) if results else None) for f in COST_FIELDS},
    }
    confident = [(r.verdict.confidence, s.step) for r, s in zip(results, scores, strict=True)]
    rated = [(c, hit) for c, hit in confident if c is not None]
    if rated:
        # A calibrated confidence has a mean close to the step accuracy of the same verdicts.
        summary["confidence"] = {
            "n": len(rated),
            "mean": sum(c for c, _ in rated) / len(rated),
            "step_accuracy": sum(hit for _, hit in rated) / len(rated),
        }
    expected = _expected(results, summary)
    if expected is not None:
        summary["expected"] = expected
    return summary


def summarise(
    config: RunConfig,
    outcome: RunOutcome,
    *,
    location: str,
    baselines: dict[str, dict[str, Any]] | None = None,
    records: dict[str, int] | None = None,
) -> dict[str, Any]:
    """The content of `summary.json`; `baselines` (from `evaluation.baselines`) are stored
    beside the tracer's figures; `records` counts every record per subset (see
    `subset_summary`)."""
    subsets: dict[str, Any] = {}
    for subset in config.subsets:
        subsets[subset] = subset_summary(
            [r for r in outcome.results if r.subset == subset],
            config.tolerances,
            None if records is None else records.get(subset),
        )
    total = None if records is None else sum(records.get(s, 0) for s in config.subsets)
    subsets[ALL] = subset_summary(outcome.results, config.tolerances, total)
    flagged: dict[str, list[str]] = {}
    for result in outcome.results:
        for flag in result.flags:
            flagged.setdefault(flag, []).append(result.id)
    return {
        "agentracer_version": __version__,
        "bench": config.bench,
        "tracer": config.tracer,
        "setting": "with ground truth" if config.with_ground_truth else "without ground truth",
        "config": config.model_dump(mode="json"),
        "data": location,
        "subsets": subsets,
        "baselines": baselines or {},
        "flagged": flagged,
        "computed": outcome.computed,
        "resumed": outcome.resumed,
        "skipped": outcome.skipped,
        "failed": outcome.failed,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def _with_ci(value: float | None, ci: Sequence[float | None]) -> str:
    if value is None or ci[0] is None or ci[1] is None:
        return "-"
    return f"{_pct(value)} [{_pct(ci[0])}, {_pct(ci[1])}]"


def accuracy_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the exact-scoring table (percentages), shared by markdown and the CLI."""
    tolerances = summary["config"]["tolerances"]
    header = [
        "subset",
        "n",
        "agent % [95% CI]",
        "step % [95% CI]",
        *(f"step ±{k} %" for k in tolerances),
    ]
    rows = [
        [
            name,
            str(s["n"]),
            _with_ci(s["agent_accuracy"], s["agent_accuracy_ci95"]),
            _with_ci(s["step_accuracy"], s["step_accuracy_ci95"]),
            *(_pct(s["step_accuracy_within"][str(k)]) for k in tolerances),
        ]
        for name, s in summary["subsets"].items()
    ]
    return header, rows


def baseline_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The tracer's row and the baselines' rows, per subset, in one table (percentages).

    Read the tracer against the best baseline of its subset (marked with *)."""
    tolerances = summary["config"]["tolerances"]
    header = ["subset: method", "n", "agent %", "step %", *(f"±{k} %" for k in tolerances)]
    baselines: dict[str, dict[str, Any]] = summary.get("baselines") or {}
    rows = []
    for name, s in summary["subsets"].items():
        rows.append(
            [
                f"{name}: {summary['tracer']}",
                str(s["n"]),
                _pct(s["agent_accuracy"]),
                _pct(s["step_accuracy"]),
                *(_pct(s["step_accuracy_within"][str(k)]) for k in tolerances),
            ]
        )
        best = {
            metric: best_baseline(baselines, name, metric)
            for metric in ("agent_accuracy", "step_accuracy")
        }
        for method, figures in baselines.items():
            b = figures.get(name)
            if b is None:
                continue
            within = b.get("step_accuracy_within", {})

            rows.append(
                [
                    f"  {method}",
                    str(b["n"]),
                    *(
                        _pct(b[metric]) + ("*" if best[metric] == method else "")
                        for metric in ("agent_accuracy", "step_accuracy")
                    ),
                    *(_pct(within.get(str(k))) for k in tolerances),
                ]
            )
    return header, rows


def step_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Decisive step top-1 and top-3, hit any annotated failure (percentages), and the runs
    left out because their gold agent cannot be blamed (a simulated user)."""
    header = ["subset", "n", "top-1 %", "top-3 %", "any failure %", "not blamable"]
    rows = [
        [
            name,
            str(s["n"]),
            _pct(s["step_accuracy"]),
            _pct(s.get("step_top3_accuracy")),
            _pct(s.get("any_failure_accuracy")),
            str(s.get("not_blamable", {}).get("n", 0)),
        ]
        for name, s in summary["subsets"].items()
    ]
    return header, rows


def comparison_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The official (substring) scorer, scores without the agent/step-mismatch records, parse failures."""
    header = [
        "subset",
        "official agent %",
        "official step %",
        "w/o mismatch: n",
        "agent %",
        "step %",
        "unparsed",
    ]
    rows = []
    for name, s in summary["subsets"].items():
        clean = s["without_agent_step_mismatch"]
        rows.append(
            [
                name,
                _pct(s["official"]["agent_accuracy"]),
                _pct(s["official"]["step_accuracy"]),
                str(clean["n"]),
                _pct(clean["agent_accuracy"]),
                _pct(clean["step_accuracy"]),
                str(s["parse"]["unparsed"]),
            ]
        )
    return header, rows


def cost_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """What the model calls cost per subset, per trajectory: calls (and how many the response
    cache answered), prompt tokens and the share the server read from its prompt cache (where
    it says so), completion tokens, model seconds. None when no model was called."""
    if not any(s["cost"]["calls"] for s in summary["subsets"].values()):
        return None
    header = [
        "subset",
        "calls / run",
        "response-cache hits",
        "prompt tokens / run",
        "from the prompt cache %",
        "completion tokens / run",
        "model s / run",
    ]
    rows = []
    for name, s in summary["subsets"].items():
        cost, each = s["cost"], s["cost"]["per_trajectory"]
        if each["calls"] is None:
            continue
        # Old results (before the field) lack cached_prompt_tokens: read as none cached.
        cached = cost.get("cached_prompt_tokens") or 0
        share = cached / cost["prompt_tokens"] if cost["prompt_tokens"] else None
        rows.append(
            [
                name,
                f"{each['calls']:.1f}",
                str(cost["cached_calls"]),
                f"{each['prompt_tokens']:.0f}",
                _pct(share),
                f"{each['completion_tokens']:.0f}",
                f"{each['seconds']:.1f}",
            ]
        )
    return header, rows


def expectation_table(summary: dict[str, Any]) -> tuple[list[str], list[list[str]]] | None:
    """Measured vs analytic accuracy, for tracers that report an expectation (random)."""
    rows = []
    for name, s in summary["subsets"].items():
        e = s.get("expected")
        if not e:
            continue
        paper = e.get("agent_accuracy_paper", {}).get("value")
        rows.append(
            [
                name,
                f"{_pct(s['agent_accuracy'])} vs {_pct(e['agent_accuracy']['value'])} (z {e['agent_accuracy']['z']:+.2f})",
                f"{_pct(s['step_accuracy'])} vs {_pct(e['step_accuracy']['value'])} (z {e['step_accuracy']['z']:+.2f})",
                _pct(paper),
            ]
        )
    if not rows:
        return None
    header = [
        "subset",
        "agent %: measured vs expected",
        "step %: measured vs expected",
        "paper-compatible agent % (expected)",
    ]
    return header, rows


def _markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown_report(summary: dict[str, Any]) -> str:
    """`results.md`: the settings, the results table, and the expectation table when there is one."""
    config = summary["config"]
    lines = [
        f"# {summary['tracer']} on {summary['bench']}",
        "",
        f"Setting: {summary['setting']}; seed {config['settings']['seed']}; data: {summary['data']}; "
        f"agentracer {summary['agentracer_version']}.",
        "Exact scoring (normalised agent names, integer steps) with 95% Wilson intervals; "
        "'official' is the released Who&When scorer replicated exactly (substring tests on the "
        "printed answer, every record in the denominator), which over-counts.",
        "",
        *_markdown(*accuracy_table(summary)),
        "",
        "Decisive step: top-1, top-3 (the verdict's step and its candidates) and hit any "
        "annotated failure; runs whose gold agent cannot be blamed (a simulated user) are not "
        "scored, only counted:",
        "",
        *_markdown(*step_table(summary)),
        "",
        "Beside the model-free baselines on the same trajectories (* the best baseline per "
        "column; random by its analytic expectation):",
        "",
        *_markdown(*baseline_table(summary)),
        "",
        "For comparison with published numbers: the official Who&When scorer, and exact scores "
        "without the records whose labelled agent did not act at the labelled step.",
        "",
        *_markdown(*comparison_table(summary)),
    ]
    costs = cost_table(summary)
    if costs is not None:
        lines += [
            "",
            "Cost of the model calls (prompt tokens from the prompt cache: as the server reports "
            "them; 0 where it does not say).",
            "",
            *_markdown(*costs),
        ]
    expectation = expectation_table(summary)
    if expectation is not None:
        lines += [
            "",
            "Analytic expectation (z = measured minus expected, in sampling standard deviations). "
            "The paper-compatible figure draws among raw speaker strings, as the Who&When paper did.",
            "",
            *_markdown(*expectation),
        ]
    if summary["skipped"] or summary["failed"]:
        lines += [
            "",
            f"Skipped records: {len(summary['skipped'])}; failed: {len(summary['failed'])}.",
        ]
    return "\n".join(lines) + "\n"


def write_reports(out_dir: Path, summary: dict[str, Any]) -> None:
    """Write `summary.json` and `results.md` into the run directory."""
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / TABLE_FILE).write_text(markdown_report(summary), encoding="utf-8")
