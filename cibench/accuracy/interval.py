"""Confidence intervals for an accuracy score (a mean of 0/1 sample scores)."""

from __future__ import annotations

import math

Z_95 = 1.959963984540054
"""The two-sided 95% normal quantile."""


def wilson_interval(score: float, n: int, z: float = Z_95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion `score` measured on `n` samples.

    Chosen over the normal (Wald) interval because it stays inside [0, 1] and is honest for
    the small debug samples of a PR run (Wald gives a zero-width interval at 0% or 100%).
    Repeats of one question are not independent, so with `n_repeats > 1` the interval is
    narrower than the truth. None when `n` is 0.
    """
    if n <= 0:
        return None
    p = min(max(score, 0.0), 1.0)
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
