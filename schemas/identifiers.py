"""Identifiers and names: what a device id or a label may hold, so personal data cannot ride in one.

Devices and vendors put what they like into a field meant for a code or a label: a visitor's
phone as a device id, a resident's ID number in a door name, markup in a zone name. These rules
are the one place that decides, for the adapters, the event models, the device registry and
the API alike:

- A personal number is a valid resident ID number (GB 11643, with a birth date a living person
  can have) or a mainland mobile number (`1[3-9]` and nine more digits, bare or after `+86`,
  `0086` or `86`), written with or without separators (any short run of characters that are
  not letters or digits), in any width of digit (`１３８…`): the strict predicate of
  `schemas.personal_numbers`, whose broad one decides what is shown. Digits glued to other
  digits are a longer number, not this one: a 20-digit GB/T 28181 device code is never a phone.
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
import time
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Final, Literal

from pydantic import AfterValidator
from pydantic.json_schema import WithJsonSchema

from schemas.personal_numbers import holds_strict_number

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


CLEAR_TEXTS_REMEMBERED: Final = 65_536
"""How many short texts found clear of personal numbers are remembered (a few MB at most)."""
MAX_REMEMBERED_TEXT: Final = 128


def looks_like_personal_number(text: str, *, today: date | None = None) -> bool:
    """Whether `text` holds a resident ID number or a mainland mobile number anywhere, however
    it is written (`schemas.personal_numbers`, its strict predicate).

    The same identifiers come back with every message (a device id is checked in its topic, by
    its adapter and by its event), so a short text found clear is remembered for the day it was
    judged on (an ID number's birth date must not lie after today, so the verdict is the day's).
    Only clear texts are remembered: a personal number is judged anew each time and never kept.
    """
    day = today or _today()
    if len(text) > MAX_REMEMBERED_TEXT:
        return holds_strict_number(text, today=day)
    if (text, day) in _clear_texts:
        return False
    if holds_strict_number(text, today=day):
        return True
    if len(_clear_texts) >= CLEAR_TEXTS_REMEMBERED:
        _clear_texts.clear()
    _clear_texts.add((text, day))
    return False


_clear_texts: set[tuple[str, date]] = set()
_day: list[tuple[float, date]] = [(0.0, date.min)]


def today() -> date:
    """The day personal-number verdicts are judged on: `date.today()`, asked again at most once
    a second (it reads the local zone each time). Whoever remembers a verdict keeps it for this
    day only: an ID number's birth date must not lie after today."""
    return _today()


def _today() -> date:
    """`date.today()`, asked again at most once a second (it reads the local zone each time)."""
    until, day = _day[0]
    now = time.monotonic()
    if now >= until:
        day = date.today()
        _day[0] = (now + 1.0, day)
    return day


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
    if not is_printable(text):
        return "not_printable"
    if _MARKUP.search(text if text.isascii() else unicodedata.normalize("NFKC", text)):
        return "markup"
    if len(text) > max_length:
        return "too_long"
    return None


def is_printable(text: str) -> bool:
    """No control, format, surrogate, private-use or unassigned character: what names and any
    other free text the gateway stores may hold."""
    if text.isprintable():  # C speed; False for every category below and for Zs (not " ")
        return True
    if text.isascii():
        return _PRINTABLE_ASCII.fullmatch(text) is not None
    return all(unicodedata.category(char) not in _UNPRINTABLE_CATEGORIES for char in text)


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


def _printable(value: str) -> str:
    if not is_printable(value):
        raise ValueError(NAME_PROBLEMS["not_printable"])
    return value


PrintableText = Annotated[str, AfterValidator(_printable)]
"""Free text an API caller sends (a transition's actor and comment, a watch-list reason):
`is_printable`, so no NUL (which PostgreSQL refuses and SQLite stores), line breaks, bidi
overrides or other control and format characters reach storage, logs or the platform."""

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
