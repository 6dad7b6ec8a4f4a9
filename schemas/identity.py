"""Identity documents: GB 11643 resident ID numbers (the check character and the validity
check, shared by the adapters that validate ID numbers and the simulators that generate them)
and the GA/T 517 certificate types, each with the check its numbers must pass.

Types 111 to 113 (resident ID card, temporary ID card, household register) carry the holder's
GB 11643 citizen number: 18 characters, a check character, a birth date at digits 7 to 14 and
the gender in digit 17. The foreign permanent residence ID card (554) follows GB 11643 too
since its 2023 edition, with 9 as first digit (citizens' numbers begin 1 to 8); the earlier
edition, valid until it expires, has 3 letters (the nationality) and 12 digits. Passports and
other papers get a shape check only.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Final

from schemas.codes import Gender, IdType

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


def resident_id_problem(number: str, *, today: date | None = None) -> str | None:
    """Why `number` is not an 18-character GB 11643 number with a birth date a living person
    can have (`OLDEST_BIRTH_YEAR` to `today`), or None when it is."""
    problem = gb11643_problem(number)
    if problem is not None:
        return problem
    born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    if not date(OLDEST_BIRTH_YEAR, 1, 1) <= born <= (today or date.today()):
        return f"has a birth date outside {OLDEST_BIRTH_YEAR} to today"
    return None


def _foreign_permanent_residence_problem(number: str) -> str | None:
    """The 2023 card (五星卡): 18 characters beginning with 9, under GB 11643 like a resident ID;
    the earlier card, still valid until it expires: 3 letters (nationality) and 12 digits."""
    if len(number) == 15:
        return None if _FOREIGN_PERMANENT_LEGACY.fullmatch(number) else _FOREIGN_SHAPE
    if not number.startswith("9"):
        return _FOREIGN_SHAPE
    return resident_id_problem(number)


_FOREIGN_PERMANENT_LEGACY: Final = re.compile(r"[A-Z]{3}[0-9]{12}")
_FOREIGN_SHAPE: Final = "is not 9 and 17 characters, nor 3 letters and 12 digits"


def _shaped(pattern: str, shape: str) -> Callable[[str], str | None]:
    """A check for numbers that have a shape but no check digit (passports, other papers)."""
    compiled = re.compile(pattern)

    def problem(number: str) -> str | None:
        return None if compiled.fullmatch(number) else f"is not {shape}"

    return problem


@dataclass(frozen=True, slots=True)
class IdTypeCode:
    """A GA/T 517 certificate type: its code, canonical name and how its numbers are checked."""

    code: str
    description: str
    id_type: IdType
    problem: Callable[[str], str | None]
    """Why a number (upper case, surrounding blanks removed) is not valid, or None if it is."""
    gb11643: bool = False
    """Whether an 18-character number of this type carries a birth date and gender."""


_TYPES: Final = (
    IdTypeCode("111", "居民身份证 resident ID card", "resident_id_card", resident_id_problem, True),
    IdTypeCode(
        "112", "临时居民身份证 temporary ID card", "temporary_id_card", resident_id_problem, True
    ),
    IdTypeCode("113", "户口簿 household register", "household_register", resident_id_problem, True),
    IdTypeCode(
        "414",
        "普通护照 passport",
        "passport",
        _shaped(r"[A-Z0-9]{5,20}", "5 to 20 letters or digits"),
    ),
    IdTypeCode(
        "554",
        "外国人永久居留身份证 foreign permanent residence ID card",
        "foreign_permanent_residence",
        _foreign_permanent_residence_problem,
        True,
    ),
    IdTypeCode(
        "990",
        "其他证件 other certificate",
        "other",
        _shaped(r"(?:[^\W_]|-){4,32}", "4 to 32 letters, digits or hyphens"),
    ),
)

ID_TYPES: Final[Mapping[str, IdTypeCode]] = MappingProxyType({t.code: t for t in _TYPES})
"""GA/T 517 code -> certificate type; any other code is unknown (its numbers cannot be checked)."""

_BY_NAME: Final[Mapping[str, IdTypeCode]] = MappingProxyType({t.id_type: t for t in _TYPES})


def id_type_code(value: str) -> IdTypeCode | None:
    """The certificate type named by its GA/T 517 code (`111`) or canonical name
    (`resident_id_card`), or None when `value` names neither."""
    key = value.strip()
    return ID_TYPES.get(key) or _BY_NAME.get(key)


def birth_facts(number: str) -> tuple[Gender, int | None]:
    """Gender (digit 17: odd male, even female) and birth year (digits 7 to 10) of an
    18-character GB 11643 number; (`unknown`, None) for any other number."""
    if gb11643_problem(number) is not None:
        return "unknown", None
    return ("male" if int(number[16]) % 2 else "female"), int(number[6:10])
