"""Licence plates and plate colours, normalised the same way whichever device read them.

Rules and joins compare plates as strings, so every dialect must produce the same string for
the same plate: upper case, no separators, the Chinese province character kept.
"""

import re
from typing import Final

from schemas.codes import PlateColor

_SEPARATORS = re.compile(r"[\s·•\-_.]+")
_PLATE = re.compile(
    r"^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领]"
    r"[A-Z][A-Z0-9]{4,6}[A-Z0-9挂学警港澳领试超]?$"
)
_NO_PLATE: Final = frozenset(
    {"", "未识别", "无车牌", "无牌", "车牌", "NONE", "NULL", "UNKNOWN", "-"}
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

    Unreadable placeholders (`未识别`, `无车牌`, ...) mean no plate; anything else that does not
    look like a mainland plate is still kept (upper-cased, separators removed): a foreign or
    damaged plate is evidence, not noise.
    """
    if raw is None:
        return None
    plate = _SEPARATORS.sub("", raw.strip()).upper()
    if plate in _NO_PLATE:
        return None
    return plate


def looks_like_mainland_plate(plate: str) -> bool:
    """7 characters (ordinary) or 8 (new energy), province character first."""
    return bool(_PLATE.match(plate))
