"""The `agentracer` command: thin wrappers that parse arguments and call the library."""

# Importing the command modules registers their commands on `app`.
from agentracer.cli import (
    annotate,
    catalogue,
    evaluation,
    faithfulness,
    fast,
    feedback,
    forecast,
    phoenix,
    replay,
    serve,
    traces,
    training,
    view,
)
from agentracer.cli.common import app

__all__ = [
    "annotate",
    "app",
    "catalogue",
    "evaluation",
    "faithfulness",
    "fast",
    "feedback",
    "forecast",
    "phoenix",
    "replay",
    "serve",
    "traces",
    "training",
    "view",
]
