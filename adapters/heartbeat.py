"""Device keep-alives and MQTT last wills, for devices of any dialect.

Devices report their own liveness on a topic of their own, such as `{community}/status/{device}`,
which the configuration binds to this dialect (`[[topics]] filter = "yida/status/+"`,
`dialect = "heartbeat"`, `device_id_level = 3`). The topic's shape is not read here: the device
is the one routing found, else the payload's `deviceId`.

Two body shapes arrive. A JSON object, sent by the device itself:

    {"status": "heartbeat", "ts": 1764115200000, "firmware": "V5.7.1", "ip": "10.1.2.3"}

where `status` (see `STATUSES`) is required and `ts` (epoch milliseconds), `firmware`, `ip` and
`deviceId` are optional. Or a bare word, not JSON, as most devices set their MQTT last will:
`offline` (and `online`, `heartbeat`), in any case, surrounding white space ignored. The
firmware is a name and the ip an address (`schemas.screening`: dropped and listed in
`dropped_fields` when they break the rules, `ip` as `not_an_ip` or `pii_in_identifier`); a
device id holding an ID or mobile number is refused (`pii_in_identifier`).

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

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, ClassVar, Final

from pydantic import BaseModel, Field

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
from adapters.fields import STRICT_PAYLOAD, Identifier, Text, is_safe_token
from adapters.times import from_epoch_ms
from schemas.codes import DeviceStatus
from schemas.errors import PayloadError
from schemas.events import DeviceEvent, DeviceStatusEvent
from schemas.privacy import Pseudonymizer

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

_PLAIN_WORD: Final = re.compile(rb"\s*([A-Za-z][A-Za-z_-]{0,31})\s*")
"""A bare-word body: not JSON, so it is matched on the bytes before any JSON parsing."""
_STATUS_WORD: Final = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
"""An unknown status an error text may name (with no run of four digits)."""


class _Status(BaseModel):
    """A JSON status body; uptime, memory and the like are not modelled."""

    model_config = STRICT_PAYLOAD

    status: Annotated[str, Field(max_length=64)]
    ts: int | None = None
    device_id: Identifier | None = Field(default=None, alias="deviceId")
    firmware: Text | None = None
    ip: Text | None = None


class HeartbeatAdapter:
    """Parses keep-alives and last wills into `DeviceStatusEvent`s, whatever the topic."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            "status": frozenset(STATUSES),
            "ts": "time",
            "deviceId": "device_id",
            "firmware": "id",
            "ip": "ip",
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer  # status messages carry no personal data

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one status a message reports, or `PayloadError` naming why there is none."""
        body = _body(message.payload)
        if isinstance(body, str):
            status = _status(body, "bare-word status")
            device_id = resolve_device_id(message, None, prefer="topic")
            return [_event(message, device_id, status, None)]
        status = _status(body.status, "status")
        device_id = resolve_device_id(message, body.device_id, prefer="topic")
        return [
            _event(
                message,
                device_id,
                status,
                body.ts,
                firmware=body.firmware,
                ip=body.ip,
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
    return DeviceStatusEvent(
        **header,
        status=status,
        firmware=firmware,
        ip=ip,
        time_source="arrival" if ts is None else "device",
    )


def _body(payload: bytes) -> _Status | str:
    """A JSON status body (validated in one pass from bytes when valid), or a bare word.

    Anything else is decoded step by step, so the dead letter names the first thing wrong.
    """
    status = fast_path(_Status.model_validate_json, payload)
    if status is not None:
        return status
    word = _PLAIN_WORD.fullmatch(payload)
    if word is not None:
        return word.group(1).decode("ascii")
    return validate(_Status, decode_json_object(payload))


def _status(word: str, field: str) -> DeviceStatus:
    """The canonical status; an unknown word is named only when it is a short plain token."""
    status = STATUSES.get(word.strip().lower())
    if status is not None:
        return status
    if is_safe_token(word, _STATUS_WORD):
        raise PayloadError("unknown_code", f"{field} {word!r} is not mapped")
    raise PayloadError("unknown_code", f"{field} is not a known status")
