"""On-disk response cache: re-running an evaluation costs nothing and resumes mid-trajectory.

One JSON file per request digest, written atomically (temporary file, then rename), so a
killed process never leaves a half-written entry behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from agentracer.llm.types import ChatResponse

ENV_VAR = "AGENTRACER_CACHE_DIR"


def default_cache_dir() -> Path:
    """`$AGENTRACER_CACHE_DIR`, else the user's cache directory (e.g. ~/.cache/agentracer)."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("agentracer"))


class ResponseCache:
    """Maps a request digest to the response the model gave for it."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir() / "responses"

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> ChatResponse | None:
        path = self._path(key)
        try:
            return ChatResponse.model_validate_json(path.read_bytes())
        except (FileNotFoundError, ValidationError, ValueError):
            return None  # absent or unreadable: ask the model again

    def put(self, key: str, response: ChatResponse) -> None:
        """Store `response` (an answer that is not valid Unicode is `InvalidAnswerError`)."""
        from agentracer.llm.client import check_text  # the client imports this module

        check_text(response.text, "the model")
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(response.model_dump_json())
        os.replace(tmp, path)
