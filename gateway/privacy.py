"""What the service may show of text it did not write: one rule for dead letters and logs.

Numbers are judged by `schemas.personal_numbers`, the tokenizer stored fields are checked with,
by its broad predicate: every number a stored field refuses (a valid ID number, a mobile) and
whatever merely looks like a person's number (legacy and mistyped ID numbers, landlines with an
area code), however it is written. What is only shown may err the other way: hiding a harmless
serial number from a dead letter costs an integrator one look at the raw payload; showing a
mistyped ID number or a landline cannot be undone.

- A payload value is shown only on a path its dialect allow-lists, and only when it is what the
  allow-list says the field holds (`adapters.base.ShownValue`): a time looks like a date-time
  or an epoch, a code or id is a plain token with a digit in it, a device id is one by
  `schemas.identifiers`, a number is a number, an address parses as an IP address, and a word
  is one the dialect knows (a vocabulary). So a letters-only word that is not a known code, such
  as a pinyin name in a serial number, is never shown.
- A topic level is shown only when it is a safe token (`[0-9A-Za-z_.:-]{1,64}`, holding no such
  number) and no such number found in the whole topic touches it, since `/` separates the
  groups of one written number like any other punctuation (`yida/139/1234/5678`); any other
  level becomes `<level N>`, N its position from 1. Dead letters and log lines show topics
  only this way (`shareable_topic`), so what is stored and what is logged agree.
- Log lines and error details lose such numbers (`without_personal_numbers`).

Hashing and masking, which adapters apply before an event exists, are in `schemas.privacy`.
"""

import bisect
import ipaddress
import math
import re
from collections.abc import Iterator
from typing import Final

from adapters.base import ShownValue
from schemas.identifiers import device_id_problem
from schemas.personal_numbers import holds_broad_number, number_spans

MAX_TOKEN_CHARS: Final = 64
MAX_CODE_CHARS: Final = 16
MAX_KEY_CHARS: Final = 40

SAFE_TOKEN: Final = re.compile(rf"[0-9A-Za-z_.:-]{{1,{MAX_TOKEN_CHARS}}}")
"""A topic level or a value that may be shown: a device id's alphabet, which names and
numbers written with spaces or in other scripts cannot use."""
_DIGIT: Final = re.compile(r"[0-9]")
_TIME: Final = re.compile(
    r"[0-9]{4}[-/][0-9]{1,2}[-/][0-9]{1,2}"
    r"(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]{1,9})?)?)?"
    r"(?: ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?))?"
    r"|[0-9]{8}(?:[0-9]{4}|[0-9]{6}|[0-9]{9})?"  # 20261126, …0800, …080000, …080000123
    r"|[0-9]{9,13}(?:\.[0-9]{1,6})?"  # epoch seconds or milliseconds
)
_NUMBER: Final = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,9})?(?:[eE][-+]?[0-9]{1,3})?")
_KEY: Final = re.compile(rf"[A-Za-z_$@][A-Za-z0-9_$@\-]{{0,{MAX_KEY_CHARS - 1}}}")
"""A JSON key a dead letter may show: ASCII and identifier-like, so never a name or a number."""
_MAX_SHOWN_NUMBER: Final = 10**20


def personal_number_spans(text: str) -> Iterator[tuple[int, int]]:
    """Where `text` holds a number shaped like a person's ID number, mobile or landline."""
    return number_spans(text, broad=True)


def holds_personal_number(text: str) -> bool:
    """Whether any part of `text` is shaped like an ID, mobile or landline number."""
    return holds_broad_number(text)


def without_personal_numbers(text: str, placeholder: str = "<redacted>") -> str:
    """`text` with every personal-looking number replaced: the last line of defence for logs
    and error details, which are written without payload values in the first place."""
    spans = sorted(personal_number_spans(text))
    if not spans:
        return text
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        if end <= position:
            continue
        pieces.append(text[position : max(start, position)])
        pieces.append(placeholder)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def is_shareable_value(value: str, kind: ShownValue) -> bool:
    """Whether a dead letter may show this string from a field allow-listed as `kind`."""
    if isinstance(kind, frozenset) and value in kind:
        return not holds_personal_number(value)
    if kind == "time":
        shaped = _TIME.fullmatch(value) is not None
    elif kind == "device_id":
        shaped = device_id_problem(value) is None and _DIGIT.search(value) is not None
    elif kind == "number":
        shaped = _NUMBER.fullmatch(value) is not None
    elif kind == "ip":
        shaped = _is_ip_address(value)
    else:  # `code`, `id` and a vocabulary's non-words
        longest = MAX_TOKEN_CHARS if kind == "id" else MAX_CODE_CHARS
        shaped = (
            len(value) <= longest
            and SAFE_TOKEN.fullmatch(value) is not None
            and _DIGIT.search(value) is not None
        )
    return shaped and not holds_personal_number(value)


def is_shareable_scalar(value: object, kind: ShownValue) -> bool:
    """Whether a dead letter may show this JSON scalar from a field allow-listed as `kind`:
    booleans always, numbers written as text by the rule for strings."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) < _MAX_SHOWN_NUMBER and is_shareable_value(str(value), kind)
    if isinstance(value, float):
        return math.isfinite(value) and is_shareable_value(repr(value), kind)
    return isinstance(value, str) and is_shareable_value(value, kind)


def is_shareable_key(key: str) -> bool:
    """Whether a dead letter may show this JSON key from a payload, whatever its field.

    A key can be personal data itself (`{"张三": 1}`, a phone number as a key): only ASCII,
    identifier-like keys of at most 40 characters without a personal-looking number are shown.
    """
    return bool(_KEY.fullmatch(key)) and not holds_personal_number(key)


def is_shareable_level(level: str) -> bool:
    """Whether a topic level may be shown: a safe token holding no personal-looking number."""
    return SAFE_TOKEN.fullmatch(level) is not None and not holds_personal_number(level)


def shareable_topic(topic: str) -> str:
    """The topic with every level that is not a safe token (`is_shareable_level`), or that a
    personal-looking number found in the whole topic touches, replaced by `<level N>`, N its
    position from 1: a cheap device may use its owner's phone number or name as its device id,
    written in one level or split over several (`13912/345678`), and a level in another script
    or with spaces is text someone typed.

    The number of levels stays, so an integrator can still tell the layout; the device itself
    is found from the safe levels and the time. Applying this twice changes nothing: the
    masking is repeated until it does (a placeholder's N is a digit, which could in principle
    complete a number with the next level).
    """
    levels = topic.split("/")
    for _ in range(len(levels)):
        shown = _masked_levels(levels)
        if shown == levels:
            break
        levels = shown
    return "/".join(levels)


def _masked_levels(levels: list[str]) -> list[str]:
    """One pass of `shareable_topic`: unsafe levels and levels a found number touches masked."""
    starts: list[int] = []
    position = 0
    for level in levels:
        starts.append(position)
        position += len(level) + 1
    touched: set[int] = set()
    for start, end in personal_number_spans("/".join(levels)):
        first = bisect.bisect_right(starts, start) - 1
        last = bisect.bisect_right(starts, end - 1) - 1
        touched.update(range(first, last + 1))
    return [
        level if index not in touched and is_shareable_level(level) else f"<level {index + 1}>"
        for index, level in enumerate(levels)
    ]


def _is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
