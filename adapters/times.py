"""Device time formats, turned into UTC instants.

Devices report local time in several shapes; an instant without a known offset is never
guessed from the gateway's clock. China Standard Time is the default offset only where the
format itself has none and the standard defines it as local time (GA/T 1400).
"""

from datetime import UTC, datetime, timezone
from typing import Final

from schemas.errors import PayloadError
from schemas.times import CHINA_STANDARD_TIME

__all__ = ["CHINA_STANDARD_TIME", "from_compact_local", "from_epoch_ms", "from_iso_with_offset"]
_EPOCH_MS_MIN: Final = 946_684_800_000  # 2000-01-01: earlier values are device clock resets
_EPOCH_MS_MAX: Final = 4_102_444_800_000  # 2100-01-01


def from_epoch_ms(value: int, field: str) -> datetime:
    """Epoch milliseconds (UTC by definition) as an aware datetime."""
    if not _EPOCH_MS_MIN <= value < _EPOCH_MS_MAX:
        raise PayloadError("bad_time", f"{field} is not a plausible epoch-millisecond time")
    return datetime.fromtimestamp(value / 1000, UTC)


def from_compact_local(text: str, field: str, zone: timezone = CHINA_STANDARD_TIME) -> datetime:
    """`YYYYMMDDhhmmss` (GA/T 1400), local time in `zone`, as UTC."""
    if len(text) != 14 or not text.isdigit():
        raise PayloadError("bad_time", f"{field} is not YYYYMMDDhhmmss")
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=zone)
        return local.astimezone(UTC)
    except ValueError:
        raise PayloadError("bad_time", f"{field} is not a calendar date-time") from None
    except OverflowError:  # the first hours of year 1 have no UTC equivalent
        raise PayloadError("bad_time", f"{field} is out of range once converted to UTC") from None


def from_iso_with_offset(text: str, field: str) -> datetime:
    """ISO 8601 with an explicit offset, as UTC; naive times are refused."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError("bad_time", f"{field} is not an ISO 8601 date-time") from None
    if parsed.utcoffset() is None:
        raise PayloadError("bad_time", f"{field} has no UTC offset; device time is never guessed")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise PayloadError("bad_time", f"{field} is out of range once converted to UTC") from None
