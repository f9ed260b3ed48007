"""Train a fast-tracer model from benchmarks or labelled datasets, and record how.

`agentracer train-fast --data SOURCE ... --out DIR` writes `DIR/fast-model.json` (the model)
and `DIR/TRAINING.json`: what data it saw (per source: where from, how many trajectories,
their labelling methods), the exact command, and the versions used.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentracer import __version__
from agentracer.errors import AgenTracerError
from agentracer.formats import load_benchmark
from agentracer.formats.benchmarks import WHO_AND_WHEN
from agentracer.tracers.fast.families import FeatureSet
from agentracer.tracers.fast.model import FastModel, TrainSettings, train
from agentracer.trajectory import Trajectory

MODEL_FILE = "fast-model.json"
TRAINING_FILE = "TRAINING.json"


def model_path(path: Path) -> Path:
    """The model file of `path`: itself, or `fast-model.json` inside a directory."""
    return path / MODEL_FILE if path.is_dir() else path


def load_sources(
    sources: list[str], data_dir: str | Path | None
) -> tuple[list[Trajectory], list[dict[str, Any]]]:
    """The labelled trajectories of every source (a benchmark name or a dataset path), and a
    description of each source."""
    trajectories: list[Trajectory] = []
    described: list[dict[str, Any]] = []
    for source in sources:
        benchmark = load_benchmark(source, None, data_dir)
        found = [t for _, t in benchmark.trajectories() if t.label is not None]
        if not found:
            raise AgenTracerError(f"{source} holds no labelled trajectory to train on")
        methods = Counter(t.label.provenance.method for t in found if t.label is not None)
        described.append(
            {
                "source": source,
                "location": benchmark.location,
                "trajectories": len(found),
                "labelling": dict(methods),
                "ids_sha256": hashlib.sha256("\n".join(t.id for t in found).encode()).hexdigest(),
                "ids": [t.id for t in found],
                "is_who_and_when": benchmark.name == WHO_AND_WHEN,
            }
        )
        trajectories.extend(found)
    return trajectories, described


def train_and_save(
    sources: list[str],
    out: Path,
    *,
    data_dir: str | Path | None = None,
    settings: TrainSettings | None = None,
    command: str = "",
    features: FeatureSet | None = None,
    anchor: bool = False,
) -> tuple[FastModel, dict[str, Any]]:
    """Train on `sources` and write the model and its training record into directory `out`.
    The record lists every training run's id, so `eval` can tell when it scores a model on
    runs it was trained on (`training_ids`)."""
    trajectories, described = load_sources(sources, data_dir)
    settings = settings or TrainSettings()
    features = features or FeatureSet()
    brief = [{k: v for k, v in d.items() if k != "ids"} for d in described]
    model = train(trajectories, settings, meta={"data": brief}, features=features, anchor=anchor)
    try:
        import lightgbm

        lightgbm_version = lightgbm.__version__
    except ImportError:  # pragma: no cover - train() has imported it already
        lightgbm_version = "unknown"
    record = {
        "command": command,
        "data": described,
        "trained_on_who_and_when": any(d["is_who_and_when"] for d in described),
        "trajectories": model.meta["trajectories"],
        "agent_steps": model.meta["agent_steps"],
        "settings": model.meta["settings"],
        "families": list(features.families),
        "anchor": model.meta.get("anchor"),
        "temperature": model.temperature,
        "agentracer": __version__,
        "lightgbm": lightgbm_version,
        "python": platform.python_version(),
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / MODEL_FILE)
    (out / TRAINING_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return model, record


def training_ids(path: Path) -> tuple[set[str], Path] | None:
    """The ids of the runs the model at `path` (a model file or its directory) was trained on,
    from the `TRAINING.json` beside it, and that file; None when there is no readable record."""
    record = (path if path.is_dir() else path.parent) / TRAINING_FILE
    try:
        document = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    ids = {i for d in document.get("data", []) for i in d.get("ids", []) if isinstance(i, str)}
    return ids, record


LOSO_KEY = "leave_one_system_out"


def loso_summary(path: Path) -> str | None:
    """One line with the leave-one-system-out scores recorded in the model's `TRAINING.json`
    (`benchmarks/loso.py --write-record` puts them there); None when absent."""
    record = (path if path.is_dir() else path.parent) / TRAINING_FILE
    try:
        rows = json.loads(record.read_text(encoding="utf-8")).get(LOSO_KEY, {}).get("rows", [])
    except (OSError, json.JSONDecodeError, AttributeError):
        return None
    parts = [
        f"{r['left_out']} top-1 {r['top1']:.1f}% (best rule {r['best_rule_top1']:.1f}%), "
        f"top-3 {r['top3']:.1f}%"
        for r in rows
        if isinstance(r, dict) and {"left_out", "top1", "top3", "best_rule_top1"} <= set(r)
    ]
    return "; ".join(parts) or None
