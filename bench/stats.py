"""The two small statistics helpers the result builders share: percentiles and NaN-safe rounding.

Why it exists: the commit profile (batch sizes) and the latency phase (publish-to-commit times,
pacing lag) both report nearest-rank percentiles, and a /proc reading that failed (NaN) is
written to the result as null; both modules that build the result use these.
"""

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def rounded(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)
