"""The fast tracer: features of each agent step, a LightGBM ranking model, and the tracer."""

from agentracer.tracers.fast import tracer
from agentracer.tracers.fast.tracer import DEFAULT_MODEL, FastTracer

__all__ = ["DEFAULT_MODEL", "FastTracer", "tracer"]
