"""Named exceptions for every failure a user can hit.

Each message says what went wrong and, where it can, what to do next. The CLI turns any
`AgenTracerError` into a one-line message and exit code 2; nothing else should reach the user
as a traceback.
"""

from __future__ import annotations

from pathlib import Path

DISTRIBUTION = "agentracer-attribution"
"""The name on PyPI ("agentracer" there is an unrelated project); the command and the import
package are `agentracer`."""


def install_hint(extra: str) -> str:
    """The command that installs an optional extra, e.g. `pip install 'agentracer-attribution[view]'`
    (every install hint a user reads comes from here, so none names the unrelated project)."""
    return f"pip install '{DISTRIBUTION}[{extra}]'"


# What to do when the training stack is missing (torch first: a plain torch pulls a CUDA build).
INSTALL_TRAIN_EXTRA = "pip install torch==2.13.0 && pip install -e '.[train]'"


class AgenTracerError(Exception):
    """Base class: a problem the user can fix, reported as one line."""

    def __init__(self, message: str, *, path: str | Path | None = None) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        return f"{self.path}: {text}" if self.path else text


class TraceFormatError(AgenTracerError):
    """A file is not JSON, is no known trajectory format, or holds an invalid trajectory."""


class DatasetNotFoundError(AgenTracerError):
    """A benchmark could be found neither locally nor on the HuggingFace Hub."""


class UnknownTracerError(AgenTracerError):
    """A tracer name that is not in the registry."""


class RunDirectoryError(AgenTracerError):
    """An evaluation run directory that cannot be resumed with the requested configuration."""


class LLMError(AgenTracerError):
    """A model call failed in a way retrying will not fix."""


class ModelNotFoundError(LLMError):
    """An unknown provider, model name or model file."""


class ModelUnavailableError(LLMError):
    """The endpoint is unreachable, rejected the key, timed out or kept failing after retries."""


class InvalidAnswerError(LLMError):
    """The model answered text that is not valid Unicode (a lone UTF-16 surrogate): it can be
    neither cached nor printed."""


class ContextLengthError(LLMError):
    """The prompt does not fit the model's context window.

    `prompt_tokens` and `context_window` are filled in when the server reports them, so the
    caller can shorten the prompt by the right amount.
    """

    def __init__(
        self,
        message: str,
        *,
        prompt_tokens: int | None = None,
        context_window: int | None = None,
    ) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.context_window = context_window


class ExportError(AgenTracerError):
    """A destination for verdicts (an OTLP endpoint, Phoenix) is misnamed or cannot be used."""
