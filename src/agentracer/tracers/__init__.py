"""Tracers: methods that name the agent and step that caused a failure.

Importing this package registers the built-in tracers.
"""

from agentracer.tracers import baselines as _baselines  # noqa: F401  (registers tracers)
from agentracer.tracers.base import Expectation, Tracer, TracerSettings
from agentracer.tracers.registry import TracerSpec, create_tracer, register_tracer, tracer_specs

__all__ = [
    "Expectation",
    "Tracer",
    "TracerSettings",
    "TracerSpec",
    "create_tracer",
    "register_tracer",
    "tracer_specs",
]
