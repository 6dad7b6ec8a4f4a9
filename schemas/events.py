"""Canonical device events: what every dialect parses into and what the store keeps.

Events are frozen pydantic models in a discriminated union on `kind`, so the store, the rules
and the API handle one well-typed shape whatever vendor sent it. Personal data never appears
here in raw form: credentials are keyed hashes (see `gateway.privacy`).
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
)

from schemas.codes import (
    AccessResult,
    BehaviourAlarmType,
    DeviceStatus,
    Direction,
    DoorState,
    Gender,
    IdType,
    OpenMethod,
    PlateColor,
    VisitorAction,
    VisitPurpose,
)


def _to_utc(value: datetime) -> datetime:
    """Normalise to UTC so comparisons, storage and cursors never depend on the device's offset."""
    try:
        return value.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 shifted past the calendar: invalid, not a crash
        raise ValueError("date-time is out of range in UTC") from None


UtcDatetime = Annotated[
    AwareDatetime,
    AfterValidator(_to_utc),
    PlainSerializer(datetime.isoformat, return_type=str, when_used="json"),
]
"""A timezone-aware instant, held in UTC and written `…+00:00`; naive input is rejected."""


class EventBase(BaseModel):
    """Fields every event shares, whatever its kind and dialect."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str = Field(min_length=8, max_length=64)
    community: str = Field(min_length=1, max_length=64)
    device_id: str = Field(min_length=1, max_length=64)
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    dialect: str = Field(min_length=1, max_length=64)
    building: str | None = None
    unit: str | None = None
    gate: str | None = Field(default=None, description="The community gate, for gate devices.")
    unregistered_device: bool = False


class AccessEvent(EventBase):
    """A person passing (or failing to pass) a controlled door or gate."""

    kind: Literal["access"] = "access"
    direction: Direction
    method: OpenMethod
    result: AccessResult
    door: str | None = None
    reader: int | None = None
    credential: str | None = Field(
        default=None, description="Keyed hash of the card or employee number; never the raw value."
    )
    vendor_code: str = Field(description="The device's own event code, kept for audits.")


class DoorStateEvent(EventBase):
    """A door sensor change; forced and held-open doors drive the door rules."""

    kind: Literal["door_state"] = "door_state"
    state: DoorState
    door: str | None = None
    vendor_code: str


class FaceCapture(EventBase):
    """A face seen by a camera or face terminal; the image stays with the device (URL only)."""

    kind: Literal["face_capture"] = "face_capture"
    matched_person_ref: str | None = Field(
        default=None, description="The device's own match; a keyed hash when it is an ID number."
    )
    matched_id_masked: str | None = None
    similarity: float | None = Field(default=None, ge=0, le=1)
    stranger: bool = False
    suspicious: Literal["no", "yes", "unsure"] | None = None
    track_id: str | None = None
    age_min: int | None = Field(default=None, ge=0, le=150)
    age_max: int | None = Field(default=None, ge=0, le=150)
    gender: Gender | None = None
    image_url: str | None = None
    source_id: str | None = Field(default=None, description="The device's id of the capture.")


class VehiclePass(EventBase):
    """A vehicle seen at a barrier gate or by a capture camera."""

    kind: Literal["vehicle_pass"] = "vehicle_pass"
    plate_no: str | None = None
    has_plate: bool = True
    plate_color: PlateColor = "unknown"
    vehicle_class: str | None = None
    vehicle_color: str | None = None
    direction: Direction = "unknown"
    lane: str | None = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    image_url: str | None = None


class BehaviourAlarm(EventBase):
    """A camera's behaviour analysis raised an alarm (fire lane blocked, object thrown...)."""

    kind: Literal["behaviour_alarm"] = "behaviour_alarm"
    alarm_type: BehaviourAlarmType
    original_type: str | None = Field(
        default=None, description="The vendor's own type, kept when it mapped to `other`."
    )
    confidence: float | None = Field(default=None, ge=0, le=1)
    zone: str | None = None
    image_url: str | None = None


class VisitorEvent(EventBase):
    """A visit registered, checked in or out, or cancelled; one event per visitor.

    The visitor's identity exists only as a keyed hash and masked forms: raw ID numbers,
    names and phones never leave the adapter.
    """

    kind: Literal["visitor"] = "visitor"
    action: VisitorAction
    visit_id: str
    visitor_ref: str | None = None
    id_type: IdType | None = None
    id_masked: str | None = None
    name_masked: str | None = None
    phone_masked: str | None = None
    host_house: str | None = None
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    purpose: VisitPurpose | None = None
    plate_no: str | None = None


class DeviceStatusEvent(EventBase):
    """A device came online, went offline (often its MQTT last will) or sent a heartbeat."""

    kind: Literal["device_status"] = "device_status"
    status: DeviceStatus
    firmware: str | None = None
    ip: str | None = None


DeviceEvent = Annotated[
    AccessEvent
    | DoorStateEvent
    | FaceCapture
    | VehiclePass
    | BehaviourAlarm
    | VisitorEvent
    | DeviceStatusEvent,
    Field(discriminator="kind"),
]
"""Any canonical event; dispatch on `kind`."""

EventKind = Literal[
    "access",
    "door_state",
    "face_capture",
    "vehicle_pass",
    "behaviour_alarm",
    "visitor",
    "device_status",
]

device_event_adapter: TypeAdapter[DeviceEvent] = TypeAdapter(DeviceEvent)
"""Validates stored or serialised events back into their model."""
