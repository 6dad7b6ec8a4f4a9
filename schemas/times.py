"""Time zones the contracts and the device formats refer to."""

import re
from datetime import datetime, timedelta, timezone
from typing import Final

from pydantic import BeforeValidator

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
"""UTC+8, the local time of every device in the district (no daylight saving)."""

ISO_8601_WITH_OFFSET: Final = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})", re.ASCII
)
"""A date-time as the API takes one: ISO 8601 with `Z` or `±HH:MM`, nothing else."""


def _iso_8601_text(value: object) -> object:
    """Refuse what pydantic would otherwise coerce to a date-time: Unix seconds (a number or a
    numeric string), a bare date, a time without an offset. Each is a guess about what the
    caller meant; a key's expiry must not rest on one."""
    if value is None or isinstance(value, datetime):
        return value
    if isinstance(value, str) and ISO_8601_WITH_OFFSET.fullmatch(value):
        return value
    raise ValueError("must be ISO 8601 with an offset, e.g. 2027-03-01T00:00:00+08:00")


ISO_8601_ONLY: Final = BeforeValidator(_iso_8601_text)
"""Annotate a date-time field of a request body with this to take ISO 8601 text only."""
