"""On-disk cache of model-computed signals of a run (language-model surprise, embeddings).

A signal costs seconds to minutes of CPU per run and depends only on the run's text, the model
file and the settings, so it is computed once and kept: one `.npz` file per key, written
atomically (temporary file, then rename), read back without pickles. The key is a sha256 of
everything the signal depends on (`signal_key`); an unreadable entry counts as absent.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy

from agentracer.llm.cache import default_cache_dir
from agentracer.trajectory import Trajectory


def signal_key(kind: str, trajectory: Trajectory, model_sha256: str, settings: Any) -> str:
    """sha256 of the signal's kind and version, the model file's sha256, the settings and the
    run's text (task and every step's actor, kind and content)."""
    document = {
        "kind": kind,
        "model": model_sha256,
        "settings": settings,
        "question": trajectory.question,
        "steps": [[s.agent, s.kind.value, s.content] for s in trajectory.steps],
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class SignalCache:
    """Maps a signal key to the arrays computed for it, under `root/<kind>/`."""

    def __init__(self, kind: str, root: str | Path | None = None) -> None:
        base = Path(root) if root is not None else default_cache_dir() / "signals"
        self.root = base / kind

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> dict[str, numpy.ndarray] | None:
        try:
            with numpy.load(self._path(key), allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (FileNotFoundError, OSError, ValueError, zipfile.BadZipFile, EOFError):
            return None  # absent or torn: compute it again

    def put(self, key: str, arrays: dict[str, numpy.ndarray]) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npz")
        with os.fdopen(fd, "wb") as handle:
            # numpy's stubs type **kwds as its allow_pickle flag; the arrays are keyword arrays
            numpy.savez(handle, **arrays)  # type: ignore[arg-type]
        os.replace(tmp, path)
