"""The device registry's contract: what a device is, where it stands, and how it is doing.

A `DeviceRegistration` is what an operator or a property system declares (the TOML file's
`[[devices]]` and the body of `PUT /v1/devices/{id}`). A `Device` adds what the gateway
observes: status, when it last heard from the device, its address. `DevicePublic` is the API's
view of a `Device`.
"""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.codes import Direction
from schemas.events import UtcDatetime

DeviceKind = Literal[
    "door_controller",
    "face_terminal",
    "camera",
    "capture_camera",
    "barrier_gate",
    "visitor_kiosk",
]
"""What a device is: door access controller (门禁), face terminal, surveillance camera,
face/plate capture camera, barrier gate (道闸), visitor registration kiosk (访客机)."""

DeviceState = Literal["unknown", "online", "offline"]
"""A device's status in the registry: `unknown` until the gateway first hears from it."""

OFFLINE_AFTER_S_BY_KIND: dict[str, int] = {
    "door_controller": 600,
    "face_terminal": 600,
    "camera": 300,
    "capture_camera": 300,
    "barrier_gate": 600,
    "visitor_kiosk": 1800,
}
"""How long each kind may stay silent before it counts as offline, unless a device says.

Cameras stream or heartbeat often, so five minutes of silence already means trouble; a
visitor kiosk may sit idle between visitors and heartbeats rarely."""

MAX_OFFLINE_AFTER_S = 7 * 24 * 3600

_NAME = Annotated[str, Field(min_length=1, max_length=64)]


class DeviceRegistration(BaseModel):
    """A device as registered: identity, dialect, and where it stands in its community.

    `gate` names the community gate a gate device guards (None for unit doors); `door` is the
    device's own name for the door it controls. `readers` maps card-reader numbers to the
    direction a person passing that reader goes. `firmware` may be declared here but is
    normally learnt from the device's status messages.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^/#+\s]+$")]
    kind: DeviceKind = "door_controller"
    dialect: _NAME
    community: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
    building: _NAME | None = None
    unit: _NAME | None = None
    gate: _NAME | None = None
    door: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    readers: dict[Annotated[int, Field(ge=0, le=255)], Direction] = Field(default_factory=dict)
    location: Annotated[str, Field(max_length=256)] | None = None
    firmware: Annotated[str, Field(max_length=64)] | None = None
    offline_after_s: Annotated[int, Field(ge=1, le=MAX_OFFLINE_AFTER_S)] = Field(
        default=600,
        description="Silence longer than this marks the device offline; defaults by kind.",
    )

    @model_validator(mode="before")
    @classmethod
    def _offline_after_defaults_by_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("offline_after_s") is None:
            kind = data.get("kind", "door_controller")
            default = OFFLINE_AFTER_S_BY_KIND.get(kind) if isinstance(kind, str) else None
            data = {**data, "offline_after_s": default or 600}
        return data

    @model_validator(mode="after")
    def _unit_needs_a_building(self) -> "DeviceRegistration":
        if self.unit is not None and self.building is None:
            raise ValueError("a unit needs its building")
        return self


class Device(DeviceRegistration):
    """A registered device and what the gateway has observed of it."""

    status: DeviceState = "unknown"
    status_since: UtcDatetime | None = Field(
        default=None, description="When the status last changed."
    )
    last_seen: UtcDatetime | None = Field(
        default=None, description="When the gateway last received a message from the device."
    )
    ip: Annotated[str, Field(max_length=64)] | None = None
    registered_at: UtcDatetime
    updated_at: UtcDatetime

    def registration(self) -> DeviceRegistration:
        """The registered part only, as a PUT would send it."""
        return DeviceRegistration.model_validate(
            self.model_dump(include=set(DeviceRegistration.model_fields))
        )


class DevicePublic(Device):
    """A device as the API shows it."""
