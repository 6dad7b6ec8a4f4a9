"""Identifiers and names: what a device id or a label may hold, so personal data cannot ride in one.

Devices and vendors put what they like into a field meant for a code or a label: a visitor's
phone as a device id, a resident's ID number in a door name, markup in a zone name. These rules
are the one place that decides, for the adapters, the event models, the device registry and
the API alike:

- A personal number is a valid resident ID number (GB 11643, with a birth date a living person
  can have) or a mainland mobile number (`1[3-9]` and nine more digits, bare or after `+86`,
  `0086` or `86`), written with or without separators (spaces, dashes, dots, underscores,
  slashes, colons, brackets), in any width of digit (`１３８…`). Digits glued to other digits
  are a longer number, not this one: a 20-digit GB/T 28181 device code is never a phone.
- A device id is `DEVICE_ID_PATTERN` without `..` (so it can never climb a path), and holds no
  personal number (`pii_in_identifier`, checked first: it is the more urgent news).
- A name (door, zone, lane, gate, building, firmware...) is printable text (no control, format,
  private-use or unassigned character; surrounding white space is trimmed first) of at most
  `MAX_NAME` characters, without markup, without a personal number. Markup is `<` or `>` in any
  width, an HTML character reference (`&lt;`, `&#60;`, `&#x3c;`), or a `javascript:` or
  `vbscript:` scheme; a plain `&` (`A&B gate`) is text.
- Required identifiers an event cannot do without (visit ids, vendor codes) hold no personal
  number; their shape is the dialect's business.
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Final, Literal

from pydantic import AfterValidator
from pydantic.json_schema import WithJsonSchema

from schemas.identity import is_resident_id_number

MAX_DEVICE_ID: Final = 64
DEVICE_ID_PATTERN: Final = r"^[0-9A-Za-z_.:-]{1,64}$"
"""What a device id may be made of; `..` is refused besides (the pattern cannot say it)."""
MAX_NAME: Final = 64

PII_IN_IDENTIFIER: Final = "pii_in_identifier"
"""The dead-letter reason (and field-drop reason) for a personal number in an identifier."""
BAD_DEVICE_ID: Final = "bad_device_id"

FieldDropReason = Literal["pii_in_identifier", "not_printable", "markup", "too_long", "not_a_plate"]
"""Why a field's text was dropped from an event: the label of `scgw_event_fields_dropped_total`."""

NAME_PROBLEMS: Final[dict[FieldDropReason, str]] = {
    "pii_in_identifier": "must not hold an ID or mobile number",
    "not_printable": "must be printable text, without control or format characters",
    "markup": "must not hold markup (< > or &…; character references, script URLs)",
    "too_long": f"must be at most {MAX_NAME} characters",
}
"""What each refusal means, for error texts: they name the rule, never the value."""

_DEVICE_ID: Final = re.compile(DEVICE_ID_PATTERN)
_DIGITS: Final = re.compile(r"[0-9]+")
_SEPARATOR: Final = r"[\s\-\u2010-\u2015\u2212_.·•・()/:+]"
_GAP: Final = re.compile(rf"{_SEPARATOR}{{1,3}}")
"""What may stand between the digit groups of one written number: `138 1234-5678`, `(+86)`."""
_GAP_BETWEEN_DIGITS: Final = re.compile(rf"(?<=[0-9]){_SEPARATOR}{{1,3}}(?=[0-9])")
_CANDIDATE: Final = re.compile(
    r"1[3-9][0-9]{9}"
    r"|[1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}"
)
"""What every personal number shows once the gaps between its groups are removed (a mobile, or
the first 17 characters of an ID number: region, birth date, sequence): a quick test that
spares the group-by-group search for almost every text, timestamps and device codes included."""
_MOBILE: Final = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_LONGEST_NUMBER: Final = 18
_MOBILE_LENGTHS: Final = (11, 13, 15)
"""A mobile number bare, after 86, after 0086."""
_MARKUP: Final = re.compile(
    r"[<>]|&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[Xx][0-9A-Fa-f]{1,6});"
    r"|(?:java|vb)script\s*:",
    re.IGNORECASE,
)
_PRINTABLE_ASCII: Final = re.compile(r"[ -~]*")
_UNPRINTABLE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@dataclass(frozen=True, slots=True)
class NoPersonalNumber:
    """Marks an identifier field that refuses a personal number (`DeviceId`, `IdentifierText`),
    so code that fills fields generically (mapping dialects) can name the refusal."""


@dataclass(frozen=True, slots=True)
class IdentifierProblem:
    """Why a device id is refused: the dead-letter reason and a text naming the rule broken."""

    reason: Literal["bad_device_id", "pii_in_identifier"]
    detail: str


def looks_like_personal_number(text: str, *, today: date | None = None) -> bool:
    """Whether `text` holds a resident ID number or a mainland mobile number anywhere.

    The text is cut into chains of digit groups joined by short separator runs; every run of
    consecutive groups in a chain is tested, so `Door 2 138 1234 5678` is caught by its last
    three groups. An `X` right after a group may close an ID number.
    """
    folded = _ascii_digits(text)
    if not _CANDIDATE.search(_GAP_BETWEEN_DIGITS.sub("", folded)):
        return False
    return any(_holds_number(folded, chain, today) for chain in _chains(folded))


def device_id_problem(value: str) -> IdentifierProblem | None:
    """Why `value` is not a device id, or None when it is one (see the module's rules)."""
    if looks_like_personal_number(value):
        return IdentifierProblem(PII_IN_IDENTIFIER, "holds an ID or mobile number")
    if not value:
        return IdentifierProblem(BAD_DEVICE_ID, "is empty")
    if len(value) > MAX_DEVICE_ID:
        return IdentifierProblem(BAD_DEVICE_ID, f"is longer than {MAX_DEVICE_ID} characters")
    if not _DEVICE_ID.fullmatch(value):
        return IdentifierProblem(BAD_DEVICE_ID, "has characters outside 0-9 A-Z a-z _ . : -")
    if ".." in value:
        return IdentifierProblem(BAD_DEVICE_ID, "contains '..'")
    return None


def name_problem(text: str, *, max_length: int = MAX_NAME) -> FieldDropReason | None:
    """Why `text` (trimmed) may not be stored as a name, or None when it may."""
    text = text.strip()
    if looks_like_personal_number(text):
        return "pii_in_identifier"
    if not _printable(text):
        return "not_printable"
    if _MARKUP.search(text if text.isascii() else unicodedata.normalize("NFKC", text)):
        return "markup"
    if len(text) > max_length:
        return "too_long"
    return None


def _printable(text: str) -> bool:
    if text.isascii():
        return _PRINTABLE_ASCII.fullmatch(text) is not None
    return all(unicodedata.category(char) not in _UNPRINTABLE_CATEGORIES for char in text)


def _ascii_digits(text: str) -> str:
    """Compatibility forms folded (`１` -> `1`, `＋` -> `+`) and every decimal digit made ASCII."""
    if text.isascii():
        return text  # NFKC leaves ASCII as it is
    folded = unicodedata.normalize("NFKC", text)
    if folded.isascii():
        return folded
    return "".join(
        str(unicodedata.decimal(char)) if char.isdecimal() and not char.isascii() else char
        for char in folded
    )


def _chains(text: str) -> list[list[re.Match[str]]]:
    """Digit groups, chained when only a short separator run stands between them."""
    chains: list[list[re.Match[str]]] = []
    for group in _DIGITS.finditer(text):
        if chains and _GAP.fullmatch(text, chains[-1][-1].end(), group.start()):
            chains[-1].append(group)
        else:
            chains.append([group])
    return chains


def _holds_number(text: str, chain: list[re.Match[str]], today: date | None) -> bool:
    """Whether some run of consecutive groups of `chain` spells a personal number.

    The chain's digits are joined once; a run is a slice from a group's start to a group's
    end, so only slices of a personal number's lengths between such offsets are tested.
    """
    digits = "".join(group[0] for group in chain)
    if not _CANDIDATE.search(digits):
        return False
    starts: list[int] = []
    ends: set[int] = set()
    x_ends: set[int] = set()  # group ends followed by an X, which may close an ID number
    offset = 0
    for group in chain:
        starts.append(offset)
        offset += len(group[0])
        ends.add(offset)
        if text[group.end() : group.end() + 1] in ("X", "x"):
            x_ends.add(offset)
    for start in starts:
        for length in _MOBILE_LENGTHS:
            if start + length in ends and _MOBILE.fullmatch(digits, start, start + length):
                return True
        end = start + _LONGEST_NUMBER
        if end in ends and is_resident_id_number(digits[start:end], today=today):
            return True
        if end - 1 in x_ends and is_resident_id_number(digits[start : end - 1] + "X", today=today):
            return True
    return False


def _valid_device_id(value: str) -> str:
    problem = device_id_problem(value)
    if problem is not None:
        raise ValueError(f"device id {problem.detail}")
    return value


def _no_personal_number(value: str) -> str:
    if looks_like_personal_number(value):
        raise ValueError(NAME_PROBLEMS["pii_in_identifier"])
    return value


DeviceId = Annotated[
    str,
    NoPersonalNumber(),
    AfterValidator(_valid_device_id),
    WithJsonSchema(
        {"type": "string", "minLength": 1, "maxLength": MAX_DEVICE_ID, "pattern": DEVICE_ID_PATTERN}
    ),
]
"""A device id as every contract takes it: the event, the registry, the API's path."""

IdentifierText = Annotated[str, NoPersonalNumber(), AfterValidator(_no_personal_number)]
"""An identifier an event cannot do without (a visit id, a vendor code): no personal number."""


def name_text(max_length: int = MAX_NAME) -> AfterValidator:
    """A validator refusing what `name_problem` refuses, for declared names (the registry's
    buildings, gates and doors): declared data is corrected by whoever declares it, not dropped.
    The value is kept trimmed."""

    def check(value: str) -> str:
        problem = name_problem(value, max_length=max_length)
        if problem == "too_long":
            raise ValueError(f"must be at most {max_length} characters")
        if problem is not None:
            raise ValueError(NAME_PROBLEMS[problem])
        return value.strip()

    return AfterValidator(check)
