"""Every time format the dialects accept, and the times that test the plausibility window.

Shared by the pipeline's specification (`test_pipeline.py`, arrival time injected) and the
end-to-end one (`test_plausible_time.py`, a real gateway process). A `TimeFormat` writes an
instant, or a raw value, into a valid message of its dialect; `CASES` are the instants
around the window, relative to the arrival time, and `EXTREMES` the raw values at the ends of
the calendar (year 1, year 9999) that a format can carry, with the dead-letter reason each
must get: `implausible_time` when it converts to UTC, `bad_time` when it cannot.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from schemas.times import CHINA_STANDARD_TIME as CST

ROOT = Path(__file__).parents[2]
FIXTURES = ROOT / "tests" / "adapters" / "fixtures"
DEVICE = "43011200001329999999"
MIN_EPOCH_MS = -62_135_596_800_000  # 0001-01-01T00:00:00Z
MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z

MAPPING_DIALECTS = """
[[dialects]]
name = "stamp-s"
topic = "stamp-s/{community}/{device_id}"
kind = "device_status"
[dialects.fields]
occurred_at = { path = "t", format = "epoch_s" }
status = { const = "heartbeat" }

[[dialects]]
name = "stamp-local"
topic = "stamp-local/{community}/{device_id}"
kind = "device_status"
[dialects.fields]
occurred_at = { path = "t", format = "%Y-%m-%d %H:%M:%S", timezone = "Asia/Shanghai" }
status = { const = "heartbeat" }
"""
"""Two mapping dialects for the formats the example files do not use: epoch seconds, and a
strptime pattern read in a named zone."""

MAPPING_CONFIG = "\n".join(
    [
        (ROOT / "config" / "mapping-acme-door.toml").read_text(encoding="utf-8"),
        (ROOT / "config" / "mapping-parkline-gate.toml").read_text(encoding="utf-8"),
        MAPPING_DIALECTS,
    ]
)
"""The `[[dialects]]` tables every mapping format below needs."""


def _iso(moment: datetime) -> str:
    return moment.astimezone(CST).isoformat()


def _compact(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y%m%d%H%M%S")


def _epoch_ms(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _epoch_s(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(seconds=1)


def _local(moment: datetime) -> str:
    return moment.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")


@dataclass(frozen=True)
class TimeFormat:
    """One dialect's way of writing an event time, in one valid message of that dialect."""

    name: str
    topic: str
    fixture: str | None
    """`folder/name` of the adapter fixture the message starts from (None: `{}`)."""
    path: tuple[str | int, ...]
    """Where the time goes in the JSON document."""
    render: Callable[[datetime], object]
    extremes: Mapping[str, tuple[object, str]]
    """Raw values at the calendar's ends: name -> (value, dead-letter reason)."""
    device_paths: tuple[tuple[str | int, ...], ...] = ()
    """Where the payload names a device: set to the topic's `DEVICE`, the sender speaks for
    itself (a device speaks only for itself, see `gateway.pipeline.CheckSender`)."""

    def message(self, value: object) -> tuple[str, bytes]:
        """(topic, payload) of the message with `value` as its event time, as written."""
        document: Any = {}
        if self.fixture is not None:
            document = json.loads((FIXTURES / f"{self.fixture}.json").read_bytes())
        for path, new in [(self.path, value), *((p, DEVICE) for p in self.device_paths)]:
            target = document
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = new
        return self.topic, json.dumps(document, ensure_ascii=False).encode()

    def at(self, moment: datetime) -> tuple[str, bytes]:
        """(topic, payload) of the message with `moment` as its event time."""
        return self.message(self.render(moment))


ISO_EXTREMES = {
    "year 1": ("0001-01-01T12:00:00+08:00", "implausible_time"),
    "year 1 before UTC exists": ("0001-01-01T00:00:00+08:00", "bad_time"),
    "year 9999": ("9999-12-31T23:59:59+08:00", "implausible_time"),
    "year 9999 after UTC ends": ("9999-12-31T23:59:59-01:00", "bad_time"),
}
COMPACT_EXTREMES = {
    "year 1": ("00010101120000", "implausible_time"),
    "year 1 before UTC exists": ("00010101000000", "bad_time"),
    "year 9999": ("99991231235959", "implausible_time"),
}
EPOCH_MS_EXTREMES = {
    "year 1": (MIN_EPOCH_MS, "implausible_time"),
    "before year 1": (MIN_EPOCH_MS - 1, "bad_time"),
    "year 9999": (MAX_EPOCH_MS, "implausible_time"),
    "after year 9999": (MAX_EPOCH_MS + 1, "bad_time"),
}
EPOCH_S_EXTREMES = {
    "year 1": (MIN_EPOCH_MS // 1000, "implausible_time"),
    "before year 1": (MIN_EPOCH_MS // 1000 - 1, "bad_time"),
    "year 9999": (MAX_EPOCH_MS // 1000, "implausible_time"),
    "after year 9999": (MAX_EPOCH_MS // 1000 + 1, "bad_time"),
}
LOCAL_EXTREMES = {
    "year 1": ("0001-01-01 12:00:00", "implausible_time"),
    "year 1 before UTC exists": ("0001-01-01 00:00:00", "bad_time"),
    "year 9999": ("9999-12-31 23:59:59", "implausible_time"),
}

FORMATS = (
    TimeFormat(
        "hik-isapi dateTime (ISO 8601)",
        f"yida/hik-isapi/{DEVICE}",
        "hik_isapi/card_granted",
        ("dateTime",),
        _iso,
        ISO_EXTREMES,
    ),
    TimeFormat(
        "camera-alarm alarmTime (ISO 8601)",
        f"yida/camera-alarm/{DEVICE}",
        "camera_alarm/minimal",
        ("alarmTime",),
        _iso,
        ISO_EXTREMES,
    ),
    TimeFormat(
        "visitor-cloud eventTime (ISO 8601)",
        f"yida/visitor-cloud/{DEVICE}",
        "visitor_cloud/checkin_by_index",
        ("eventTime",),
        _iso,
        ISO_EXTREMES,
        (("gateDeviceId",),),
    ),
    TimeFormat(
        "gat1400 FaceAppearTime (YYYYMMDDhhmmss, CST)",
        f"yida/gat1400/{DEVICE}",
        "gat1400/face_matched",
        ("FaceListObject", "FaceObject", 0, "FaceAppearTime"),
        _compact,
        COMPACT_EXTREMES,
        (("FaceListObject", "FaceObject", 0, "DeviceID"),),
    ),
    TimeFormat(
        "gat1400 PassTime (YYYYMMDDhhmmss, CST)",
        f"yida/gat1400/{DEVICE}",
        "gat1400/vehicle_blue",
        ("MotorVehicleListObject", "MotorVehicleObject", 0, "PassTime"),
        _compact,
        COMPACT_EXTREMES,
        (("MotorVehicleListObject", "MotorVehicleObject", 0, "DeviceID"),),
    ),
    TimeFormat(
        "access-cloud openTime (epoch ms)",
        f"yida/access-cloud/{DEVICE}",
        "access_cloud/card_granted",
        ("openTime",),
        _epoch_ms,
        EPOCH_MS_EXTREMES,
        (("thingCode",),),
    ),
    TimeFormat(
        "barrier-gate ts (epoch ms)",
        f"yida/barrier-gate/{DEVICE}",
        "barrier_gate/in_blue",
        ("ts",),
        _epoch_ms,
        EPOCH_MS_EXTREMES,
        (("gateId",),),
    ),
    TimeFormat(
        "heartbeat ts (epoch ms)",
        f"yida/heartbeat/{DEVICE}",
        "heartbeat/heartbeat",
        ("ts",),
        _epoch_ms,
        EPOCH_MS_EXTREMES,
    ),
    TimeFormat(
        "mapping iso8601 (acme-door)",
        f"acme/yida/{DEVICE}/event",
        "hik_isapi/card_granted",
        ("dateTime",),
        _iso,
        ISO_EXTREMES,
    ),
    TimeFormat(
        "mapping epoch_ms (parkline-gate)",
        f"parkline/yida/{DEVICE}/plate",
        "mapping/parkline/in_blue",
        ("ts",),
        _epoch_ms,
        EPOCH_MS_EXTREMES,
        (("gateId",),),
    ),
    TimeFormat(
        "mapping epoch_s", f"stamp-s/yida/{DEVICE}", None, ("t",), _epoch_s, EPOCH_S_EXTREMES
    ),
    TimeFormat(
        "mapping strptime in Asia/Shanghai",
        f"stamp-local/yida/{DEVICE}",
        None,
        ("t",),
        _local,
        LOCAL_EXTREMES,
    ),
)

REFUSED = {
    "11 minutes ahead": timedelta(minutes=11),
    "far in the future": timedelta(days=5 * 366),
    "181 days old": -timedelta(days=181),
}
"""Offsets from the arrival that make an event `implausible_time`."""
ACCEPTED = {
    "9 minutes ahead": timedelta(minutes=9),
    "a minute old": -timedelta(minutes=1),
    "179 days old": -timedelta(days=179),
}
"""Offsets from the arrival inside the window: stored."""
