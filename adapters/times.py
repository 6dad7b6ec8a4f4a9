"""Device time formats, turned into UTC instants.

Devices report local time in several shapes; an instant without a known offset is never
guessed from the gateway's clock. China Standard Time is the default offset only where the
format itself has none and the standard defines it as local time (GA/T 1400).

These functions only convert: a value that is no instant at all (not a date, no offset, out of
the calendar once converted to UTC) is `bad_time`. Whether an instant is plausible (not years
ahead, not from a clock reset to 1970) is decided once for every dialect, relative to the
message's arrival, by `gateway.pipeline.PlausibleTime`.
"""

from datetime import UTC, datetime, timedelta, timezone
from typing import Final

from schemas.errors import PayloadError
from schemas.times import CHINA_STANDARD_TIME

__all__ = ["CHINA_STANDARD_TIME", "from_compact_local", "from_epoch_ms", "from_iso_with_offset"]
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def from_epoch_ms(value: int, field: str) -> datetime:
    """Epoch milliseconds (UTC by definition) as an aware datetime, exact to the millisecond."""
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:  # beyond year 1 .. 9999: no calendar date at all
        raise PayloadError("bad_time", f"{field} is out of the calendar's range") from None


def from_compact_local(text: str, field: str, zone: timezone = CHINA_STANDARD_TIME) -> datetime:
    """`YYYYMMDDhhmmss` (GA/T 1400), local time in `zone`, as UTC."""
    if len(text) != 14 or not text.isdigit():
        raise PayloadError("bad_time", f"{field} is not YYYYMMDDhhmmss")
    try:
        local = _compact(text).replace(tzinfo=zone)
        return local.astimezone(UTC)
    except ValueError:
        raise PayloadError("bad_time", f"{field} is not a calendar date-time") from None
    except OverflowError:  # the first hours of year 1 have no UTC equivalent
        raise PayloadError("bad_time", f"{field} is out of range once converted to UTC") from None


def _compact(text: str) -> datetime:
    """14 digits as a naive date-time. ASCII digits are read at their fixed positions, as
    `strptime("%Y%m%d%H%M%S")` reads them (14 digits leave each field its widest form) at a
    fifth of its cost; other decimal digits go to `strptime`, whose patterns take some of them
    and not others. Either raises ValueError for a date-time not in the calendar."""
    if not text.isascii():
        return datetime.strptime(text, "%Y%m%d%H%M%S")
    return datetime(
        int(text[0:4]),
        int(text[4:6]),
        int(text[6:8]),
        int(text[8:10]),
        int(text[10:12]),
        int(text[12:14]),
    )


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
