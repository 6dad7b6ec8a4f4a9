"""Canonical device events: what every dialect parses into and what the store keeps.

Events are frozen pydantic models in a discriminated union on `kind`, so the store, the rules
and the API handle one well-typed shape whatever vendor sent it. Personal data never appears
here in raw form: credentials are keyed hashes (see `schemas.privacy`). Identifiers refuse a
personal number, and names, picture references and plates are screened as every event is
built, whoever builds it: what breaks a rule is dropped and listed in `dropped_fields`
(`schemas.screening`, `schemas.identifiers`).
"""

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal, TypeVar

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
    """`access`."""
    direction: Direction
    """`in`, `out` or `unknown`."""
    method: OpenMethod
    """How the door was opened (`card`, `face`, `qr`, ...)."""
    result: AccessResult
    """`granted` or `denied`."""
    door: Name = None
    """The door, by the device's name for it."""
    reader: Annotated[int, Field(ge=0, le=MAX_READER)] | None = None
    """The card reader's number on its controller (a small code: a long number here could be an
    ID number a careless mapping put in the wrong field)."""
    credential: str | None = Field(
        default=None, description="Keyed hash of the card or employee number; never the raw value."
    )
    vendor_code: IdentifierText = Field(description="The device's own event code, kept for audits.")
    subject_key: SubjectKey = None
    """A stable pseudonym, within the community, of whoever holds the credential."""
    person_id: PersonLink = None


class DoorStateEvent(EventBase):
    """A door sensor change; forced and held-open doors drive the door rules."""

    kind: Literal["door_state"] = "door_state"
    """`door_state`."""
    state: DoorState
    """`opened`, `closed`, `forced_open` or `held_open`."""
    door: Name = None
    """The door, by the device's name for it."""
    vendor_code: IdentifierText
    """The device's own event code, kept for audits."""


class FaceCapture(EventBase):
    """A face seen by a camera or face terminal; the image stays with the device (URL only)."""

    kind: Literal["face_capture"] = "face_capture"
    """`face_capture`."""
    matched_person_ref: str | None = Field(
        default=None, description="The device's own match; a keyed hash when it is an ID number."
    )
    matched_id_masked: str | None = None
    """The matched person's ID number, masked, when the device matched one."""
    similarity: float | None = Field(default=None, ge=0, le=1)
    """The device's match score, 0 to 1."""
    stranger: bool = False
    """The device saw no registered face."""
    suspicious: Literal["no", "yes", "unsure"] | None = None
    """The device's own suspicion flag."""
    track_id: Name = None
    """The camera's track of the same face across captures."""
    age_min: int | None = Field(default=None, ge=0, le=150)
    """Estimated age, lower bound."""
    age_max: int | None = Field(default=None, ge=0, le=150)
    """Estimated age, upper bound."""
    gender: Gender | None = None
    """Estimated gender."""
    image_url: Reference = None
    """The capture image, on the device or its platform."""
    source_id: Name = Field(default=None, description="The device's id of the capture.")
    subject_key: SubjectKey = None
    """A stable pseudonym, within the community, of whoever holds the credential."""
    person_id: PersonLink = None


class VehiclePass(EventBase):
    """A vehicle seen at a barrier gate or by a capture camera."""

    kind: Literal["vehicle_pass"] = "vehicle_pass"
    """`vehicle_pass`."""
    plate_no: Annotated[str | None, Plate(presence_field="has_plate")] = None
    """The plate read, normalised; null without a plate."""
    has_plate: bool = True
    """False when the vehicle carried no readable plate."""
    plate_standard: bool | None = Field(
        default=None,
        description="Whether the plate follows the GA 36 grammar; None when there is no plate.",
    )
    plate_color: PlateColor = "unknown"
    """The plate's colour."""
    vehicle_class: Name = None
    """The vehicle's class, as the device names it."""
    vehicle_color: Name = None
    """The vehicle's colour, as the device names it."""
    direction: Direction = "unknown"
    """`in`, `out` or `unknown`."""
    lane: Name = None
    """The lane."""
    confidence: float | None = Field(default=None, ge=0, le=1)
    """The plate reading's confidence, 0 to 1."""
    image_url: Reference = None
    """The capture image, on the device or its platform."""
    vehicle_registered: bool | None = Field(
        default=None,
        description="Whether the plate is a registered resident's vehicle, filled when the event"
        " is read (null without a plate); never stored.",
    )


class BehaviourAlarm(EventBase):
    """A camera's behaviour analysis raised an alarm (fire lane blocked, object thrown...)."""

    kind: Literal["behaviour_alarm"] = "behaviour_alarm"
    """`behaviour_alarm`."""
    alarm_type: BehaviourAlarmType
    """What was seen (`fire_lane_occupied`, `high_altitude_throw`, ...)."""
    original_type: Name = Field(
        default=None, description="The vendor's own type, kept when it mapped to `other`."
    )
    confidence: float | None = Field(default=None, ge=0, le=1)
    """The analysis's confidence, 0 to 1."""
    zone: Name = None
    """The camera's zone."""
    image_url: Reference = None
    """The alarm image, on the device or its platform."""


class VisitorEvent(EventBase):
    """A visit registered, checked in or out, or cancelled; one event per visitor.

    The visitor's identity exists only as a keyed hash and masked forms: raw ID numbers,
    names and phones never leave the adapter.
    """

    kind: Literal["visitor"] = "visitor"
    """`visitor`."""
    action: VisitorAction
    """`registered`, `checked_in`, `checked_out` or `cancelled`."""
    visit_id: IdentifierText
    """The visitor system's id of the visit."""
    visitor_ref: str | None = None
    """A keyed hash of the visitor's identity; never the raw number."""
    id_type: IdType | None = None
    """The kind of identity document."""
    id_masked: str | None = None
    """The visitor's ID number, masked."""
    name_masked: str | None = None
    """The visitor's name, masked."""
    phone_masked: str | None = None
    """The visitor's phone, masked."""
    host_house: Name = None
    """The house visited."""
    valid_from: UtcDatetime | None = None
    """When the pass starts to be valid."""
    valid_until: UtcDatetime | None = None
    """When it stops being valid."""
    purpose: VisitPurpose | None = None
    """Why they visit (`relative`, `friend`, `decoration`, ...)."""
    plate_no: Annotated[str | None, Plate()] = None
    """The visitor's car, when registered with the visit."""
    plate_standard: bool | None = Field(
        default=None,
        description="Whether the plate follows the GA 36 grammar; None when there is no plate.",
    )
    subject_key: SubjectKey = None
    """A stable pseudonym, within the community, of whoever holds the credential."""
    person_id: PersonLink = None


class DeviceStatusEvent(EventBase):
    """A device came online, went offline (often its MQTT last will) or sent a heartbeat."""

    kind: Literal["device_status"] = "device_status"
    """`device_status`."""
    status: DeviceStatus
    """`online`, `offline` or `heartbeat`."""
    firmware: Name = None
    """The firmware the device reported."""
    ip: IpAddress = None
    """The address the device reported."""
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

_Event = TypeVar("_Event", bound=EventBase)
_set_attribute = object.__setattr__


def amended(event: _Event, update: Mapping[str, object]) -> _Event:
    """`event.model_copy(update=update)` at about half its cost, for the values the gateway
    fills itself on every event it ingests (placement, subject keys): like `model_copy`, the
    update is not validated, so it must hold only values of the fields' types. Events have no
    extra fields and no private attributes, which is what lets it skip `model_copy`'s checks."""
    copied = event.__class__.__new__(event.__class__)
    values = event.__dict__.copy()
    values.update(update)
    _set_attribute(copied, "__dict__", values)
    _set_attribute(copied, "__pydantic_fields_set__", event.__pydantic_fields_set__ | update.keys())
    _set_attribute(copied, "__pydantic_extra__", None)
    _set_attribute(copied, "__pydantic_private__", None)
    return copied


device_event_adapter: TypeAdapter[DeviceEvent] = TypeAdapter(DeviceEvent)
"""Validates stored or serialised events back into their model."""
