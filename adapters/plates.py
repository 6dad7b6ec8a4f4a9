"""Licence plates and plate colours, normalised the same way whichever device read them.

Rules and joins compare plates as strings, so every dialect must produce the same string for
the same plate: upper case, no separators, full-width forms folded to ASCII, the Chinese
province character kept. What a normalised plate may be, and whether it follows the GA 36
grammar, is the event's contract (`schemas.plates`, applied by `schemas.screening`).
"""

import re
import unicodedata
from collections.abc import Mapping
from typing import Final

from schemas.codes import PlateColor

_SEPARATORS = re.compile(r"[\s·•・\-_.]+")
_NO_PLATE: Final = frozenset(
    {"", "未识别", "无车牌", "无牌", "无牌车", "车牌", "未知", "NONE", "NULL", "UNKNOWN", "-"}
)

GAT1400_PLATE_COLORS: Final[dict[int, PlateColor]] = {
    1: "black",
    2: "white",
    3: "grey",
    4: "red",
    5: "blue",
    6: "yellow",
    7: "orange",
    8: "brown",
    9: "green",
    10: "purple",
    11: "cyan",
    12: "pink",
    13: "transparent",
    99: "other",
}
"""GA/T 1400 colour codes (the 视图库 standard's colour table)."""

JTT415_PLATE_COLORS: Final[dict[int, PlateColor]] = {
    1: "blue",
    2: "yellow",
    3: "black",
    4: "white",
    5: "green",
    9: "other",
}
"""JT/T 415 plate colour codes, used by parking and transport systems."""


def normalise_plate(raw: str | None) -> str | None:
    """The plate as rules compare it, or None when the device read no plate.

    Unreadable placeholders (`未识别`, `无车牌`, ...) mean no plate; anything else is returned
    normalised (upper-cased, separators removed) for the event to judge: a foreign or damaged
    plate is evidence, text outside the plate alphabet is dropped (`schemas.plates`).
    Full-width letters and digits (`湘Ａ１２３４５`, as some Chinese input methods type them)
    become ASCII, so they join with the usual form.
    """
    if raw is None:
        return None
    folded = _SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    # Once more: a removed separator can leave a combining mark to compose, and upper() can
    # produce compatibility forms, so the result is normal and normalising it changes nothing.
    plate = unicodedata.normalize("NFKC", folded)
    if plate in _NO_PLATE:
        return None
    return plate


def plate_color(code: int | None, table: Mapping[int, PlateColor]) -> PlateColor:
    """The canonical colour for a device's colour code, looked up in the dialect's `table`.

    No code means the device did not say: `unknown`. A code outside the table becomes `other`,
    neither `unknown` nor a dead letter: the device did read a colour, only one our table does
    not name, so `unknown` would misreport it; and the pass itself (plate, time, gate) is sound
    evidence that one unfamiliar attribute code must not throw away.
    """
    if code is None:
        return "unknown"
    return table.get(code, "other")
