"""The `format` and `timezone` transforms: device date-times read into UTC instants.

Checked at start-up (a pattern must read back what it writes; a pattern without `%z` needs a
zone) and applied per message, in one place, because device time is never guessed.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from adapters.mapping.values import as_decimal
from adapters.times import from_epoch_ms, from_iso_with_offset
from schemas.errors import PayloadError

EPOCH_FORMATS: Final = frozenset({"epoch_ms", "epoch_s"})
NAMED_FORMATS: Final = frozenset({*EPOCH_FORMATS, "iso8601"})

_OFFSET: Final = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_ZONE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")

TimeParser = Callable[[object, str], datetime]


def parse_zone(text: str) -> tzinfo:
    """`UTC`, `Z`, `+08:00` or an IANA name such as `Asia/Shanghai`; ValueError otherwise."""
    if text in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        if int(hours) > 14 or int(minutes) > 59:
            raise ValueError(f"{text!r} is not a UTC offset between -14:00 and +14:00")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    if _ZONE_NAME.fullmatch(text):
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValueError(f"{text!r} is not UTC, an offset like +08:00, nor a time zone name")


def check_format(text: str) -> None:
    if text in NAMED_FORMATS:
        return
    if "%" not in text:
        raise ValueError(
            "format must be epoch_ms, epoch_s, iso8601 or a strptime pattern "
            "such as %Y-%m-%d %H:%M:%S"
        )
    sample = datetime(2026, 11, 26, 7, 58, 12, 345_000, tzinfo=timezone(timedelta(hours=8)))
    try:
        datetime.strptime(sample.strftime(text), text)
    except ValueError:
        raise ValueError(
            f"{text!r} cannot read back the times it writes (%Z is not supported: use %z "
            "or timezone)"
        ) from None


def _to_utc(local: datetime, zone: tzinfo | None, label: str) -> datetime:
    if local.utcoffset() is None:
        if zone is None:
            raise PayloadError(
                "bad_time", f"{label} has no UTC offset; device time is never guessed"
            )
        local = local.replace(tzinfo=zone)
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise PayloadError("bad_time", f"{label} is out of range once converted to UTC") from None


def time_parser(fmt: str, zone: tzinfo | None) -> TimeParser:
    """A parser for one `format`: payload value -> UTC instant, or PayloadError("bad_time")."""

    def epoch_ms(value: object, label: str) -> datetime:
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PayloadError("bad_time", f"{label} is not epoch milliseconds")
        return from_epoch_ms(value, label)

    def epoch_s(value: object, label: str) -> datetime:
        seconds = as_decimal(value) if not isinstance(value, bool) else None
        if seconds is None or not seconds.is_finite() or abs(seconds) > 10**12:
            raise PayloadError("bad_time", f"{label} is not epoch seconds")
        return from_epoch_ms(int(seconds * 1000), label)

    def iso8601(value: object, label: str) -> datetime:
        if not isinstance(value, str):
            raise PayloadError("bad_time", f"{label} is not an ISO 8601 date-time")
        if zone is None:
            return from_iso_with_offset(value, label)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError("bad_time", f"{label} is not an ISO 8601 date-time") from None
        return _to_utc(parsed, zone, label)

    def pattern(value: object, label: str) -> datetime:
        if not isinstance(value, str):
            raise PayloadError("bad_time", f"{label} is not text in the format {fmt!r}")
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            raise PayloadError("bad_time", f"{label} does not match the format {fmt!r}") from None
        return _to_utc(parsed, zone, label)

    parsers: dict[str, TimeParser] = {"epoch_ms": epoch_ms, "epoch_s": epoch_s, "iso8601": iso8601}
    return parsers.get(fmt, pattern)
