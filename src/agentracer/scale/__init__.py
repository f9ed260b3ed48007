"""Ray execution of the corpus-scale jobs: `eval`, corpus `attribute` and `annotate`.

Ray is the optional `[scale]` extra; nothing outside this package imports it, and without it
every command runs in-process as before. Jobs follow Ray's batch-inference pattern: the task
is a plain function of one item, the driver owns the output file and writes each result once,
and retries after a lost worker are Ray's.
"""

from agentracer.scale.cluster import RAY_INSTALL_HINT, connect, require_ray

__all__ = ["RAY_INSTALL_HINT", "connect", "require_ray"]
