"""Canonical device events: what every dialect parses into and what the store keeps.

Events are frozen pydantic models in a discriminated union on `kind`, so the store, the rules
and the API handle one well-typed shape whatever vendor sent it. Personal data never appears
here in raw form: credentials are keyed hashes (see `schemas.privacy`). Identifiers refuse a
personal number, and names, picture references and plates are screened as every event is
built, whoever builds it: what breaks a rule is dropped and listed in `dropped_fields`
(`schemas.screening`, `schemas.identifiers`).
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    model_validator,
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
from schemas.identifiers import DeviceId, IdentifierText
from schemas.screening import IP_ADDRESS, NAME, REFERENCE, DroppedField, Plate, screen


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

MAX_READER: Final = 65_535
"""The highest card-reader number an access event may carry (controllers number a handful)."""

Name = Annotated[str | None, NAME]
"""A label (door, zone, lane, house...): dropped when `schemas.identifiers.name_problem` says so."""
Reference = Annotated[str | None, REFERENCE]
"""A picture's URL, as `schemas.image_urls.judge_image_url` keeps it (or drops it, listed)."""
IpAddress = Annotated[str | None, IP_ADDRESS]
"""A device's reported address, canonical, as `schemas.screening.judge_ip` keeps it (or drops it,
listed)."""

DERIVED_FIELDS: Final = frozenset(
    {"plate_standard", "dropped_fields", "subject_key", "person_id", "vehicle_registered"}
)
"""Fields the gateway fills itself (the screen, the resolution step, a read): no adapter or
mapping sets them."""

SubjectKey = Annotated[str | None, Field(default=None, pattern=r"^s1:[0-9a-f]{32}$")]
"""Whoever holds the event's credential (or a camera's stranger track), as a stable pseudonym
of the community (`schemas.privacy.subject_key`); set by the gateway's resolution step."""
PersonLink = Annotated[
    str | None,
    Field(
        default=None,
        description="The person the credential resolves to at the event's time,"
        " filled when the event is read (null when unresolved); never stored.",
    ),
]


class EventBase(BaseModel):
    """Fields every event shares, whatever its kind and dialect."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    event_id: str = Field(min_length=8, max_length=64)
    """The event's id: stable, so a message delivered twice is stored once."""
    community: IdentifierText = Field(min_length=1, max_length=64)
    """The community code of the device (`yida`)."""
    device_id: DeviceId
    """The registered device that reported it."""
    occurred_at: UtcDatetime
    """When it happened, by the device's clock, in UTC."""
    received_at: UtcDatetime
    """When the gateway received the message, in UTC."""
    dialect: str = Field(min_length=1, max_length=64)
    """The vendor protocol the message came in (`hik_isapi`, `gat1400`, ...)."""
    building: Name = None
    """The building, from the device's registration."""
    unit: Name = None
    """The unit (stairwell) of the building, from the device's registration."""
    gate: Name = Field(default=None, description="The community gate, for gate devices.")
    unregistered_device: bool = False
    """True when the device is not in the registry (accepted under the accept policy)."""
    dropped_fields: tuple[DroppedField, ...] = Field(
        default=(),
        description="Fields left empty because their text broke a rule (the values are not kept).",
    )

    @model_validator(mode="before")
    @classmethod
    def _screen_text(cls, data: Any) -> Any:
        """Names, references and plates are screened before the event exists."""
        return screen(cls, data) if isinstance(data, dict) else data


class AccessEvent(EventBase):
    """A person passing (or failing to pass) a controlled door or gate."""

    kind: Literal["access"] = "access"
    direction: Direction
    method: OpenMethod
    result: AccessResult
    door: Name = None
    reader: Annotated[int, Field(ge=0, le=MAX_READER)] | None = None
    """The card reader's number on its controller (a small code: a long number here could be an
    ID number a careless mapping put in the wrong field)."""
    credential: str | None = Field(
        default=None, description="Keyed hash of the card or employee number; never the raw value."
    )
    vendor_code: IdentifierText = Field(description="The device's own event code, kept for audits.")
    subject_key: SubjectKey = None
    person_id: PersonLink = None


class DoorStateEvent(EventBase):
    """A door sensor change; forced and held-open doors drive the door rules."""

    kind: Literal["door_state"] = "door_state"
    state: DoorState
    door: Name = None
    vendor_code: IdentifierText


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
    track_id: Name = None
    age_min: int | None = Field(default=None, ge=0, le=150)
    age_max: int | None = Field(default=None, ge=0, le=150)
    gender: Gender | None = None
    image_url: Reference = None
    source_id: Name = Field(default=None, description="The device's id of the capture.")
    subject_key: SubjectKey = None
    person_id: PersonLink = None


class VehiclePass(EventBase):
    """A vehicle seen at a barrier gate or by a capture camera."""

    kind: Literal["vehicle_pass"] = "vehicle_pass"
    plate_no: Annotated[str | None, Plate(presence_field="has_plate")] = None
    has_plate: bool = True
    plate_standard: bool | None = Field(
        default=None,
        description="Whether the plate follows the GA 36 grammar; None when there is no plate.",
    )
    plate_color: PlateColor = "unknown"
    vehicle_class: Name = None
    vehicle_color: Name = None
    direction: Direction = "unknown"
    lane: Name = None
    confidence: float | None = Field(default=None, ge=0, le=1)
    image_url: Reference = None
    vehicle_registered: bool | None = Field(
        default=None,
        description="Whether the plate is a registered resident's vehicle, filled when the event"
        " is read (null without a plate); never stored.",
    )


class BehaviourAlarm(EventBase):
    """A camera's behaviour analysis raised an alarm (fire lane blocked, object thrown...)."""

    kind: Literal["behaviour_alarm"] = "behaviour_alarm"
    alarm_type: BehaviourAlarmType
    original_type: Name = Field(
        default=None, description="The vendor's own type, kept when it mapped to `other`."
    )
    confidence: float | None = Field(default=None, ge=0, le=1)
    zone: Name = None
    image_url: Reference = None


class VisitorEvent(EventBase):
    """A visit registered, checked in or out, or cancelled; one event per visitor.

    The visitor's identity exists only as a keyed hash and masked forms: raw ID numbers,
    names and phones never leave the adapter.
    """

    kind: Literal["visitor"] = "visitor"
    action: VisitorAction
    visit_id: IdentifierText
    visitor_ref: str | None = None
    id_type: IdType | None = None
    id_masked: str | None = None
    name_masked: str | None = None
    phone_masked: str | None = None
    host_house: Name = None
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    purpose: VisitPurpose | None = None
    plate_no: Annotated[str | None, Plate()] = None
    plate_standard: bool | None = Field(
        default=None,
        description="Whether the plate follows the GA 36 grammar; None when there is no plate.",
    )
    subject_key: SubjectKey = None
    person_id: PersonLink = None


class DeviceStatusEvent(EventBase):
    """A device came online, went offline (often its MQTT last will) or sent a heartbeat."""

    kind: Literal["device_status"] = "device_status"
    status: DeviceStatus
    firmware: Name = None
    ip: IpAddress = None
    time_source: Literal["device", "arrival"] = Field(
        default="device",
        description="Whose clock `occurred_at` is: the device's own, or the gateway's at the"
        " message's arrival (a last will, a status without a time).",
    )


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
