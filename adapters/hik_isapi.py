"""Hikvision access controllers: ISAPI `AccessControllerEvent` notifications pushed as JSON.

A controller names each event by a (major, minor) code pair. `EVENT_CODES` maps the pairs we
understand to canonical events; any other pair is refused, not guessed, so a firmware that
starts sending new codes shows up as counted dead letters instead of silently wrong data.
Card and employee numbers leave this module only as keyed hashes, and names not at all. A
device id (the topic's, else `deviceID`) holding an ID or mobile number is refused
(`pii_in_identifier`).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, ClassVar, Final, Literal

from pydantic import BaseModel, Field

from adapters.base import (
    RawMessage,
    ShownValue,
    checked_event,
    decode_json_object,
    event_header,
    fast_path,
    payload_event_id,
    resolve_device_id,
    stable_event_id,
    validate,
)
from adapters.fields import STRICT_PAYLOAD, Text, UInt32, is_safe_token
from adapters.times import from_iso_with_offset
from schemas.codes import AccessResult, Direction, DoorState, OpenMethod
from schemas.errors import PayloadError
from schemas.events import MAX_READER, AccessEvent, DeviceEvent, DoorStateEvent
from schemas.privacy import Pseudonymizer, credential_ref

DIALECT: Final = "hik-isapi"

EVENT_MAJOR: Final = 5
"""Hikvision's major type for access events (1 is alarm, 2 exception, 3 operation)."""


@dataclass(frozen=True, slots=True)
class AccessCode:
    """A code that reports a verification attempt: how the person tried, and whether it worked."""

    description: str
    method: OpenMethod
    result: AccessResult
    direction: Direction = "unknown"
    """Used when the controller's attendance status does not say which way the person went."""


@dataclass(frozen=True, slots=True)
class DoorCode:
    """A code that reports the door sensor; there is no person, so no credential."""

    description: str
    state: DoorState


EVENT_CODES: Final[Mapping[tuple[int, int], AccessCode | DoorCode]] = MappingProxyType(
    {
        (EVENT_MAJOR, 0x01): AccessCode("valid card passed", "card", "granted"),
        (EVENT_MAJOR, 0x06): AccessCode("card has no permission", "card", "denied"),
        (EVENT_MAJOR, 0x09): AccessCode("card number unknown", "card", "denied"),
        (EVENT_MAJOR, 0x17): AccessCode("exit button pressed", "button", "granted", "out"),
        (EVENT_MAJOR, 0x19): DoorCode("door opened", "opened"),
        (EVENT_MAJOR, 0x1A): DoorCode("door closed", "closed"),
        (EVENT_MAJOR, 0x1B): DoorCode("door forced open", "forced_open"),
        (EVENT_MAJOR, 0x1C): DoorCode("door held open", "held_open"),
        (EVENT_MAJOR, 0x26): AccessCode("fingerprint matched", "fingerprint", "granted"),
        (EVENT_MAJOR, 0x27): AccessCode("fingerprint failed", "fingerprint", "denied"),
        (EVENT_MAJOR, 0x4B): AccessCode("face verified", "face", "granted"),
        (EVENT_MAJOR, 0x4C): AccessCode("face verification failed", "face", "denied"),
        (EVENT_MAJOR, 0x9C): AccessCode("QR code passed", "qr", "granted"),
        (EVENT_MAJOR, 0xB5): AccessCode("password passed", "password", "granted"),
        (EVENT_MAJOR, 0x400): AccessCode("remote open", "remote", "granted"),
    }
)
"""(major, minor) -> what the event means; the single place to teach the adapter a new code."""

_ATTENDANCE_DIRECTION: Final[Mapping[str, Direction]] = MappingProxyType(
    {"checkIn": "in", "checkOut": "out"}
)
_SUPPORTED_EVENT_TYPE: Final = "AccessControllerEvent"
EVENT_TYPES: Final = frozenset(
    {_SUPPORTED_EVENT_TYPE, "heartBeat", "videoloss", "VMD", "IO", "AccessControllerHeartbeat"}
)
"""ISAPI event types a dead letter may name (the one parsed and its usual neighbours)."""
VERIFY_MODES: Final = frozenset(
    {
        "card",
        "face",
        "fp",
        "qrCode",
        "cardOrFace",
        "cardAndFace",
        "cardOrFp",
        "cardAndFp",
        "faceOrFp",
        "cardAndPw",
        "employeeNoAndPw",
        "cardOrFaceOrFp",
        "invalid",
    }
)
"""ISAPI `currentVerifyMode` words a dead letter may name; the adapter does not read them."""


class _Envelope(BaseModel):
    """Just the event type: other types have other shapes, refused before they are validated."""

    model_config = STRICT_PAYLOAD

    event_type: str = Field(alias="eventType")


class _AccessDetail(BaseModel):
    """The `AccessControllerEvent` object; `name` is deliberately not modelled, so never kept."""

    model_config = STRICT_PAYLOAD

    major: UInt32 = Field(alias="majorEventType")
    minor: UInt32 = Field(alias="subEventType")
    serial_no: UInt32 | None = Field(default=None, alias="serialNo")
    card_no: Text | None = Field(default=None, alias="cardNo")
    employee_no: Text | None = Field(default=None, alias="employeeNoString")
    reader: Annotated[int, Field(ge=0, le=MAX_READER)] | None = Field(
        default=None, alias="cardReaderNo"
    )
    door: UInt32 | None = Field(default=None, alias="doorNo")
    attendance_status: str | None = Field(default=None, alias="attendanceStatus")


class _AccessNotification(BaseModel):
    """An access-controller notification: the envelope fields we use plus the event object."""

    model_config = STRICT_PAYLOAD

    date_time: str = Field(alias="dateTime")
    device_id: Text | None = Field(default=None, alias="deviceID")
    event: _AccessDetail = Field(alias="AccessControllerEvent")


class _AccessNotificationJson(_AccessNotification):
    """The fast path: a valid access notification validated straight from its bytes."""

    event_type: Literal["AccessControllerEvent"] = Field(alias="eventType")


class HikIsapiAdapter:
    """Parses Hikvision ISAPI access-controller notifications into canonical events."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            "eventType": EVENT_TYPES,
            "eventState": frozenset({"active", "inactive"}),
            "dateTime": "time",
            "deviceID": "device_id",
            "ipAddress": "ip",
            "channelID": "code",
            "AccessControllerEvent.majorEventType": "code",
            "AccessControllerEvent.subEventType": "code",
            "AccessControllerEvent.serialNo": "code",
            "AccessControllerEvent.cardReaderNo": "code",
            "AccessControllerEvent.doorNo": "code",
            "AccessControllerEvent.cardType": "code",
            "AccessControllerEvent.attendanceStatus": frozenset(
                {*_ATTENDANCE_DIRECTION, "undefined"}
            ),
            "AccessControllerEvent.currentVerifyMode": VERIFY_MODES,
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one event a notification carries, or `PayloadError` naming why there is none."""
        notification = _notification(message.payload)
        detail = notification.event
        code = EVENT_CODES.get((detail.major, detail.minor))
        if code is None:
            raise PayloadError(
                "unknown_code", f"major {detail.major} minor {detail.minor:#x} is not mapped"
            )
        when = from_iso_with_offset(notification.date_time, "dateTime")
        device_id = resolve_device_id(message, notification.device_id, prefer="topic")
        if detail.serial_no is None:
            event_id = payload_event_id(DIALECT, message)
        else:
            serial, minor = str(detail.serial_no), str(detail.minor)
            event_id = stable_event_id(DIALECT, device_id, serial, when.isoformat(), minor)
        door = None if detail.door is None else str(detail.door)
        vendor_code = f"{detail.major}/{detail.minor:#x}"
        header = event_header(
            message,
            dialect=DIALECT,
            device_id=device_id,
            event_id=event_id,
            occurred_at=when,
        )
        if isinstance(code, DoorCode):
            return [
                checked_event(
                    DoorStateEvent, header, state=code.state, door=door, vendor_code=vendor_code
                )
            ]
        return [
            checked_event(
                AccessEvent,
                header,
                direction=_direction(detail.attendance_status, code.direction),
                method=code.method,
                result=code.result,
                door=door,
                reader=detail.reader,
                credential=self._credential(detail),
                vendor_code=vendor_code,
            )
        ]

    def _credential(self, detail: _AccessDetail) -> str | None:
        """The card joins best across doors; the employee number is the fallback for faces."""
        if detail.card_no:
            return credential_ref(self._pseudonymizer, "card", detail.card_no)
        if detail.employee_no:
            return credential_ref(self._pseudonymizer, "employee_no", detail.employee_no)
        return None


def _notification(payload: bytes) -> _AccessNotification:
    """The notification, validated in one pass from bytes when it is valid (the common case);
    otherwise step by step, so the dead letter names the first thing wrong with it."""
    notification = fast_path(_AccessNotificationJson.model_validate_json, payload)
    if notification is not None:
        return notification
    document = decode_json_object(payload)
    event_type = validate(_Envelope, document).event_type
    if event_type != _SUPPORTED_EVENT_TYPE:
        raise PayloadError("unsupported_event", _describe_event_type(event_type))
    return validate(_AccessNotification, document)


def _describe_event_type(event_type: str) -> str:
    """Name the event type only when it is a short plain word, never arbitrary vendor text.

    Digit runs are refused too: a device that puts a card or ID number there must not leak it.
    """
    if is_safe_token(event_type):
        return f"event type {event_type!r} is not supported"
    return "unsupported event type"


def _direction(attendance_status: str | None, default: Direction) -> Direction:
    """The controller's check-in/check-out status wins; otherwise the code's own default."""
    if attendance_status is None:
        return default
    return _ATTENDANCE_DIRECTION.get(attendance_status, default)
