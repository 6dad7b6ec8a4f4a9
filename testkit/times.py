"""Re-dating device payloads, so a fixture written on one day is plausible on any later day.

The adapter fixtures (`tests/adapters/fixtures/**`) were written with their event times in
the last days of November 2026, all before `FIXTURES_END`. Adapter unit tests inject the
arrival time and keep them as they are; a test that sends them through a running gateway,
which stamps the real arrival time, must first move them next to the present, or they would
fall out of the gateway's plausibility window (`gateway.pipeline.PlausibleTime`) a few months
after they were written. `redate` shifts every time a payload carries, in the format each
dialect writes it, by the same amount, so the gaps between them (a visit's validity, a batch
of captures) stay.
"""

import json
import re
from datetime import datetime, timedelta
from typing import Final

from schemas.times import CHINA_STANDARD_TIME as CST

FIXTURES_END: Final = datetime(2026, 11, 28, tzinfo=CST)
"""Every event time in the adapter fixtures lies before this (a visit may be valid beyond)."""

ISO_KEYS: Final = frozenset({"dateTime", "alarmTime", "eventTime", "startTime", "endTime"})
"""Keys whose values are ISO 8601 with an offset (hik-isapi, camera-alarm, visitor-cloud)."""
COMPACT_KEYS: Final = frozenset(
    {
        "FaceAppearTime",
        "FaceDisAppearTime",
        "PassTime",
        "ShotTime",
        "MarkTime",
        "AppearTime",
        "DisappearTime",
        "LocationMarkTime",
    }
)
"""Keys whose values are GA/T 1400's `YYYYMMDDhhmmss`, China Standard Time."""
EPOCH_KEYS: Final = frozenset({"ts", "openTime"})
"""Keys whose values are epoch milliseconds (barrier-gate, heartbeat, access-cloud), or seconds
where a fixture writes them wrongly on purpose: those stay in their unit."""

_ISO: Final = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
_EPOCH_MS: Final = range(10**12, 10**13)
_EPOCH_S: Final = range(10**9, 10**10)


def fixtures_shift(ending: datetime) -> timedelta:
    """How far to move fixture times so that `FIXTURES_END` falls at `ending` (whole seconds,
    so every format moves alike)."""
    return timedelta(seconds=(ending - FIXTURES_END) // timedelta(seconds=1))


def redate(payload: bytes, shift: timedelta) -> bytes:
    """`payload` with every time it carries moved by `shift`; other bytes mean the same.

    Only well-formed times move: a payload that is not JSON, or a time a fixture breaks on
    purpose (no offset, a clock reset to 1970, a month 13), comes back as it was. A payload
    with any time moved is encoded again (UTF-8 JSON; key order kept).
    """
    try:
        document = json.loads(payload)
    except (ValueError, RecursionError):
        return payload
    moved = _move(document, shift)
    if moved == document:
        return payload
    try:
        return json.dumps(moved, ensure_ascii=False).encode()
    except UnicodeEncodeError:  # lone surrogates can only travel escaped
        return json.dumps(moved).encode()


def redate_fixture(payload: bytes, ending: datetime) -> bytes:
    """A fixture moved so that its event times lie before `ending` (within two days of it)."""
    return redate(payload, fixtures_shift(ending))


def _move(value: object, shift: timedelta, key: str | None = None) -> object:
    if isinstance(value, dict):
        return {name: _move(item, shift, name) for name, item in value.items()}
    if isinstance(value, list):
        return [_move(item, shift, key) for item in value]
    if key in ISO_KEYS and isinstance(value, str) and _ISO.fullmatch(value):
        return _iso(value, shift)
    if key in COMPACT_KEYS and isinstance(value, str):
        return _compact(value, shift)
    if key in EPOCH_KEYS and not isinstance(value, bool):
        if isinstance(value, int):
            return _epoch(value, shift)
        if isinstance(value, str) and value.isascii() and value.isdigit():
            return str(_epoch(int(value), shift))
    return value


def _iso(text: str, shift: timedelta) -> str:
    moment = datetime.fromisoformat(text)
    moved = (moment + shift).isoformat()
    if text.endswith("Z"):
        moved = moved.removesuffix("+00:00") + "Z"
    return moved


def _compact(text: str, shift: timedelta) -> str:
    try:
        moment = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return text
    return (moment + shift).strftime("%Y%m%d%H%M%S")


def _epoch(value: int, shift: timedelta) -> int:
    if value in _EPOCH_MS:
        return value + shift // timedelta(milliseconds=1)
    if value in _EPOCH_S:
        return value + shift // timedelta(seconds=1)
    return value
