"""The bench's statistics: medians of nanosecond samples and a bootstrap interval of their ratio."""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

BOOTSTRAP_RESAMPLES = 400
BOOTSTRAP_SEED = 7


def median_microseconds(samples: Sequence[int]) -> float:
    """Return the median of nanosecond samples, in microseconds."""
    return statistics.median(samples) / 1000


def ratio_interval(numerator: Sequence[int], denominator: Sequence[int]) -> tuple[float, float]:
    """Return a 95% bootstrap interval of median(numerator) / median(denominator): how far noise moves it."""
    # A fixed seed: the same samples always give the same interval.
    generator = random.Random(BOOTSTRAP_SEED)  # noqa: S311 (statistics, not secrets)
    ratios = sorted(
        statistics.median(generator.choices(numerator, k=len(numerator)))
        / statistics.median(generator.choices(denominator, k=len(denominator)))
        for _ in range(BOOTSTRAP_RESAMPLES)
    )
    return ratios[int(0.025 * len(ratios))], ratios[int(0.975 * len(ratios)) - 1]
