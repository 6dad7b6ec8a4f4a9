"""Camera behaviour-analysis alarms: one JSON object per alarm, pushed by the camera or its NVR.

Community cameras analyse their own video (fire lane blocked, object thrown from a height,
e-bike wheeled into a lift, ...) and publish each alarm on `{community}/camera-alarm/{device}`:

    {
      "alarmId": "HK20261126080000000101",
      "deviceId": "34020000001320000101",
      "channelNo": 1,
      "eventType": "fireEscapeDetection",
      "eventDescription": "消防通道占用",
      "alarmTime": "2026-11-26T08:00:00+08:00",
      "confidence": 92,
      "zone": "B03 north fire lane",
      "picUrl": "http://10.1.2.30/picture/20261126/080000_0101.jpg"
    }

`eventType` and `alarmTime` (ISO 8601 with an offset) are required; `alarmId`, `deviceId`,
`confidence` (a percentage, 0-100), `zone` and `picUrl` are optional; anything else is ignored,
so an inline picture (`picData`, base64) never leaves this module.

`ALARM_TYPES` maps the vendors' type names to `BehaviourAlarm.alarm_type`; matching ignores
case and punctuation, so `fireEscapeDetection`, `FIRE_ESCAPE_DETECTION` and `fire-lane-occupied`
all find their row. Unlike a door code, an unknown alarm type is still worth a look by a person:
it becomes `other`, keeping the vendor's type in `original_type` (cut to a short plain token,
since free text from a device may be anything, card or phone numbers included).

The zone is a name (`schemas.screening`): trimmed, and dropped (listed in `dropped_fields`,
the alarm kept) when it holds control characters, markup, an ID or mobile number, or more
than 64 characters. `picUrl` is passed on as sent: the event's screen keeps or drops it, the
same as for every dialect (`schemas.image_urls`). A camera id holding one
refuses the alarm (`pii_in_identifier`).
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, ClassVar, Final

from pydantic import AfterValidator, BaseModel, Field

from adapters.base import (
    RawMessage,
    ShownValue,
    decode_json_object,
    event_header,
    fast_path,
    resolve_device_id,
    stable_event_id,
    validate,
)
from adapters.fields import (
    DIGIT_RUN,
    STRICT_PAYLOAD,
    Identifier,
    ImageUrl,
    Text,
    encodable,
    is_safe_token,
    text_or_uint64,
)
from adapters.times import from_iso_with_offset
from schemas.codes import BehaviourAlarmType
from schemas.events import BehaviourAlarm, DeviceEvent
from schemas.privacy import Pseudonymizer
from schemas.screening import NAME, kept

DIALECT: Final = "camera-alarm"

ALARM_TYPES: Final[Mapping[str, BehaviourAlarmType]] = MappingProxyType(
    {
        # Fire lanes and escape routes blocked by parked cars or goods.
        "fireLaneOccupied": "fire_lane_occupied",
        "fireEscapeDetection": "fire_lane_occupied",
        "fireLaneBlocked": "fire_lane_occupied",
        "fireLaneParking": "fire_lane_occupied",
        "消防通道占用": "fire_lane_occupied",
        # Objects thrown or falling from a height (高空抛物).
        "highAltitudeThrow": "high_altitude_throw",
        "highAltitudeParabolic": "high_altitude_throw",
        "throwingObjectDetection": "high_altitude_throw",
        "高空抛物": "high_altitude_throw",
        # Electric bicycles taken into a lift (a fire risk when charged at home).
        "ebikeInElevator": "ebike_in_elevator",
        "electricBicycleDetection": "ebike_in_elevator",
        "electricBikeEnterElevator": "ebike_in_elevator",
        "电动车进电梯": "ebike_in_elevator",
        # Perimeter and region intrusion, line crossing included.
        "intrusion": "intrusion",
        "fieldDetection": "intrusion",
        "regionEntrance": "intrusion",
        "lineDetection": "intrusion",
        "区域入侵": "intrusion",
        "loitering": "loitering",
        "loiteringDetection": "loitering",
        "徘徊": "loitering",
        "smokeOrFire": "smoke_or_fire",
        "smokeDetection": "smoke_or_fire",
        "fireDetection": "smoke_or_fire",
        "smokeAndFireDetection": "smoke_or_fire",
        "烟火检测": "smoke_or_fire",
        "crowd": "crowd",
        "peopleGathering": "crowd",
        "crowdDetection": "crowd",
        "人员聚集": "crowd",
    }
)
"""Vendor type name -> canonical alarm type; the single place to teach the adapter a new name.

The canonical names themselves (`fire_lane_occupied`, ...) match too: matching ignores case
and punctuation. Line crossing counts as intrusion: in a residential community the lines drawn
are perimeter fences and closed areas, and the grid handles both the same way."""

MAX_CONFIDENCE: Final = 100
"""Confidence arrives as a percentage; the event holds a fraction."""

_MAX_EVENT_TYPE: Final = 128
_MAX_ALARM_ID: Final = 128
_MAX_ORIGINAL_TYPE: Final = 40
_NOT_TOKEN_CHAR: Final = re.compile(r"[^A-Za-z0-9_]+")


def _type_key(event_type: str) -> str:
    """What two spellings of one type share: letters and digits, case folded."""
    return "".join(char for char in event_type.casefold() if char.isalnum())


_ALARM_TYPE_BY_KEY: Final[Mapping[str, BehaviourAlarmType]] = MappingProxyType(
    {_type_key(name): alarm_type for name, alarm_type in ALARM_TYPES.items()}
    | {_type_key(alarm_type): alarm_type for alarm_type in ALARM_TYPES.values()}
)


def _names_a_type(value: str) -> str:
    """Refuse a type with nothing to match on (empty, blank, only punctuation)."""
    if not _type_key(value):
        raise ValueError("must contain a letter or digit")
    return value


_EventType = Annotated[
    str,
    Field(min_length=1, max_length=_MAX_EVENT_TYPE),
    AfterValidator(encodable),
    AfterValidator(_names_a_type),
]
_AlarmId = Annotated[str | int, text_or_uint64(min_length=1, max_length=_MAX_ALARM_ID)]
"""Platforms number alarms as strings or as unsigned integers; either is only hashed."""


class _Alarm(BaseModel):
    """One alarm; `picData` (an inline image) and descriptions are deliberately not modelled."""

    model_config = STRICT_PAYLOAD

    event_type: _EventType = Field(alias="eventType")
    alarm_time: str = Field(alias="alarmTime")
    alarm_id: _AlarmId | None = Field(default=None, alias="alarmId")
    device_id: Identifier | None = Field(default=None, alias="deviceId")
    confidence: float | None = Field(
        default=None, ge=0, le=MAX_CONFIDENCE, allow_inf_nan=False, alias="confidence"
    )
    zone: Text | None = Field(default=None, alias="zone")
    pic_url: ImageUrl | None = Field(default=None, alias="picUrl")


class CameraAlarmAdapter:
    """Parses camera behaviour-analysis alarms into `BehaviourAlarm` events."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            "alarmId": "id",
            "deviceId": "device_id",
            "channelNo": "code",
            "eventType": frozenset(ALARM_TYPES),
            "alarmTime": "time",
            "confidence": "number",
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer  # alarms carry no personal identifiers to hash

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one alarm a message carries, or `PayloadError` naming why there is none."""
        alarm = _alarm(message.payload)
        when = from_iso_with_offset(alarm.alarm_time, "alarmTime")
        device_id = resolve_device_id(message, alarm.device_id, prefer="topic")
        if alarm.alarm_id is not None:
            event_id = stable_event_id(
                DIALECT, device_id, "alarm", str(alarm.alarm_id), when.isoformat()
            )
        else:  # one camera raises one alarm of a type per zone at a time
            zone_id = kept(NAME, alarm.zone) or ""  # never a hash of a dropped zone name
            event_id = stable_event_id(
                DIALECT, device_id, "type", alarm.event_type, when.isoformat(), zone_id
            )
        alarm_type = _ALARM_TYPE_BY_KEY.get(_type_key(alarm.event_type), "other")
        header = event_header(
            message, dialect=DIALECT, device_id=device_id, event_id=event_id, occurred_at=when
        )
        return [
            BehaviourAlarm(
                **header,
                alarm_type=alarm_type,
                original_type=_original_type(alarm.event_type) if alarm_type == "other" else None,
                confidence=None if alarm.confidence is None else alarm.confidence / MAX_CONFIDENCE,
                zone=alarm.zone,
                image_url=alarm.pic_url,
            )
        ]


def _alarm(payload: bytes) -> _Alarm:
    """The alarm, validated in one pass from bytes when it is valid (the common case);
    otherwise decoded first, so the dead letter says whether the JSON or the schema is wrong."""
    alarm = fast_path(_Alarm.model_validate_json, payload)
    return alarm if alarm is not None else validate(_Alarm, decode_json_object(payload))


def _original_type(event_type: str) -> str | None:
    """The vendor's type as a short plain token, or None when nothing plain is left of it.

    A safe token is kept as sent; anything else keeps only ASCII letters, digits and `_`, and
    loses runs of four or more digits (a card, phone or ID number must not ride along).
    """
    if is_safe_token(event_type):
        return event_type
    cleaned = DIGIT_RUN.sub("", _NOT_TOKEN_CHAR.sub("", event_type))
    return cleaned[:_MAX_ORIGINAL_TYPE] or None
