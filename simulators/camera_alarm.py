"""Behaviour-analysis alarms from the lift-lobby and fire-lane cameras.

Payload contract (what `adapters.camera_alarm` parses; see `tests/adapters/fixtures/camera_alarm`):
one JSON object per alarm on `{community}/camera-alarm/{device_id}`, keys in this order::

    {"alarmId": "HK20261126080000000101", "deviceId": "43011200001310200001", "channelNo": 1,
     "eventType": "fireEscapeDetection", "eventDescription": "消防通道占用",
     "alarmTime": "2026-11-26T08:00:00+08:00", "confidence": 92, "zone": "B01 north fire lane",
     "picUrl": "http://10.43.x.y/picture/20261126/080000_0101.jpg"}

`alarmId` is `HK`, the local time to the second and a six-digit sequence per camera, so it is
unique; `alarmTime` is China Standard Time with its offset; `confidence` is a percentage. The
event types are the vendor's own names (`electricBicycleDetection`, ...), which the adapter maps.

`AlarmStream` raises about `alarms_per_hour` alarms over all behaviour cameras: lift lobbies see
e-bikes wheeled towards the lift, now and then loitering or a crowd; fire lanes see parked
cars, sometimes something thrown from a height, an intrusion or smoke.
"""

import json
import random
from dataclasses import dataclass
from datetime import datetime

from schemas.times import CHINA_STANDARD_TIME as CST
from simulators.community import CAMERA_ALARM_DIALECT, Community, Device
from simulators.hik_isapi import device_network
from simulators.traffic import PlannedStream, SimMessage, local_iso, weighted


@dataclass(frozen=True, slots=True)
class AlarmType:
    """A vendor alarm type and its description, as the camera sends both."""

    event_type: str
    description: str
    canonical: str
    """What `adapters.camera_alarm` maps it to (for tests and readers)."""


EBIKE = AlarmType("electricBicycleDetection", "电动车进电梯", "ebike_in_elevator")
LOITERING = AlarmType("loiteringDetection", "徘徊", "loitering")
CROWD = AlarmType("peopleGathering", "人员聚集", "crowd")
FIRE_LANE = AlarmType("fireEscapeDetection", "消防通道占用", "fire_lane_occupied")
THROW = AlarmType("highAltitudeParabolic", "高空抛物", "high_altitude_throw")
INTRUSION = AlarmType("fieldDetection", "区域入侵", "intrusion")
SMOKE = AlarmType("smokeDetection", "烟火检测", "smoke_or_fire")

LIFT_LOBBY_ALARMS: tuple[tuple[AlarmType, float], ...] = (
    (EBIKE, 88.0),
    (LOITERING, 7.0),
    (CROWD, 5.0),
)
FIRE_LANE_ALARMS: tuple[tuple[AlarmType, float], ...] = (
    (FIRE_LANE, 70.0),
    (THROW, 15.0),
    (INTRUSION, 10.0),
    (SMOKE, 5.0),
)
LIFT_LOBBY_SHARE = 0.6
"""Share of alarms from lift-lobby cameras (the rest from fire-lane cameras)."""


def alarm_topic(community_code: str, device_id: str) -> str:
    """The topic a camera publishes alarms on: `{community}/camera-alarm/{device_id}`."""
    return f"{community_code}/{CAMERA_ALARM_DIALECT}/{device_id}"


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm: the ground truth of one message."""

    device: Device
    moment: datetime
    serial: int
    alarm_type: AlarmType
    confidence: int


def alarm_payload(alarm: Alarm) -> bytes:
    """The alarm as the camera's JSON (see the module docstring)."""
    local = alarm.moment.astimezone(CST)
    ip, _ = device_network(alarm.device.device_id)
    document = {
        "alarmId": f"HK{local:%Y%m%d%H%M%S}{alarm.serial % 1_000_000:06d}",
        "deviceId": alarm.device.device_id,
        "channelNo": 1,
        "eventType": alarm.alarm_type.event_type,
        "eventDescription": alarm.alarm_type.description,
        "alarmTime": local_iso(alarm.moment),
        "confidence": alarm.confidence,
        "zone": alarm.device.location or alarm.device.device_id,
        "picUrl": f"http://{ip}/picture/{local:%Y%m%d}/{local:%H%M%S}_{alarm.serial:06d}.jpg",
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


class AlarmStream(PlannedStream):
    """Behaviour alarms, about `alarms_per_hour` of them over every camera-alarm camera."""

    def __init__(
        self,
        community: Community,
        rng: random.Random,
        start: datetime,
        alarms_per_hour: float = 2.0,
    ) -> None:
        super().__init__(rng, start, alarms_per_hour)
        cameras = community.devices_of(CAMERA_ALARM_DIALECT)
        if not cameras:
            raise ValueError("the community has no behaviour-analysis cameras")
        self._lobbies = tuple(d for d in cameras if d.unit is not None)
        self._lanes = tuple(d for d in cameras if d.unit is None)
        self._topics = {d.device_id: alarm_topic(community.code, d.device_id) for d in cameras}
        self._serials = {d.device_id: rng.randint(100, 5_000) for d in cameras}

    def arrive(self, at: float) -> None:
        rng = self.rng
        lobby = bool(self._lobbies) and (not self._lanes or rng.random() < LIFT_LOBBY_SHARE)
        if lobby:
            device = rng.choice(self._lobbies)
            alarm_type = weighted(rng, LIFT_LOBBY_ALARMS)
        else:
            device = rng.choice(self._lanes)
            alarm_type = weighted(rng, FIRE_LANE_ALARMS)
        confidence = rng.randint(75, 99)
        self.plan(at, lambda moment: self._message(device, moment, alarm_type, confidence))

    def _message(
        self, device: Device, moment: datetime, alarm_type: AlarmType, confidence: int
    ) -> SimMessage:
        self._serials[device.device_id] += 1
        alarm = Alarm(device, moment, self._serials[device.device_id], alarm_type, confidence)
        return SimMessage(
            moment,
            self._topics[device.device_id],
            alarm_payload(alarm),
            ("behaviour_alarm",),
            CAMERA_ALARM_DIALECT,
        )
