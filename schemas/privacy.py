"""Keyed hashing and masking of personal data: pure helpers every layer shares.

PIPL and GB/T 35273 keep raw ID-card numbers, card numbers, names, phones and face data out of
storage and logs. Identifiers that must still be joined (a card seen at two doors) become
HMAC-SHA256 hashes under a secret key, so nobody holding the database alone can reverse them
by enumerating the small ID-number space. Masks are for display. Adapters apply both before an
event exists, so these live below them, beside the contracts.
"""

import hashlib
import hmac
from typing import Final

ID_NUMBER_NAMESPACE: Final = "id_number"
"""The namespace every dialect hashes ID numbers in, so one person joins across devices."""

_HASH_PREFIX = "h1:"
_HASH_HEX_CHARS = 32  # 128 bits: collision-free at any community's scale, short in indexes
MIN_HASH_KEY_CHARS: Final = 16


class Pseudonymizer:
    """Turns identifiers into stable keyed hashes: equal inputs join, nothing reverses them."""

    def __init__(self, key: str) -> None:
        if len(key) < MIN_HASH_KEY_CHARS:
            raise ValueError(f"the ID hash key must be at least {MIN_HASH_KEY_CHARS} characters")
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


def mask_name(name: str | None) -> str | None:
    """`张三丰` -> `张**`; a one-character name is fully masked; blank or absent gives None."""
    if name is None:
        return None
    stripped = name.strip()
    if not stripped:
        return None
    if len(stripped) == 1:
        return "*"
    return stripped[0] + "*" * (len(stripped) - 1)
