"""The adapter contract: one vendor dialect, one pure parser.

An adapter turns one MQTT message into canonical events, or raises `PayloadError`. It does
no I/O and keeps no state between messages, so it can be tested on fixture files alone and
fuzzed freely. Routing (which dialect, which community) happens before; enrichment from the
device registry happens after.

Besides the contract, the steps every adapter parses with live here: decoding the payload
(`fast_path`, else `decode_json_object` and `validate`), naming a schema error without its
values, resolving the event's device (`resolve_device_id`, which checks it by the rules of
`schemas.identifiers`), refusing a personal number in an identifier the event cannot do without
(`checked_identifier`), and building the event's header and id. Field types and checks shared
by dialects are in `adapters.fields`.
"""

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import ClassVar, Final, Literal, Protocol, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError

from schemas.errors import PayloadError
from schemas.events import DeviceEvent, EventBase
from schemas.identifiers import PII_IN_IDENTIFIER, device_id_problem, looks_like_personal_number
from schemas.privacy import Pseudonymizer
from schemas.screening import screen

_Model = TypeVar("_Model", bound=BaseModel)
_Parsed = TypeVar("_Parsed")


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One MQTT message as the router resolved it: what the adapter may know about it."""

    topic: str
    payload: bytes
    received_at: datetime
    community: str
    device_id: str | None
    """The device code from the topic, when the topic layout carries one."""
    retained: bool = False
    """The broker replayed this message from its retained store (`gateway.messages`): it
    reports a state kept since some earlier moment, not something that just happened."""


ValueKind = Literal["time", "code", "id", "device_id", "number", "ip"]
"""What an allow-listed payload field holds; a dead letter shows its value only when it is that
(`gateway.privacy.is_shareable_value`), and never when it holds a personal-looking number:

- `time`: a date-time (`2026-11-26T08:00:00+08:00`, `2026/11/26 08:00:00`), a compact one
  (`20261126080000`) or epoch seconds or milliseconds;
- `code`: a token of at most 16 characters of `0-9 A-Z a-z _ . : -` with a digit in it (door,
  channel and reader numbers, vendor codes, short serials);
- `id`: the same up to 64 characters (record, message and alarm ids, firmware versions);
- `device_id`: a device id by `schemas.identifiers`, with a digit in it;
- `number`: a decimal number (confidence, similarity);
- `ip`: an IPv4 or IPv6 address.

A letters-only word is never a code: a pinyin name in a serial number stays hidden.
"""
ShownValue = ValueKind | frozenset[str]
"""An allow-list entry: a kind, or the dialect's vocabulary of words (event and message types,
statuses), each of which is shown, besides whatever the `code` kind shows."""


class Adapter(Protocol):
    """What every dialect implements; see `adapters.registry` for how they are found."""

    dialect: ClassVar[str]
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]]
    """Payload fields whose values a dead letter of this dialect may show, beside the shape,
    and what each holds.

    Only fields that never hold personal data: event types, codes, times, device ids, serial
    and record numbers. Paths are keys joined by dots, `[]` for every element of an array:
    `AccessControllerEvent.subEventType`, `visitors[].idType`. The gateway still shows a value
    only when it is what its entry says and holds no personal-looking number
    (`gateway.payload_shape`).
    """

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


_Event = TypeVar("_Event", bound=EventBase)
_set_attribute = object.__setattr__
MAX_EVENT_ID: Final = 64
MIN_EVENT_ID: Final = 8
MAX_COMMUNITY: Final = 64


@cache
def _field_defaults(model: type[EventBase]) -> tuple[tuple[str, object], ...]:
    """Each field of `model` in declaration order with its default (`_REQUIRED` when it has
    none): what `checked_event` fills an event's fields from."""
    return tuple(
        (name, _REQUIRED if info.is_required() else info.get_default(call_default_factory=True))
        for name, info in model.model_fields.items()
    )


_REQUIRED: Final = object()


def checked_event(model: type[_Event], header: EventHeader, **fields: object) -> _Event:
    """The event `model(**header, **fields)` builds, without validating again what the adapter
    has already checked: for the hot dialects' events, whose every field is typed by
    construction (codes from the dialect's tables, numbers its payload model bounded, hashes,
    the device id `resolve_device_id` checked, times `adapters.times` made UTC).

    What is not the adapter's is still checked: the screen runs as for every event (names,
    references, plates: `schemas.screening`), the community and the vendor code are refused
    when they hold a personal number, and anything unusual (an event id or community out of
    bounds, an arrival or event time not in UTC) takes the model's full validation instead.
    """
    community = header["community"]
    if not (
        MIN_EVENT_ID <= len(header["event_id"]) <= MAX_EVENT_ID
        and 0 < len(community) <= MAX_COMMUNITY
        and header["occurred_at"].tzinfo is UTC
        and header["received_at"].tzinfo is UTC
    ) or looks_like_personal_number(community):
        return model(**header, **fields)
    vendor_code = fields.get("vendor_code")
    if isinstance(vendor_code, str) and looks_like_personal_number(vendor_code):
        return model(**header, **fields)  # refused by the model, as any event would be
    given = screen(model, {**header, **fields})
    values = {}
    for name, default in _field_defaults(model):
        value = given.get(name, default)
        if value is _REQUIRED:
            return model(**header, **fields)
        values[name] = value
    event = model.__new__(model)
    _set_attribute(event, "__dict__", values)
    _set_attribute(event, "__pydantic_fields_set__", set(given))
    _set_attribute(event, "__pydantic_extra__", None)
    _set_attribute(event, "__pydantic_private__", None)
    return event


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


def fast_path(validate_json: Callable[[bytes], _Parsed], payload: bytes) -> _Parsed | None:
    """The payload validated in one pass from its bytes, or None when it is not valid.

    Valid payloads (the common case) end here. None sends the adapter down its step-by-step
    path (`decode_json_object`, then `validate`), whose errors name the first thing wrong.
    """
    try:
        return validate_json(payload)
    except ValidationError:
        return None


def validate(model: type[_Model], document: dict[str, object]) -> _Model:
    """`model` from a decoded payload, or `PayloadError("schema")` naming field paths and rules
    only: the values may be names, card or ID numbers."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        raise PayloadError("schema", validation_detail(exc)) from None


def resolve_device_id(
    message: RawMessage,
    payload_device_id: str | None,
    *,
    prefer: Literal["topic", "payload"],
    missing: str | None = None,
) -> str:
    """The event's device code: the topic's or the payload's, whichever `prefer` names.

    `prefer="topic"` suits a device publishing for itself: whenever routing found a device code
    in the topic, that code stands, and the payload's is only the fallback. `prefer="payload"`
    suits a platform or controller relaying many devices through one connection: the payload's
    code stands when it is not empty, and the topic's is the fallback. `missing` is the error
    text when neither names the device, by default "neither the topic nor the payload names
    the device" (in `prefer` order).
    """
    if prefer == "topic":
        device_id = message.device_id if message.device_id is not None else payload_device_id
        order = "the topic nor the payload"
    else:
        device_id = payload_device_id or message.device_id
        order = "the payload nor the topic"
    if not device_id:
        raise PayloadError("no_device_id", missing or f"neither {order} names the device")
    return checked_device_id(device_id)


def checked_device_id(device_id: str) -> str:
    """`device_id` when it is one (`schemas.identifiers.device_id_problem`), else `PayloadError`:
    `pii_in_identifier` when it holds an ID or mobile number, `bad_device_id` otherwise."""
    problem = device_id_problem(device_id)
    if problem is not None:
        raise PayloadError(problem.reason, f"device id {problem.detail}")
    return device_id


def checked_identifier(value: str, field: str) -> str:
    """`value` unless it holds an ID or mobile number: `PayloadError("pii_in_identifier")`
    naming `field`. For identifiers an event cannot do without, so cannot drop (visit ids)."""
    if looks_like_personal_number(value):
        raise PayloadError(PII_IN_IDENTIFIER, f"{field} holds an ID or mobile number")
    return value
