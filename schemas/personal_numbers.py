"""Personal numbers in text: one tokenizer, two predicates (what is stored, what is shown).

People and devices write ID and phone numbers every way: `139 1234 5678`, `139_1234_5678`,
`tel:139:1234:5678`, `(0731) 8888-1234`, `１３９１２３４５６７８`, `430112-1992-0315-451x`. So
the text is first folded, one character for one (NFKC: full-width digits, letters and
punctuation become ASCII; any other decimal digit, and a Chinese numeral written digit by
digit (`一三九…`, `壹叁玖…`), becomes its ASCII digit), then cut into
chains of digit groups: two groups belong to one chain when only a short run (at most
`MAX_GAP` characters) of anything that is not a letter or a digit stands between them, so `_ :
· — ／ . / ( ) +` and spaces all separate groups alike. A letter ends a chain: `ID4301…`
starts one. Every run of consecutive groups of a chain is a candidate number (so `Door 2 138
1234 5678` is caught by its last three groups), closed by an `X` written right after its last
group, in either case and width, when an ID number's check character is X.

Two predicates judge the candidates:

- `strict`: what stored fields refuse (`schemas.identifiers`): a valid GB 11643 resident ID
  number with a birth date a living person can have, the same number's first 17 digits alone
  (its check character is computed from them, so they identify the person as fully: a device
  id `11010519491231002`, `ID 11010519491231002 X`), or a mainland mobile (`1[3-9]` and nine
  digits), bare or after 86 or 0086 (`+86` is `+` and `86`). Rare enough by chance that no
  legitimate code or name is refused for it: 17 digits need a region (first digit 1 to 8)
  and a birth date from 1900 to today at their seventh digit.
- `broad`: what dead letters, topics, error details and logs hide (`gateway.privacy`): every
  strict number, and besides the numbers that only look like one, since what is only shown
  may err the other way: legacy 15-digit ID numbers, 18-character ID-shaped numbers (a region,
  a birth date from 1900 to 2099) whatever their check character, landlines with an area code
  (`010`, `02x`, `0xxx`, after 0, 86 or 0086; after `010` and `02x` any 8 digits), and
  mobiles after a trunk `0`. Broad calls strict first, so every strict number is broad by
  construction.

Digits glued to other digits are a longer number, not this one: a 20-digit GB/T 28181 device
code, epoch milliseconds and `20261126080000` are never personal numbers.
"""

import re
import unicodedata
from collections.abc import Callable, Iterator
from datetime import date
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from schemas.identity import OLDEST_BIRTH_YEAR, gb11643_check_digit, is_resident_id_number

MAX_GAP: Final = 4
"""The longest run of separators between two groups of one written number: `) - `."""

_GROUP: Final = re.compile(r"[0-9]+")
_GAP: Final = re.compile(rf"[\W_]{{1,{MAX_GAP}}}")
"""Anything but letters and digits (`\\W` and `_`: Python's word characters are exactly those)."""
_STRICT_LENGTHS: Final = frozenset({11, 13, 15, 17, 18})
"""A mobile bare, after 86, after 0086; an ID number without (17) and with (18) its check
character."""
_BROAD_LENGTHS: Final = frozenset(range(10, 16)) | {17, 18}
"""Landlines with area code (10 to 15 digits with 0, 86 or 0086), a mobile after a trunk 0
(12), legacy ID numbers (15), ID numbers without their check character (17), ID-shaped
numbers (18); `_STRICT_LENGTHS` is a subset."""
_MIN_DIGITS: Final = {False: min(_STRICT_LENGTHS), True: min(_BROAD_LENGTHS)}
_MOBILE: Final = re.compile(r"(?:0086|86)?1[3-9][0-9]{9}")
_LANDLINE: Final = re.compile(
    r"(?:0|86|0086)(?:(?:10|2[0-9])[0-9]{8}|(?:10|2[0-9]|[3-9][0-9]{2})[2-9][0-9]{6,7})"
)
"""An area code (010, 02x, 0xxx) and a local number of 7 or 8 digits, not starting 0 or 1;
after the big cities' 3-digit codes (010, 02x) any 8 digits (`+86 10 1234 5678`: what is
only shown may err towards hiding)."""
_TRUNK_MOBILE: Final = re.compile(r"01[3-9][0-9]{9}")
_REGIONS: Final = "12345678"
_STRICT_CANDIDATE: Final = re.compile(
    r"1[3-9][0-9]{9}"
    r"|[1-8][0-9]{5}(?:19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}"
)
"""What a chain's joined digits show when it holds a strict number (a mobile, or an ID number's
first 17 digits): a quick test sparing the window search for almost every stored text."""


def strict_number(digits: str, *, today: date | None = None) -> bool:
    """Whether `digits` (ASCII digits, maybe a final X) is a valid ID number, an ID number's
    first 17 digits, or a mobile."""
    if len(digits) == 18:
        return is_resident_id_number(digits, today=today)
    if len(digits) == 17:
        return digits.isdigit() and is_resident_id_number(
            digits + gb11643_check_digit(digits), today=today
        )
    return _MOBILE.fullmatch(digits) is not None


def broad_number(digits: str, *, today: date | None = None) -> bool:
    """Whether `digits` is shaped like an ID, mobile or landline number (see the module)."""
    if strict_number(digits, today=today):
        return True
    if len(digits) == 15 and digits[0] in _REGIONS and digits.isdigit():
        return _calendar_date("19" + digits[6:12])
    if len(digits) == 18 and digits[0] in _REGIONS and digits[:17].isdigit():
        return _calendar_date(digits[6:14])
    return bool(_LANDLINE.fullmatch(digits) or _TRUNK_MOBILE.fullmatch(digits))


def holds_strict_number(text: str, *, today: date | None = None) -> bool:
    """Whether `text` holds a number stored fields refuse, however it is written."""
    return next(number_spans(text, broad=False, today=today), None) is not None


def holds_broad_number(text: str) -> bool:
    """Whether `text` holds a number that is never shown, however it is written."""
    return next(number_spans(text, broad=True), None) is not None


def number_spans(text: str, *, broad: bool, today: date | None = None) -> Iterator[tuple[int, int]]:
    """(start, end) in `text` of every candidate the chosen predicate accepts, in order of
    their first group (spans may overlap: `1 138 1234 5678` yields the mobile once)."""
    if len(text) < _MIN_DIGITS[broad]:
        return
    folded = fold(text)
    lengths = _BROAD_LENGTHS if broad else _STRICT_LENGTHS
    judge: Callable[..., bool] = broad_number if broad else strict_number
    for chain in _chains(folded):
        digits = "".join(group[0] for group in chain)
        if len(digits) < _MIN_DIGITS[broad]:
            continue
        if not broad and not _STRICT_CANDIDATE.search(digits):
            continue
        yield from _chain_spans(folded, chain, digits, lengths, judge, today)


CHINESE_DIGITS: Final = MappingProxyType(
    {
        **{char: str(value) for value, char in enumerate("〇一二三四五六七八九")},
        **{char: str(value) for value, char in enumerate("零壹贰叁肆伍陆柒捌玖")},
        **{"貳": "2", "參": "3", "陸": "6"},
    }
)
"""Chinese numerals read digit by digit, as a phone or ID number is spoken and sometimes
written (`一三九一二三四五六七八`); they are letters to Unicode, digits to a reader."""


def fold(text: str) -> str:
    """`text` with compatibility forms folded and every decimal digit made ASCII, one
    character for one, so positions in the result are positions in `text`."""
    if text.isascii():
        return text
    return "".join(map(_fold_char, text))


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    if char.isascii():
        return char
    folded = unicodedata.normalize("NFKC", char)
    if len(folded) != 1:  # `℡` -> `TEL`, `½` -> `1⁄2`: a letter, ending any chain of groups
        return "a" if any(part.isalnum() for part in folded) else " "
    if folded.isdecimal():
        return str(unicodedata.decimal(folded))
    return CHINESE_DIGITS.get(folded, folded)


def _chains(folded: str) -> list[list[re.Match[str]]]:
    """Digit groups, chained when only a short separator run stands between them."""
    chains: list[list[re.Match[str]]] = []
    for group in _GROUP.finditer(folded):
        if chains and _GAP.fullmatch(folded, chains[-1][-1].end(), group.start()):
            chains[-1].append(group)
        else:
            chains.append([group])
    return chains


def _chain_spans(
    folded: str,
    chain: list[re.Match[str]],
    digits: str,
    lengths: frozenset[int],
    judge: Callable[..., bool],
    today: date | None,
) -> Iterator[tuple[int, int]]:
    """Runs of consecutive groups of `chain` (whose digits, joined, are `digits`) that `judge`
    accepts, with a closing X where one is written."""
    ends: dict[int, int] = {}  # offset in `digits` after a group -> that group's index
    offset = 0
    for index, group in enumerate(chain):
        offset += len(group[0])
        ends[offset] = index
    offset = 0
    for group in chain:
        start = offset
        offset += len(group[0])
        for length in sorted(lengths, reverse=True):  # the longest number for a redaction
            span = _window(folded, chain, digits, ends, start, length)
            if span is not None and judge(span[1], today=today):
                yield group.start(), span[0]
                break


def _window(
    folded: str,
    chain: list[re.Match[str]],
    digits: str,
    ends: dict[int, int],
    start: int,
    length: int,
) -> tuple[int, str] | None:
    """The candidate of `length` characters from `start` (an offset in `digits`): where it
    ends in `folded`, and its characters, or None when no group ends there. An 18-character
    candidate may be 17 digits and the X written right after them."""
    last = ends.get(start + length)
    if last is not None:
        return chain[last].end(), digits[start : start + length]
    last = ends.get(start + length - 1)
    if length == 18 and last is not None and _x_after(folded, chain[last].end()):
        return chain[last].end() + 1, digits[start : start + 17] + "X"
    return None


def _x_after(folded: str, position: int) -> bool:
    return folded[position : position + 1] in ("X", "x")


def _calendar_date(yyyymmdd: str) -> bool:
    year = int(yyyymmdd[:4])
    if not OLDEST_BIRTH_YEAR <= year <= 2099:
        return False
    try:
        date(year, int(yyyymmdd[4:6]), int(yyyymmdd[6:8]))
    except ValueError:
        return False
    return True
