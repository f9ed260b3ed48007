"""The dynamic clip range of AgenTracer's GRPO: linear decay from eps0 to a floor.

    eps_s = max(floor * eps0, eps0 * (1 - s / S))

>>> [round(clip_range(s, 10, 0.2), 3) for s in (0, 5, 9, 10)]
[0.2, 0.1, 0.04, 0.04]
"""

from __future__ import annotations


def clip_range(step: int, total_steps: int, epsilon0: float, floor: float = 0.2) -> float:
    """The clip range at optimiser step `step` of `total_steps`."""
    if total_steps <= 0:
        return epsilon0
    return max(floor * epsilon0, epsilon0 * (1 - step / total_steps))
