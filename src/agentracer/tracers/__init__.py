"""Tracers: methods that name the agent and step that caused a failure.

Importing this package registers the built-in tracers.
"""

# Importing the tracer modules registers them.
from agentracer.tracers import (
    agentracer,
    all_at_once,
    baselines,
    binary_search,
    fast,
    hybrid,
    step_by_step,
    surprise,
)
from agentracer.tracers.base import Expectation, Tracer, TracerSettings
from agentracer.tracers.registry import TracerSpec, create_tracer, register_tracer, tracer_specs

__all__ = [
    "Expectation",
    "Tracer",
    "TracerSettings",
    "TracerSpec",
    "agentracer",
    "all_at_once",
    "baselines",
    "binary_search",
    "create_tracer",
    "fast",
    "hybrid",
    "register_tracer",
    "step_by_step",
    "surprise",
    "tracer_specs",
]
