"""Time zones the contracts and the device formats refer to."""

from datetime import timedelta, timezone
from typing import Final

CHINA_STANDARD_TIME: Final = timezone(timedelta(hours=8), "CST")
"""UTC+8, the local time of every device in the district (no daylight saving)."""
