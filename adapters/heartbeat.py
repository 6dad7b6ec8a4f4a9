"""Device keep-alives and MQTT last wills, for devices of any dialect.

Devices report their own liveness on a topic of their own, such as `{community}/status/{device}`,
which the configuration binds to this dialect (`[[topics]] filter = "yida/status/+"`,
`dialect = "heartbeat"`, `device_id_level = 3`). The topic's shape is not read here: the device
is the one routing found, else the payload's `deviceId`.

Two body shapes arrive. A JSON object, sent by the device itself:

    {"status": "heartbeat", "ts": 1764115200000, "firmware": "V5.7.1", "ip": "10.1.2.3"}

where `status` (see `STATUSES`) is required and `ts` (epoch milliseconds), `firmware`, `ip` and
`deviceId` are optional. Or a bare word, not JSON, as most devices set their MQTT last will:
`offline` (and `online`, `heartbeat`), in any case, surrounding white space ignored.

Time: the device's `ts` when it sends one. A last will has none, and needs none: the broker
publishes it the moment it notices the connection is lost (keep-alive expired or socket closed),
so the gateway's receipt time is the best time there is. The same holds for a JSON body
without `ts`. A will set with a `ts` carries the time the device connected, not when it was lost;
devices should leave `ts` out of their will.

Event ids: device, status and `ts`, so a heartbeat redelivered or repeated with the same `ts`
is stored once. Without `ts` the receipt time stands in for it: hashing the payload instead
would make every later `offline` from the device a duplicate of its first, forever. The price is
that a will redelivered after a gateway crash is stored twice, which status events tolerate.
"""

import ipaddress
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, ClassVar, Final, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from adapters.base import (
    RawMessage,
    decode_json_object,
    event_header,
    stable_event_id,
    validation_detail,
)
from adapters.times import from_epoch_ms
from gateway.errors import PayloadError
from gateway.privacy import Pseudonymizer
from schemas.codes import DeviceStatus
from schemas.events import DeviceEvent, DeviceStatusEvent

DIALECT: Final = "heartbeat"

STATUSES: Final[Mapping[str, DeviceStatus]] = MappingProxyType(
    {
        "online": "online",
        "offline": "offline",
        "heartbeat": "heartbeat",
        "keepalive": "heartbeat",
    }
)
"""Status word (compared in lower case) -> canonical status, for JSON and bare-word bodies."""

_MAX_DEVICE_ID: Final = 64
"""The bound `schemas.events.EventBase.device_id` enforces; checked here to name the reason."""
_MAX_FIRMWARE: Final = 64
_PLAIN_WORD: Final = re.compile(rb"\s*([A-Za-z][A-Za-z_-]{0,31})\s*")
"""A bare-word body: not JSON, so it is matched on the bytes before any JSON parsing."""
_SAFE_TOKEN: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
_DIGIT_RUN: Final = re.compile(r"[0-9]{4}")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_RUNS: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\s]+")


def _encodable(value: str) -> str:
    """Refuse lone surrogates: JSON escapes allow them, but they cannot be hashed as UTF-8."""
    try:
        value.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _printable(value: str) -> str:
    """Refuse control characters in identifiers: they corrupt logs, and NUL breaks PostgreSQL."""
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


_Text = Annotated[str, AfterValidator(_encodable)]
_Identifier = Annotated[str, AfterValidator(_encodable), AfterValidator(_printable)]

_STRICT: Final = ConfigDict(strict=True, extra="ignore", frozen=True)
"""Devices add fields freely (ignored), but a field we use with the wrong type is an error."""


class _Status(BaseModel):
    """A JSON status body; uptime, memory and the like are not modelled."""

    model_config = _STRICT

    status: Annotated[str, Field(max_length=64)]
    ts: int | None = None
    device_id: _Identifier | None = Field(default=None, alias="deviceId")
    firmware: _Text | None = None
    ip: _Text | None = None


_Model = TypeVar("_Model", bound=BaseModel)


class HeartbeatAdapter:
    """Parses keep-alives and last wills into `DeviceStatusEvent`s, whatever the topic."""

    dialect: ClassVar[str] = DIALECT

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer  # status messages carry no personal data

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one status a message reports, or `PayloadError` naming why there is none."""
        body = _body(message.payload)
        if isinstance(body, str):
            status = _status(body, "bare-word status")
            return [_event(message, _device_id(message, None), status, None)]
        status = _status(body.status, "status")
        device_id = _device_id(message, body.device_id)
        return [
            _event(
                message,
                device_id,
                status,
                body.ts,
                firmware=_firmware(body.firmware),
                ip=_ip(body.ip),
            )
        ]


def _event(
    message: RawMessage,
    device_id: str,
    status: DeviceStatus,
    ts: int | None,
    *,
    firmware: str | None = None,
    ip: str | None = None,
) -> DeviceStatusEvent:
    """The event, timed and identified by the device's `ts`, else by the receipt time."""
    if ts is None:
        occurred_at = message.received_at
        stamp = ("received", message.received_at.isoformat())
    else:
        occurred_at = from_epoch_ms(ts, "ts")
        stamp = ("ts", str(ts))
    header = event_header(
        message,
        dialect=DIALECT,
        device_id=device_id,
        event_id=stable_event_id(DIALECT, device_id, status, *stamp),
        occurred_at=occurred_at,
    )
    return DeviceStatusEvent(**header, status=status, firmware=firmware, ip=ip)


def _body(payload: bytes) -> _Status | str:
    """A JSON status body (validated in one pass from bytes when valid), or a bare word.

    Anything else is decoded step by step, so the dead letter names the first thing wrong.
    """
    try:
        return _Status.model_validate_json(payload)
    except ValidationError:
        pass
    word = _PLAIN_WORD.fullmatch(payload)
    if word is not None:
        return word.group(1).decode("ascii")
    return _validate(_Status, decode_json_object(payload))


def _validate(model: type[_Model], document: dict[str, object]) -> _Model:
    """Validate, reporting field paths and rules only, never the values."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise PayloadError("schema", validation_detail(exc)) from None


def _status(word: str, field: str) -> DeviceStatus:
    """The canonical status; an unknown word is named only when it is a short plain token."""
    status = STATUSES.get(word.strip().lower())
    if status is not None:
        return status
    if _SAFE_TOKEN.fullmatch(word) and not _DIGIT_RUN.search(word):
        raise PayloadError("unknown_code", f"{field} {word!r} is not mapped")
    raise PayloadError("unknown_code", f"{field} is not a known status")


def _device_id(message: RawMessage, payload_device_id: str | None) -> str:
    """The topic's device code when routing found one, else the payload's own `deviceId`."""
    device_id = message.device_id if message.device_id is not None else payload_device_id
    if not device_id:
        raise PayloadError("no_device_id", "neither the topic nor the payload names the device")
    if len(device_id) > _MAX_DEVICE_ID:
        raise PayloadError("bad_device_id", f"device id is longer than {_MAX_DEVICE_ID} characters")
    return device_id


def _firmware(firmware: str | None) -> str | None:
    """The firmware version on one line and bounded, or None when nothing is left of it."""
    if firmware is None:
        return None
    cleaned = _CONTROL_RUNS.sub(" ", firmware).strip()[:_MAX_FIRMWARE].rstrip()
    return cleaned or None


def _ip(ip: str | None) -> str | None:
    """The address in its canonical form, without an IPv6 scope (`%eth0`, meaningless off the
    device's own network); anything that is not an IP address is dropped."""
    if not ip:
        return None
    try:
        return str(ipaddress.ip_address(ip.strip().partition("%")[0]))
    except ValueError:
        return None
