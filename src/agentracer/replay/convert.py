"""A recording as a `Trajectory`: re-exported from `formats.recorded_run`, where the recording
format is registered."""

from agentracer.formats.recorded_run import FORMAT, call_index, step_index, to_trajectory

__all__ = ["FORMAT", "call_index", "step_index", "to_trajectory"]
