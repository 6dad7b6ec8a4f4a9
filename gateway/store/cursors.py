"""Opaque page cursors: a tag naming the list they page, then the last row's key parts,
URL-safe base64 without padding. Anything another list issued, or an edited token, is refused
as `bad_cursor`."""

import base64
import binascii
from datetime import UTC, datetime

from gateway.errors import PayloadError


def bad_cursor() -> PayloadError:
    return PayloadError("bad_cursor", "the cursor is not one this API issued")


def encode_tagged(tag: str, *parts: str) -> str:
    """The cursor `tag|part|...`; no part may hold `|`."""
    return base64.urlsafe_b64encode("|".join((tag, *parts)).encode()).decode().rstrip("=")


def decode_tagged(token: str, tag: str, count: int) -> list[str]:
    """The `count` non-empty parts of a cursor of `tag`."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        parts = raw.split("|")
        if len(parts) != count + 1 or parts[0] != tag or not all(parts[1:]):
            raise ValueError(tag)
        return parts[1:]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise bad_cursor() from None


def cursor_instant(text: str) -> datetime:
    """A cursor's time part, which must carry an offset and exist in UTC."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise bad_cursor() from None
    if when.tzinfo is None:
        raise bad_cursor()
    try:
        return when.astimezone(UTC)
    except OverflowError:  # 0001-01-01 at +14:00 is before year 1 in UTC
        raise bad_cursor() from None
