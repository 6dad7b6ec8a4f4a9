"""The adapter contract: one vendor dialect, one pure parser.

An adapter turns one MQTT message into canonical events, or raises `PayloadError`. It does
no I/O and keeps no state between messages, so it can be tested on fixture files alone and
fuzzed freely. Routing (which dialect, which community) happens before; enrichment from the
device registry happens after.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol, TypedDict

from pydantic import ValidationError

from gateway.errors import PayloadError
from gateway.privacy import Pseudonymizer
from schemas.events import DeviceEvent


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One MQTT message as the router resolved it: what the adapter may know about it."""

    topic: str
    payload: bytes
    received_at: datetime
    community: str
    device_id: str | None
    """The device code from the topic, when the topic layout carries one."""


class Adapter(Protocol):
    """What every dialect implements; see `adapters.registry` for how they are found."""

    dialect: ClassVar[str]

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        """Adapters get the pseudonymizer so personal data is hashed before an event exists."""

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """Events in the message, or `PayloadError` naming why there are none."""
        ...


class EventHeader(TypedDict):
    """The fields every event shares, built once per message by `event_header`."""

    event_id: str
    community: str
    device_id: str
    occurred_at: datetime
    received_at: datetime
    dialect: str


def event_header(
    message: RawMessage, *, dialect: str, device_id: str, event_id: str, occurred_at: datetime
) -> EventHeader:
    """Common event fields: the community and arrival time come from the message itself."""
    return EventHeader(
        event_id=event_id,
        community=message.community,
        device_id=device_id,
        occurred_at=occurred_at,
        received_at=message.received_at,
        dialect=dialect,
    )


def stable_event_id(dialect: str, device_id: str, *parts: str) -> str:
    """An event id that a redelivered or replayed message reproduces exactly.

    Built from the device's own identity of the event (its serial number plus time, say), so
    the store's uniqueness check turns at-least-once delivery into exactly-once storage.
    """
    material = "\x1f".join((dialect, device_id, *parts)).encode()
    return hashlib.sha256(material).hexdigest()[:32]


def payload_event_id(dialect: str, message: RawMessage) -> str:
    """The fallback id for events whose device gives no serial: a hash of topic and payload."""
    digest = hashlib.sha256(message.payload).hexdigest()
    return stable_event_id(dialect, message.topic, digest)


def decode_json_object(payload: bytes) -> dict[str, object]:
    """The payload as a JSON object, or `PayloadError` saying why it is not one.

    Deeply nested junk (RecursionError) and huge integers (ValueError) are refused by the json
    module in ways that are not JSONDecodeError: they are bad input like any other.
    """
    try:
        document = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError("malformed_json", f"not UTF-8 JSON ({type(exc).__name__})") from None
    except RecursionError:
        raise PayloadError("malformed_json", "JSON nested too deeply") from None
    except ValueError:  # integers over 4,300 digits: Python's own guard, not a JSONDecodeError
        raise PayloadError("malformed_json", "a number in the JSON is too long") from None
    if not isinstance(document, dict):
        raise PayloadError("malformed_json", f"expected a JSON object, got {_json_type(document)}")
    return document


def _json_type(value: object) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def validation_detail(exc: ValidationError) -> str:
    """Describe a pydantic error by field path and rule only: input values may be personal data."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '<root>'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)[:5]
    ]
    more = exc.error_count() - len(problems)
    return "; ".join(problems) + (f" (+{more} more)" if more > 0 else "")
