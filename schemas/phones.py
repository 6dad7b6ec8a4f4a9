"""Phone numbers as they are masked and fingerprinted: one normal form for every path (visitor
registrations, resident imports), so the same phone written two ways masks and joins alike."""

import re
from typing import Final

_SEPARATORS: Final = re.compile(r"[\s\-()]+")
_PHONE: Final = re.compile(r"\+?[0-9]{5,20}")
_MAINLAND_MOBILE_PREFIX: Final = re.compile(r"\A(?:\+86|0086|86)(?=1[3-9][0-9]{9}\Z)")

PHONE_RULE: Final = "not a phone number (5 to 20 digits, optional leading +)"


def normalise_phone(value: str) -> str:
    """The phone without separators or a mainland +86 prefix (blank stays blank: no phone);
    `ValueError` (naming the rule, never the value) when it is not a phone number."""
    compact = _SEPARATORS.sub("", value)
    compact = _MAINLAND_MOBILE_PREFIX.sub("", compact, count=1)
    if compact and not _PHONE.fullmatch(compact):
        raise ValueError(PHONE_RULE)
    return compact
