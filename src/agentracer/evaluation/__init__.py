"""Scoring tracers on benchmarks: metrics, the resumable runner, and reports."""

from agentracer.evaluation.evaluate import evaluate
from agentracer.evaluation.metrics import Score, accuracy, score_verdict, wilson_interval
from agentracer.evaluation.runner import RecordResult, RunConfig, run_evaluation

__all__ = [
    "RecordResult",
    "RunConfig",
    "Score",
    "accuracy",
    "evaluate",
    "run_evaluation",
    "score_verdict",
    "wilson_interval",
]
