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

from schemas.codes import AccessResult, Direction, DoorState, OpenMethod


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


DeviceEvent = Annotated[AccessEvent | DoorStateEvent, Field(discriminator="kind")]
"""Any canonical event; dispatch on `kind`."""

EventKind = Literal["access", "door_state"]

device_event_adapter: TypeAdapter[DeviceEvent] = TypeAdapter(DeviceEvent)
"""Validates stored or serialised events back into their model."""
