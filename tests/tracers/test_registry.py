import pytest

from agentracer.errors import UnknownTracerError
from agentracer.tracers import TracerSettings, create_tracer, register_tracer, tracer_specs
from agentracer.tracers.baselines import RandomTracer


def test_builtin_tracers_are_registered() -> None:
    names = [spec.name for spec in tracer_specs()]
    assert {"random", "first-agent-step", "last-agent-step"} <= set(names)
    assert names == sorted(names)


def test_settings_reach_the_factory() -> None:
    tracer = create_tracer("random", TracerSettings(seed=11))
    assert isinstance(tracer, RandomTracer) and tracer.seed == 11


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownTracerError, match=r"unknown tracer 'gpt'; known tracers: .*random"):
        create_tracer("gpt")


def test_a_name_cannot_be_registered_twice() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        register_tracer("random", summary="again")(lambda settings: RandomTracer())
