"""What the service may show of text it did not write: one rule for dead letters and logs.

A payload value or JSON key is shown only when it is a short plain token that holds no number
shaped like a person's: a resident ID number (17 digits and a digit or X, or the legacy 15
digits, with a birth date where GB 11643 puts it), a mainland mobile (bare, or after 86 / +86 /
0086) or a landline with its area code (0731 8888 1234, +86 731 8888 1234), however its digits
are grouped (spaces, hyphens, dots, slashes, brackets) and in whatever width of digit
(`１３８…`). A topic level, set when a device is installed, is shown unless it holds such a
number; log lines lose such numbers too.

This check is deliberately broader than the one that decides what an event may store
(`schemas.identifiers`: a valid GB 11643 number or a mobile, so no legitimate code is refused):
what is only shown may err the other way. Hiding a harmless serial number from a dead letter
costs an integrator one look at the raw payload; showing a mistyped ID number or a landline
cannot be undone. Hashing and masking, which adapters apply before an event exists, are in
`schemas.privacy`.
"""

import re
import unicodedata
from collections.abc import Iterator
from datetime import date
from typing import Final

MAX_TOKEN_CHARS: Final = 64
MAX_KEY_CHARS: Final = 40

_TOKEN: Final = re.compile(rf"[0-9A-Za-z_.:/+\-]{{1,{MAX_TOKEN_CHARS}}}")
"""A value a dead letter may show: codes, device ids, serial numbers, epoch or ISO times."""
_DATE_TIME: Final = re.compile(
    r"[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)?"
    r" ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?)?"
)
"""A date-time written with a space (`2026-11-26 08:00:00`): no room in it for a number."""
_KEY: Final = re.compile(rf"[A-Za-z_$@][A-Za-z0-9_$@\-]{{0,{MAX_KEY_CHARS - 1}}}")
"""A JSON key a dead letter may show: ASCII and identifier-like, so never a name or a number."""

_GROUPED_DIGITS: Final = re.compile(r"[0-9]+(?:[\s\-.()/+]{1,3}[0-9]+)*[Xx]?")
"""Digits as people write numbers: groups joined by spaces, hyphens, dots, slashes, brackets."""
_DIGITS: Final = re.compile(r"[0-9]+")
_MOBILE: Final = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_LANDLINE: Final = re.compile(r"(?:0|86|0086)[1-9][0-9]{8,10}")
"""An area code (010, 0731, ...) and a 7- or 8-digit number, or the same after +86."""
_WIDE_DIGIT: Final = re.compile(r"(?![0-9])\d")
"""A decimal digit outside ASCII: full-width `１`, Arabic-Indic `١`, ..."""
_MAX_GROUPS: Final = 6
_MIN_DIGITS: Final = 10
_MAX_NUMBER_DIGITS: Final = 18
_BIRTH_YEARS: Final = range(1900, 2100)


def personal_number_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where `text` holds a number shaped like a person's ID number, mobile or landline.

    Every run of consecutive digit groups is tried (up to six groups, the most anyone splits
    a phone or ID number into), so `+86 138-1234-5678` and `430112 19900101 1234` are found,
    and so is a number next to other digits: `1 138 1234 5678`.
    """
    if len(text) < _MIN_DIGITS or sum(map(str.isdigit, text)) < _MIN_DIGITS:
        return  # the shortest such number, a landline with its area code, has ten digits
    if not text.isascii():
        text = _WIDE_DIGIT.sub(_ascii_digit, text)  # `１３８…`: one character for one
    for candidate in _GROUPED_DIGITS.finditer(text):
        found = candidate.group()
        groups = [(m.start(), m.end(), m.group()) for m in _DIGITS.finditer(found)]
        check_x = found[-1] in "Xx"
        for first in range(len(groups)):
            digits = ""
            for last in range(first, min(first + _MAX_GROUPS, len(groups))):
                digits += groups[last][2]
                if len(digits) > _MAX_NUMBER_DIGITS:
                    break
                x = check_x and last == len(groups) - 1
                if _is_personal_number(digits, x=x):
                    end = len(found) if x else groups[last][1]
                    yield candidate.start() + groups[first][0], candidate.start() + end


def holds_personal_number(text: str) -> bool:
    """Whether any part of `text` is shaped like an ID, mobile or landline number."""
    return next(personal_number_spans(text), None) is not None


def without_personal_numbers(text: str, placeholder: str = "<redacted>") -> str:
    """`text` with every personal-looking number replaced: the last line of defence for logs
    and error details, which are written without payload values in the first place."""
    spans = list(personal_number_spans(text))
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in sorted(spans):
        if end <= position:
            continue
        pieces.append(text[position : max(start, position)])
        pieces.append(placeholder)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def is_shareable_value(value: str) -> bool:
    """Whether a dead letter may show this string from a payload (when its field is allowed)."""
    if _DATE_TIME.fullmatch(value):
        return True
    return bool(_TOKEN.fullmatch(value)) and not holds_personal_number(value)


def is_shareable_key(key: str) -> bool:
    """Whether a dead letter may show this JSON key from a payload, whatever its field.

    A key can be personal data itself (`{"张三": 1}`, a phone number as a key): only ASCII,
    identifier-like keys of at most 40 characters without a personal-looking number are shown.
    """
    return bool(_KEY.fullmatch(key)) and not holds_personal_number(key)


def shareable_topic(topic: str) -> str:
    """The topic with every level that holds a personal-looking number replaced by `<level N>`
    (N its length): a cheap device may use its owner's phone or ID number as its device id.

    Other levels stay as they are, odd ones included (empty, Chinese, very long): a topic is
    set when a device is installed, not typed by the people it sees, and an integrator needs
    it to find the device. Applying this twice changes nothing.
    """
    return "/".join(
        f"<level {len(level)}>" if holds_personal_number(level) else level
        for level in topic.split("/")
    )


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


def _is_personal_number(digits: str, *, x: bool) -> bool:
    """ID numbers by shape and birth date; mobiles and landlines by their numbering plans."""
    length = len(digits)
    if x:
        return length == 17 and _birth_date(digits[6:14])
    if length == 18 and _birth_date(digits[6:14]):
        return True
    if length == 15 and _birth_date("19" + digits[6:12]):
        return True
    return bool(_MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits))


def _birth_date(yyyymmdd: str) -> bool:
    year = int(yyyymmdd[:4])
    if year not in _BIRTH_YEARS:
        return False
    try:
        date(year, int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return True
