"""AgenTracer: automated failure attribution for LLM multi-agent systems.

>>> import agentracer
>>> print(agentracer.attribute("examples/failed_run.json", tracer="last-agent-step"))
Planner at step 5 (confidence 0.20): the last step taken by an agent

The functions below are imported on first use (PEP 562), so `import agentracer` loads no
tracer, model, reader or SDK: see `agentracer.api` for what each does.
"""

from __future__ import annotations

__version__ = "0.1.0"

# `typing` is not imported at run time (it alone costs more than the rest of this module);
# type checkers treat any module-level TYPE_CHECKING as theirs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from agentracer.api import (
        aattribute,
        aevaluate,
        aload,
        attribute,
        evaluate,
        load,
        load_all,
    )
    from agentracer.trajectory import Step, Trajectory, Verdict

_API = ("aattribute", "aevaluate", "aload", "attribute", "evaluate", "load", "load_all")
_MODELS = ("Step", "Trajectory", "Verdict")

__all__ = [
    "Step",
    "Trajectory",
    "Verdict",
    "__version__",
    "aattribute",
    "aevaluate",
    "aload",
    "attribute",
    "evaluate",
    "load",
    "load_all",
]


def __getattr__(name: str) -> object:
    if name in _API:
        from agentracer import api

        return getattr(api, name)
    if name in _MODELS:
        from agentracer import trajectory

        return getattr(trajectory, name)
    raise AttributeError(f"module 'agentracer' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
