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
) -> tuple[FastModel, dict[str, Any]]:
    """Train on `sources` and write the model and its training record into directory `out`."""
    trajectories, described = load_sources(sources, data_dir)
    settings = settings or TrainSettings()
    model = train(trajectories, settings, meta={"data": described})
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
