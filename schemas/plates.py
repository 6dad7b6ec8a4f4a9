"""What a stored licence plate may be: the plate alphabet, and the GA 36 grammar it is judged by.

Two questions, asked of a plate already normalised (`adapters.plates.normalise_plate`: upper
case, separators removed, full-width forms folded):

- Is it plate text at all? 5 to 10 characters of the plate alphabet: the province
  abbreviations, the special-series characters 使 领 警 学 挂 港 澳 and 应 急, Latin letters and
  digits. Anything else (a phone number is 11 digits, an ID number 18, markup has `<`) is no
  plate: the event keeps no plate text and says so (`not_a_plate`, see `schemas.screening`).
- Does it follow the grammar of a plate issued in the mainland (`PLATE_CLASSES`)? When not, the
  plate is still kept, with `plate_standard = false`: a foreign, damaged or misread plate is
  still evidence a watch-list must be able to find.

Serials never use the letters I and O (GA 36-2018, so they cannot be read as 1 and 0); a
plate that does is judged non-standard, as a misread is the likelier story.
"""

import re
from dataclasses import dataclass
from typing import Final, Literal

PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
"""The 31 province-level abbreviations that open a civil plate."""
SPECIAL_SERIES: Final = "使领警学挂港澳应急"
"""Characters of the special series: embassy, consulate, police, coach, trailer, Hong Kong,
Macao, and the pair 应急 (emergency rescue)."""
MIN_PLATE: Final = 5
MAX_PLATE: Final = 10

_ALPHABET: Final = re.compile(rf"[{PROVINCES}{SPECIAL_SERIES}A-Z0-9]{{{MIN_PLATE},{MAX_PLATE}}}")
_P: Final = f"[{PROVINCES}]"
_S: Final = "[A-HJ-NP-Z0-9]"
"""A serial character: a digit or a letter other than I and O."""


@dataclass(frozen=True, slots=True)
class PlateClass:
    """One series of GA 36 (or military) plates: its grammar and an example."""

    name: str
    description: str
    example: str
    pattern: re.Pattern[str]


def _series(name: str, description: str, example: str, pattern: str) -> PlateClass:
    return PlateClass(name, description, example, re.compile(pattern))


PLATE_CLASSES: Final[tuple[PlateClass, ...]] = (
    _series(
        "civil",
        "civil vehicles and motorcycles: 5 serials",
        "湘A12345",
        rf"{_P}[A-Z]{_S}{{5}}",
    ),
    _series(
        "new_energy_small",
        "small new energy: D or F, a serial, 4 digits",
        "湘AD12345",
        rf"{_P}[A-Z][DF]{_S}[0-9]{{4}}",
    ),
    _series(
        "new_energy_large",
        "large new energy: 5 digits, then D or F",
        "湘A12345D",
        rf"{_P}[A-Z][0-9]{{5}}[DF]",
    ),
    _series(
        "trailer",
        "trailer: 4 serials and 挂",
        "湘A1234挂",
        rf"{_P}[A-Z]{_S}{{4}}挂",
    ),
    _series(
        "coach",
        "driving-school coach: 4 serials and 学",
        "湘A1234学",
        rf"{_P}[A-Z]{_S}{{4}}学",
    ),
    _series(
        "police",
        "police: 4 serials and 警",
        "湘A0123警",
        rf"{_P}[A-Z]{_S}{{4}}警",
    ),
    _series(
        "consulate",
        "consulate: 4 serials and 领",
        "沪A1234领",
        rf"{_P}[A-Z]{_S}{{4}}领",
    ),
    _series(
        "hong_kong_macao",
        "Hong Kong or Macao: 粤Z, 4 serials, 港 or 澳",
        "粤Z1234港",
        rf"粤Z{_S}{{4}}[港澳]",
    ),
    _series(
        "embassy",
        "embassy: 使, the mission's 3 digits, 3 digits",
        "使014578",
        r"使[0-9]{6}",
    ),
    _series(
        "armed_police",
        "armed police: WJ, a province or none, 4 digits, a digit or letter",
        "WJ粤1234X",
        rf"WJ{_P}?[0-9]{{4}}[0-9A-Z]",
    ),
    _series(
        "military",
        "military: two letters, 5 digits",
        "VA12345",
        r"[A-Z]{2}[0-9]{5}",
    ),
    _series(
        "emergency",
        "emergency rescue: a letter, 4 digits and 应急",
        "琼X1234应急",
        rf"{_P}[A-Z][0-9]{{4}}应急",
    ),
)
"""The plate series the gateway knows as standard, the more specific first (`WJ12345` is armed
police before it is two letters and five digits); the example of each matches it."""


def plate_problem(plate: str) -> Literal["not_a_plate"] | None:
    """`not_a_plate` when `plate` is not 5 to 10 characters of the plate alphabet."""
    return None if _ALPHABET.fullmatch(plate) else "not_a_plate"


_STANDARD: Final = re.compile("|".join(f"(?:{series.pattern.pattern})" for series in PLATE_CLASSES))


def plate_class(plate: str) -> PlateClass | None:
    """The series whose grammar `plate` follows, or None."""
    return next((series for series in PLATE_CLASSES if series.pattern.fullmatch(plate)), None)


def is_standard_plate(plate: str) -> bool:
    """Whether `plate` follows the grammar of one of `PLATE_CLASSES`."""
    return _STANDARD.fullmatch(plate) is not None
