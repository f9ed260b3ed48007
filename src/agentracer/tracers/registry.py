"""Name -> tracer factory, as used on the command line (`--tracer NAME`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agentracer.errors import UnknownTracerError
from agentracer.tracers.base import Tracer, TracerSettings

TracerFactory = Callable[[TracerSettings], Tracer]


@dataclass(frozen=True)
class TracerSpec:
    name: str
    factory: TracerFactory
    summary: str
    needs_model: bool = False


_REGISTRY: dict[str, TracerSpec] = {}


def register_tracer(
    name: str, *, summary: str, needs_model: bool = False
) -> Callable[[TracerFactory], TracerFactory]:
    """Decorator: make `factory` available as `--tracer name`."""

    def decorate(factory: TracerFactory) -> TracerFactory:
        if name in _REGISTRY:
            raise ValueError(f"tracer {name!r} is registered twice")
        _REGISTRY[name] = TracerSpec(name, factory, summary, needs_model)
        return factory

    return decorate


def tracer_specs() -> list[TracerSpec]:
    """Every registered tracer, sorted by name."""
    return sorted(_REGISTRY.values(), key=lambda spec: spec.name)


def tracer_spec(name: str) -> TracerSpec:
    """The registration of `name`; an unknown name lists the known ones."""
    spec = _REGISTRY.get(name)
    if spec is None:
        known = ", ".join(s.name for s in tracer_specs())
        raise UnknownTracerError(f"unknown tracer {name!r}; known tracers: {known}")
    return spec


def create_tracer(name: str, settings: TracerSettings | None = None) -> Tracer:
    """Build the tracer registered as `name`."""
    return tracer_spec(name).factory(settings or TracerSettings())
