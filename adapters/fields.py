"""Field types and checks that several dialects validate their payloads with.

Each adapter declares its own pydantic models, but some rules for what a vendor field may hold
are the gateway's, whichever vendor sent it: text is valid Unicode (so it can be hashed and
stored as UTF-8), identifiers carry no control characters, and an error text echoes a vendor's
value only when it is a short plain token or a small number. What differs between dialects (a
code's alphabet, a field's length) stays in the dialect, passed in where a check here takes it.
Picture URLs are not judged here: the event's screen does that for every dialect
(`schemas.image_urls`).
"""

import re
from typing import Annotated, Final

from pydantic import AfterValidator, ConfigDict, Field

STRICT_PAYLOAD: Final = ConfigDict(strict=True, extra="ignore", frozen=True)
"""Vendors add fields freely (ignored), but a field we use with the wrong type is an error."""

_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""C0 and C1 control characters and DEL."""

SAFE_TOKEN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
"""A short plain word an error text may echo; dialects with other vendor spellings pass theirs."""
DIGIT_RUN: Final = re.compile(r"[0-9]{4,}")
"""Four or more digits in a row: possibly part of a card, phone or ID number."""
MAX_ECHOED_CODE: Final = 999_999
"""Codes are at most six digits; a larger number may be a card number in the wrong field."""


def encodable(value: str) -> str:
    """Refuse lone surrogates: JSON escapes allow them, but they cannot be hashed or stored as
    UTF-8."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def printable(value: str) -> str:
    """Refuse control characters in identifiers: they corrupt logs, and NUL breaks PostgreSQL."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def image_url(value: str) -> str | None:
    """The vendor's picture URL as sent, or nothing when the device sent `""`.

    Nothing else is judged here: `schemas.image_urls.judge_image_url` decides what an event
    keeps of it (or drops, listed and counted) as the event is built, the same for every
    dialect, and a URL never costs the event.
    """
    return value or None


def text_or_uint64(*, max_length: int, min_length: int = 0) -> AfterValidator:
    """Record, user or alarm ids: `min_length` to `max_length` characters of valid Unicode text,
    or an unsigned 64-bit integer. Platforms use either; the gateway only hashes them."""

    def check(value: str | int) -> str | int:
        if isinstance(value, str):
            if not min_length <= len(value) <= max_length:
                if min_length == 0:
                    raise ValueError(f"must be at most {max_length} characters")
                raise ValueError(f"must be {min_length} to {max_length} characters")
            return encodable(value)
        if not 0 <= value < 2**64:
            raise ValueError("must be an unsigned 64-bit integer")
        return value

    return AfterValidator(check)


Text = Annotated[str, AfterValidator(encodable)]
"""Any valid Unicode text. A dialect that bounds the length spells the type out with the bound
first, as `PlateText` does: the order decides which error a string with lone surrogates gets."""
Identifier = Annotated[str, AfterValidator(encodable), AfterValidator(printable)]
"""A device, door or thing code: valid Unicode without control characters."""
UInt32 = Annotated[int, Field(ge=0, le=0xFFFF_FFFF)]
"""Vendor codes and counters are 32-bit unsigned; bounding them also bounds error texts."""
PlateText = Annotated[str, Field(max_length=32), AfterValidator(encodable)]
"""A plate as the recogniser read it, before `adapters.plates.normalise_plate`."""
ImageUrl = Annotated[str, AfterValidator(image_url)]
"""A picture's URL as the vendor sent it (see `image_url`); `""` is no picture."""


def is_safe_token(value: str, token: re.Pattern[str] = SAFE_TOKEN) -> bool:
    """Whether an error text may echo a vendor's word: it matches `token` whole and has no run
    of four digits, so a device that puts a card or ID number there cannot leak it."""
    return bool(token.fullmatch(value)) and not DIGIT_RUN.search(value)


def is_safe_code(value: int) -> bool:
    """Whether an error text may echo a vendor's number: small enough to be a code."""
    return abs(value) <= MAX_ECHOED_CODE
