"""The device registry's contract: what a device is, where it stands, and how it is doing.

A `DeviceRegistration` is what an operator or a property system declares (the TOML file's
`[[devices]]` and the body of `PUT /v1/devices/{id}`). A `Device` adds what the gateway
observes: status, when it last heard from the device, its address. `DevicePublic` is the API's
view of a `Device`.

Which kinds of device may register in which dialect is one table here
(`DEVICE_KINDS_BY_DIALECT`, and `DEVICE_KINDS_BY_EVENT_KIND` for dialects described in the
configuration); `DialectKinds` applies it, with the dialects a running gateway knows. Which
device may be another's `parent` is one rule here too (`ParentRule`), applied by the TOML
loader and by `PUT /v1/devices/{id}` alike.
"""

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from schemas.codes import Direction
from schemas.events import UtcDatetime
from schemas.identifiers import DeviceId, name_text

DeviceKind = Literal[
    "door_controller",
    "face_terminal",
    "camera",
    "capture_camera",
    "barrier_gate",
    "visitor_kiosk",
    "platform",
]
"""What a device is: door access controller (门禁), face terminal, surveillance camera,
face/plate capture camera, barrier gate (道闸), visitor registration kiosk (访客机), or a
platform: a service or recorder relaying other devices' events over its own connection (a
GA/T 1400 platform, an NVR, a cloud access account, a cloud visitor service, a parking
controller driving several gates)."""

DEVICE_KIND_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "door_controller": "门禁控制器",
        "face_terminal": "人脸识别终端",
        "camera": "摄像机",
        "capture_camera": "抓拍摄像机",
        "barrier_gate": "道闸",
        "visitor_kiosk": "访客机",
        "platform": "接入平台",
    }
)
"""Each kind's Chinese name, for texts the district's operators read (tickets)."""

COMMUNITY_CODE_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,31}$"
CommunityCode = Annotated[str, Field(pattern=COMMUNITY_CODE_PATTERN)]
"""A community's code, the first topic level: what the registry and the API's filters take."""

DeviceState = Literal["unknown", "online", "offline"]
"""A device's status in the registry: `unknown` until the gateway first hears from it."""

OFFLINE_AFTER_S_BY_KIND: dict[str, int] = {
    "door_controller": 600,
    "face_terminal": 600,
    "camera": 300,
    "capture_camera": 300,
    "barrier_gate": 600,
    "visitor_kiosk": 1800,
    "platform": 1800,
}
"""How long each kind may stay silent before it counts as offline, unless a device says.

Cameras stream or heartbeat often, so five minutes of silence already means trouble; a
visitor kiosk may sit idle between visitors and heartbeats rarely, and a platform is quiet
when its devices are."""

STATUS_DIALECT: Final = "heartbeat"
"""The dialect of status topics (`{community}/status/{device}`): every device speaks it besides
its own, so no device registers with it."""

DEVICE_KINDS_BY_DIALECT: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "hik-isapi": frozenset({"door_controller", "face_terminal"}),
        "access-cloud": frozenset({"door_controller", "face_terminal", "platform"}),
        "gat1400": frozenset({"camera", "capture_camera", "platform"}),
        "barrier-gate": frozenset({"barrier_gate", "platform"}),
        "camera-alarm": frozenset({"camera"}),
        "visitor-cloud": frozenset({"visitor_kiosk", "platform"}),
        STATUS_DIALECT: frozenset(),
    }
)
"""The kinds of device each built-in dialect serves (one row per built-in adapter).

`platform` appears where the dialect's payload names the device an event is about, so one
connection can relay many devices (each registered with the platform as its `parent`):
access-cloud accounts, GA/T 1400 platforms and NVRs, parking controllers, visitor services.
camera-alarm events are always the topic's camera's, so it has no platform."""

DEVICE_KINDS_BY_EVENT_KIND: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        "access": frozenset({"door_controller", "face_terminal"}),
        "door_state": frozenset({"door_controller"}),
        "face_capture": frozenset({"camera", "capture_camera", "face_terminal"}),
        "vehicle_pass": frozenset({"capture_camera", "barrier_gate"}),
        "behaviour_alarm": frozenset({"camera"}),
        "visitor": frozenset({"visitor_kiosk"}),
        "device_status": frozenset(),
    }
)
"""The kinds of device that make each kind of event: what a dialect described in the
configuration serves is the union over the event kinds it declares."""


def mapping_dialect_kinds(event_kinds: Iterable[str], *, relays: bool) -> frozenset[str]:
    """The device kinds a configured dialect serves: those making its declared event kinds,
    plus `platform` when it reads the event's device from the payload (`relays`)."""
    kinds = frozenset(kind for event in event_kinds for kind in DEVICE_KINDS_BY_EVENT_KIND[event])
    return kinds | {"platform"} if relays else kinds


class DialectKinds:
    """The dialects devices may register with, and the kinds each admits.

    Built from `DEVICE_KINDS_BY_DIALECT` for the built-in adapters and from
    `mapping_dialect_kinds` for the configured ones; a dialect absent here does not exist.
    """

    def __init__(self, kinds_by_dialect: Mapping[str, Iterable[str]]) -> None:
        self._kinds = {dialect: frozenset(kinds) for dialect, kinds in kinds_by_dialect.items()}

    @property
    def dialects(self) -> list[str]:
        return sorted(self._kinds)

    def problem(self, dialect: str, kind: str) -> tuple[str, str] | None:
        """`(field, message)` when a device of `kind` may not register with `dialect`.

        The message names the dialects or kinds allowed, never the value refused: the API
        does not echo input.
        """
        kinds = self._kinds.get(dialect)
        if kinds is None:
            own = ", ".join(name for name in self.dialects if self._kinds[name])
            return (
                "dialect",
                f"is not a dialect of this gateway; devices register with one of: {own}",
            )
        if not kinds:
            return "dialect", "is no device's own dialect (status topics speak it for every device)"
        if kind not in kinds:
            return "kind", f"is not a kind this dialect serves: {', '.join(sorted(kinds))}"
        return None


RELAYING_KINDS: Final = frozenset({"platform"})
"""The kinds whose connection relays other devices' events: the only kinds a parent may be.
`platform` is the kind every row of `DEVICE_KINDS_BY_DIALECT` adds where the dialect's payload
names the device an event is about; a door controller or a camera speaks only for itself."""
_RELAYING: Final = ", ".join(sorted(RELAYING_KINDS))


class ParentRule:
    """Which device may be another's `parent`: one registered in the same community, of a
    relaying kind (`RELAYING_KINDS`), with no parent of its own. Parent chains are one level
    deep, which also rules out cycles (`T10 -> T11 -> T10`), and a device that other devices
    name as their parent stays a relaying device of their community, without a parent.

    Built from the devices registered (a device checked against it replaces its own entry);
    each check answers `(field, message)` like `DialectKinds.problem`, never echoing a value.
    """

    def __init__(self, registered: Iterable["DeviceRegistration"]) -> None:
        self._devices = {device.device_id: device for device in registered}
        self._children: dict[str, list[DeviceRegistration]] = {}
        for device in self._devices.values():
            if device.parent is not None:
                self._children.setdefault(device.parent, []).append(device)

    def problem(self, device: "DeviceRegistration") -> tuple[str, str] | None:
        """Why `device`'s registration breaks the rule, or None."""
        return self.parent_problem(device) or self.children_problem(device)

    def parent_problem(
        self, device: "DeviceRegistration", *, unknown_parent_ok: bool = False
    ) -> tuple[str, str] | None:
        """Why `device`'s `parent` may not be its parent. `unknown_parent_ok` defers a parent
        absent from the devices given (a TOML file checked before the store is open)."""
        if device.parent is None:
            return None
        parent = self._devices.get(device.parent)
        if parent is None:
            return None if unknown_parent_ok else ("parent", "is not a registered device")
        if parent.community != device.community:
            return "parent", "is registered in another community"
        if parent.kind not in RELAYING_KINDS:
            return "parent", f"relays no other device's events; a parent is a {_RELAYING}"
        if parent.parent is not None:
            return "parent", "has a parent of its own: parents are one level deep"
        return None

    def children_problem(self, device: "DeviceRegistration") -> tuple[str, str] | None:
        """Why `device` cannot be what the devices naming it as their parent need."""
        children = [
            child
            for child in self._children.get(device.device_id, ())
            if child.device_id != device.device_id
        ]
        if not children:
            return None
        if device.parent is not None:
            return "parent", "must be empty: other devices name this one as their parent"
        if device.kind not in RELAYING_KINDS:
            return "kind", f"must be {_RELAYING}: other devices name this one as their parent"
        if any(child.community != device.community for child in children):
            return "community", "must stay that of the devices naming this one as their parent"
        return None


MAX_OFFLINE_AFTER_S = 7 * 24 * 3600

_NAME = Annotated[str, Field(min_length=1), name_text()]
"""A declared name: refused (not dropped) when `schemas.identifiers.name_problem` refuses it."""
MAX_LOCATION = 256


class DeviceRegistration(BaseModel):
    """A device as registered: identity, dialect, and where it stands in its community.

    `gate` names the community gate a gate device guards (None for unit doors); `door` is the
    device's own name for the door it controls. `parent` names the device that may speak for
    this one: the platform, cloud account, service or controller whose connection relays this
    device's events (see `gateway.pipeline.CheckSender`). `readers` maps card-reader numbers to the
    direction a person passing that reader goes. `firmware` may be declared here but is
    normally learnt from the device's status messages.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        json_schema_extra={
            "examples": [
                {
                    "device_id": "yida-b03-u2-door",
                    "kind": "door_controller",
                    "dialect": "hik_isapi",
                    "community": "yida",
                    "building": "B03",
                    "unit": "U2",
                    "door": "单元门",
                    "readers": {"1": "in", "2": "out"},
                    "location": "3栋2单元入口",
                }
            ]
        },
    )

    device_id: DeviceId
    """The device's id (0-9 A-Z a-z _ . : -, 1 to 64)."""
    kind: DeviceKind = "door_controller"
    """What the device is; the dialect must serve this kind."""
    dialect: _NAME
    """The vendor protocol it speaks (an adapter of this gateway)."""
    community: CommunityCode
    """The community it stands in (a code this gateway serves)."""
    building: _NAME | None = None
    """Its building, if it stands in one."""
    unit: _NAME | None = None
    """Its unit (stairwell); needs the building."""
    gate: _NAME | None = None
    """The community gate a gate device guards; null for unit doors."""
    door: _NAME | None = None
    """The device's own name for the door it controls."""
    readers: dict[Annotated[int, Field(ge=0, le=255)], Direction] = Field(default_factory=dict)
    """Card-reader number to the direction a person passing that reader goes."""
    location: Annotated[str, name_text(MAX_LOCATION)] | None = None
    """Where it is, in words."""
    firmware: Annotated[str, name_text()] | None = None
    """Normally learnt from the device's status messages."""
    parent: DeviceId | None = None
    """The device that may speak for this one (a platform, cloud account or controller)."""
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

    @field_validator("parent")
    @classmethod
    def _not_its_own_parent(cls, parent: str | None, info: ValidationInfo) -> str | None:
        if parent is not None and parent == info.data.get("device_id"):
            raise ValueError("a device is not its own parent")
        return parent


class Device(DeviceRegistration):
    """A registered device and what the gateway has observed of it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device_id": "yida-b03-u2-door",
                    "kind": "door_controller",
                    "dialect": "hik_isapi",
                    "community": "yida",
                    "building": "B03",
                    "unit": "U2",
                    "door": "单元门",
                    "readers": {"1": "in", "2": "out"},
                    "offline_after_s": 600,
                    "status": "online",
                    "status_since": "2026-11-30T01:02:03Z",
                    "last_seen": "2026-11-30T08:15:00Z",
                    "ip": "10.20.3.21",
                    "registered_at": "2026-10-01T00:00:00Z",
                    "updated_at": "2026-11-30T08:15:00Z",
                    "clock_skew_s": -1.5,
                    "clock_skew_measured_at": "2026-11-30T08:15:00Z",
                }
            ]
        }
    )

    status: DeviceState = "unknown"
    """`unknown` (never heard from), `online` or `offline`."""
    status_since: UtcDatetime | None = Field(
        default=None, description="When the status last changed."
    )
    last_seen: UtcDatetime | None = Field(
        default=None, description="When the gateway last received a message from the device."
    )
    ip: Annotated[str, Field(max_length=64)] | None = None
    """The address the device last reported."""
    registered_at: UtcDatetime
    """When it was first registered."""
    updated_at: UtcDatetime
    """When its registration or observations last changed."""
    clock_skew_s: float | None = Field(
        default=None,
        description="How many seconds the device's clock runs ahead (negative: behind), as"
        " estimated from its live status messages; None until one carried the device's time.",
    )
    clock_skew_measured_at: UtcDatetime | None = Field(
        default=None, description="When the message that gave `clock_skew_s` arrived."
    )

    def registration(self) -> DeviceRegistration:
        """The registered part only, as a PUT would send it."""
        return DeviceRegistration.model_validate(
            self.model_dump(include=set(DeviceRegistration.model_fields))
        )


class DevicePublic(Device):
    """A device as the API shows it."""
