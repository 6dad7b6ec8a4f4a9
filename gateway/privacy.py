"""Personal data handling: keyed hashes for joins, masks for display, redaction for text.

PIPL and GB/T 35273 keep raw ID-card numbers, card numbers, names, phones and face data out of
storage and logs. Identifiers that must still be joined (a card seen at two doors) become
HMAC-SHA256 hashes under a secret key, so nobody holding the database alone can reverse them
by enumerating the small ID-number space.
"""

import hashlib
import hmac
import re
from typing import Final

ID_NUMBER_NAMESPACE: Final = "id_number"
"""The namespace every dialect hashes ID numbers in, so one person joins across devices."""

_HASH_PREFIX = "h1:"
_HASH_HEX_CHARS = 32  # 128 bits: collision-free at any community's scale, short in indexes

# 18-digit resident ID numbers (GB 11643) and 15-digit legacy ones, 11-digit mainland mobiles.
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])|(?<!\d)\d{15}(?!\d)")
_PHONE = re.compile(r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)")
# Values of JSON keys that name people or their credentials, matched on text so it also works
# on payloads that are not valid JSON.
# Keys that hold a person's name or phone (bare, or prefixed by who the person is: `userName`,
# `visitorPhone`), and any key ending like an identity number (`idCardNo`, `certificateNo`).
# A device's, space's or event's name is not personal and stays readable.
_PERSON = (
    r"(?:user|person|visitor|owner|resident|contact|real|full|customer|driver|guest|host|tenant)"
)
_SENSITIVE_KEYS = (
    rf"(?:{_PERSON}_?)?(?:name|phone|phonenumber|mobile|tel|telephone)"
    r"|\w*(?:cardno|cardnumber|idnumber|idno|idcard|idcardno|certificateno|employeeno"
    r"|employeenostring)"
    r"|data|featuredata|imagedata|picdata|facedata"  # inline images and face features
)
_SENSITIVE_VALUE = re.compile(
    rf'("(?:{_SENSITIVE_KEYS})"\s*:\s*)("(?:[^"\\]|\\.)*(?:"|\\?\Z)|-?\d+)', re.IGNORECASE
)
_INLINE_IMAGE = re.compile(r"data:[\w/+.-]*;base64,[A-Za-z0-9+/=]*|[A-Za-z0-9+/=]{200,}")
"""A `data:` URI (any length) or a long base64 run: an inline picture or face feature."""


class Pseudonymizer:
    """Turns identifiers into stable keyed hashes: equal inputs join, nothing reverses them."""

    def __init__(self, key: str) -> None:
        if len(key) < 16:
            raise ValueError("the ID hash key must be at least 16 characters")
        self._key = key.encode()

    def hash(self, namespace: str, value: str) -> str:
        """Hash `value` within `namespace` (e.g. "card"), so one kind never joins another."""
        digest = hmac.new(self._key, f"{namespace}\x1f{value}".encode(), hashlib.sha256)
        return _HASH_PREFIX + digest.hexdigest()[:_HASH_HEX_CHARS]


def normalise_id_number(number: str) -> str:
    """An ID number as it is checked, hashed and masked: no surrounding blanks, upper case."""
    return number.strip().upper()


def hash_id_number(pseudonymizer: Pseudonymizer, number: str) -> str:
    """The keyed hash of an ID number, normalised first, in the namespace all dialects share:
    the same person's number from a door, a camera and a visitor record gives one hash."""
    return pseudonymizer.hash(ID_NUMBER_NAMESPACE, normalise_id_number(number))


def mask_id_number(value: str) -> str:
    """Show an ID number as its region prefix and last four: `430112********1234`."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """Show a phone number as `138****5678`."""
    if len(value) < 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def redact_text(text: str) -> str:
    """Remove personal data from free text (a dead-lettered payload, a log line).

    Values under sensitive JSON keys become `"***"`, ID-number-like and phone-like digit runs
    are masked, and long base64 runs (inline face images) are cut out.
    """
    text = _SENSITIVE_VALUE.sub(r'\1"***"', text)
    text = _INLINE_IMAGE.sub("<image removed>", text)
    text = _ID_NUMBER.sub(lambda m: mask_id_number(m.group()), text)
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)
