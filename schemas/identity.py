"""GB 11643 resident ID numbers: the check character and the validity check, shared by the
adapters that validate ID numbers and the simulators that generate them."""

import re
from datetime import date
from typing import Final

_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARACTERS: Final = "10X98765432"
_RESIDENT_ID_SHAPE: Final = re.compile(r"[0-9]{17}[0-9X]")
OLDEST_BIRTH_YEAR: Final = 1900
"""No living holder of a resident ID card was born before this year."""


def gb11643_check_digit(first17: str) -> str:
    """The GB 11643 (ISO 7064 MOD 11-2) check character for the first 17 ID-number digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("expected 17 digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARACTERS[total % 11]


def gb11643_problem(number: str) -> str | None:
    """Why `number` (upper case) is not a GB 11643 resident ID number, or None when it is."""
    if not _RESIDENT_ID_SHAPE.fullmatch(number):
        return "is not 17 digits followed by a digit or X"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "has no calendar birth date"
    if gb11643_check_digit(number[:17]) != number[17]:
        return "fails the GB 11643 check digit"
    return None


def is_resident_id_number(number: str, *, today: date | None = None) -> bool:
    """Whether `number` (upper case) is a GB 11643 number a living person could hold.

    Valid check character, a region code of GB/T 2260 (its first digit 1 to 8: the provinces,
    and 81 to 83 for Hong Kong, Macao and Taiwan residence permits) and a birth date from
    `OLDEST_BIRTH_YEAR` to `today` (the current date when not given): the test for personal
    data hiding in identifiers and names, where a random digit run passes the check
    character one time in eleven and a plausible region and birth date keep most such
    coincidences out.
    """
    if gb11643_problem(number) is not None or number[0] not in "12345678":
        return False
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    return date(OLDEST_BIRTH_YEAR, 1, 1) <= born <= (today or date.today())
