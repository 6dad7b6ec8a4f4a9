"""Cloud visitor service (云访客): registrations, gate check-ins and check-outs, cancellations.

The service pushes one JSON object per message to `{community}/visitor-cloud/{service id}`,
e.g. `yida/visitor-cloud/vc-yida-01`. Every message has an envelope:

    msgType     "registration" | "checkin" | "checkout" | "cancellation"      (required)
    visitId     the service's visit id, 1-64 of A-Z a-z 0-9 _ . : -, letter or digit first
    eventTime   when it happened: ISO 8601 with an explicit offset (naive times are refused)
    serviceId   optional: names the service when the topic carries no device level
    houseCode   the visited house (`B03-U2-1102`): required in a registration, else optional
    msgId, ...  anything else is ignored

A registration adds `startTime` and `endTime` (ISO 8601 with offset; end after start) and
`visitors`, 1 to `MAX_VISITORS` objects, each with `idType` (GA/T 517 code as a string, see
`schemas.identity.ID_TYPES`), `idNumber`, and optionally `name`, `phone`, `purpose` (integer, see
`VISIT_PURPOSES`) and `plateNo`. It becomes one `VisitorEvent` per visitor, all sharing the
visit id and the service as device. A check-in or check-out adds `gateDeviceId` (the gate's
device code, which becomes the event's device, so enrichment places the event at the gate) and
names the visitor by `visitorIndex` (position in the registration's `visitors`) and/or by
`idType` + `idNumber`; it becomes one event. A cancellation becomes one event for the visit,
without visitor fields (the registration's events carry them; they join on the visit id).

Event ids hash (device, visit id, action, eventTime, visitor position or visitor_ref): a
redelivery or a resend under a new `msgId` is the same event; an updated registration (a new
`eventTime`) is a new one.

Privacy is this dialect's point: the raw ID number, phone and name never leave this module.
`visitor_ref` is the keyed hash of the ID number (upper case, surrounding blanks removed) in
the `id_number` namespace every dialect shares, so a visitor joins with a face match of the
same person; `id_masked`, `phone_masked` and `name_masked` are display masks. PayloadError
texts name fields, positions and rules, never values.

Decisions:
- An invalid resident ID number (type 111: not 17 digits plus a digit or X, birth date not a
  calendar date, or GB 11643 check digit wrong) dead-letters the whole message
  (`bad_id_number`). Its hash could never join a face match, it would create a phantom person
  in the population model, and a real-name registration system that lets one through has a
  bug or a forged entry an operator must see; half a registration is worse than a refused one
  the service can resend. Passport and other numbers are checked for shape only.
- Legacy 15-digit resident ID numbers are refused: those cards expired in 2013.
- An unknown ID type code dead-letters the message (`unknown_code`): the type decides how the
  number is validated, and a number validated as the wrong type is worse than none; a new
  code is one line in `ID_TYPES`. An unknown purpose code becomes `other`: the purpose is
  descriptive, the visit is real either way. An absent purpose is `None`, not `other`.
- More than `MAX_VISITORS` visitors is refused as `oversized` before any visitor is validated.
- A malformed phone is a schema error, never masked: masking arbitrary text would show seven
  of its characters. `+86` / `0086` prefixes of mainland mobiles are dropped before masking.
- A visit id that holds an ID or mobile number refuses the message (`pii_in_identifier`):
  every event of the visit would store it. Device ids follow `schemas.identifiers`; the house
  code and the plate are screened like every event's names and plates (`schemas.screening`).
- A one-character name is masked entirely (`*`); otherwise first character + `*` per
  remaining character (`张**`). A blank or absent name gives `name_masked = None`.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, ClassVar, Final, Literal

from pydantic import AfterValidator, BaseModel, Field, TypeAdapter

from adapters.base import (
    RawMessage,
    ShownValue,
    checked_device_id,
    checked_identifier,
    decode_json_object,
    event_header,
    fast_path,
    resolve_device_id,
    stable_event_id,
    validate,
)
from adapters.fields import STRICT_PAYLOAD, is_safe_token
from adapters.plates import normalise_plate
from adapters.times import from_iso_with_offset
from schemas.codes import IdType, VisitorAction, VisitPurpose
from schemas.errors import PayloadError
from schemas.events import DeviceEvent, VisitorEvent
from schemas.identity import ID_TYPES
from schemas.phones import normalise_phone
from schemas.privacy import (
    Pseudonymizer,
    hash_id_number,
    mask_id_number,
    mask_name,
    mask_phone,
    normalise_id_number,
)

DIALECT: Final = "visitor-cloud"

MAX_VISITORS: Final = 50
"""Visitors one registration may carry; more is refused as `oversized`."""


VISIT_PURPOSES: Final[Mapping[int, VisitPurpose]] = MappingProxyType(
    {
        1: "owner",  # 业主本人
        2: "relative",  # 探亲
        3: "tenant",  # 租户
        4: "friend",  # 访友
        5: "colleague",  # 公务/同事
        6: "decoration",  # 装修
        7: "housekeeper",  # 家政
        8: "driver",  # 司机/送客
        9: "other",  # 其他
    }
)
"""`purpose` code -> canonical purpose; any other integer becomes `other`."""

UNKNOWN_PURPOSE: Final[VisitPurpose] = "other"


@dataclass(frozen=True, slots=True)
class MessageType:
    """What a `msgType` means: the visitor action its events report."""

    description: str
    action: VisitorAction


MESSAGE_TYPES: Final[Mapping[str, MessageType]] = MappingProxyType(
    {
        "registration": MessageType("visit registered, one event per visitor", "registered"),
        "checkin": MessageType("visitor passed a gate inward", "checked_in"),
        "checkout": MessageType("visitor passed a gate outward", "checked_out"),
        "cancellation": MessageType("visit cancelled, one event for the visit", "cancelled"),
    }
)
"""`msgType` -> meaning; any other type is refused as `unsupported_event`."""

_MSG_TYPE_WORD: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,39}")
"""An unknown `msgType` an error text may name (with no run of four digits)."""
_SHORT_CODE: Final = re.compile(r"[0-9]{1,4}")


_DeviceId = Annotated[str, Field(min_length=1)]
_Time = Annotated[str, Field(max_length=40)]
_VisitId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$")]
_HouseCode = Annotated[str, Field(min_length=1, max_length=64)]
_IdTypeCode = Annotated[str, Field(max_length=16)]
_IdNumber = Annotated[str, Field(min_length=1, max_length=40)]
_Name = Annotated[str, Field(max_length=64)]
_Phone = Annotated[str, Field(max_length=32), AfterValidator(normalise_phone)]
_Plate = Annotated[str, Field(max_length=16)]
_VisitorIndex = Annotated[int, Field(ge=0, lt=MAX_VISITORS)]

# The models use `STRICT_PAYLOAD`. Strings with lone surrogates (valid JSON escapes, not
# Unicode) are refused by pydantic itself in every bounded or patterned field above; `msgType`
# is only looked up, so none needs `adapters.fields.encodable`.


class _Envelope(BaseModel):
    """Just the message type: other types have other shapes, refused before they are validated."""

    model_config = STRICT_PAYLOAD

    msg_type: str = Field(alias="msgType")


class _Message(BaseModel):
    """The fields every message type shares."""

    model_config = STRICT_PAYLOAD

    msg_type: str = Field(alias="msgType")
    visit_id: _VisitId = Field(alias="visitId")
    event_time: _Time = Field(alias="eventTime")
    service_id: _DeviceId | None = Field(default=None, alias="serviceId")
    house_code: _HouseCode | None = Field(default=None, alias="houseCode")


class _Visitor(BaseModel):
    """One registered visitor; every personal field is masked or hashed before it leaves."""

    model_config = STRICT_PAYLOAD

    id_type: _IdTypeCode = Field(alias="idType")
    id_number: _IdNumber = Field(alias="idNumber")
    name: _Name | None = None
    phone: _Phone | None = None
    purpose: int | None = None
    plate_no: _Plate | None = Field(default=None, alias="plateNo")


class _Registration(_Message):
    """A visit registered for a house, with its validity window and its visitors."""

    house_code: _HouseCode = Field(alias="houseCode")
    start_time: _Time = Field(alias="startTime")
    end_time: _Time = Field(alias="endTime")
    visitors: list[_Visitor] = Field(min_length=1, max_length=MAX_VISITORS)


class _GatePass(_Message):
    """A visitor passing a gate: named by position in the registration and/or by ID number."""

    gate_device_id: _DeviceId = Field(alias="gateDeviceId")
    visitor_index: _VisitorIndex | None = Field(default=None, alias="visitorIndex")
    id_type: _IdTypeCode | None = Field(default=None, alias="idType")
    id_number: _IdNumber | None = Field(default=None, alias="idNumber")


class _Cancellation(_Message):
    """A visit withdrawn before or during its validity window."""


_MODELS: Final[Mapping[str, type[_Message]]] = MappingProxyType(
    {
        "registration": _Registration,
        "checkin": _GatePass,
        "checkout": _GatePass,
        "cancellation": _Cancellation,
    }
)


class _RegistrationJson(_Registration):
    msg_type: Literal["registration"] = Field(alias="msgType")


class _GatePassJson(_GatePass):
    msg_type: Literal["checkin", "checkout"] = Field(alias="msgType")


class _CancellationJson(_Cancellation):
    msg_type: Literal["cancellation"] = Field(alias="msgType")


_FAST_PATH: Final[TypeAdapter[_RegistrationJson | _GatePassJson | _CancellationJson]] = TypeAdapter(
    Annotated[
        _RegistrationJson | _GatePassJson | _CancellationJson,
        Field(discriminator="msg_type"),
    ]
)
"""Valid messages (the common case) are validated in one pass straight from their bytes."""


@dataclass(frozen=True, slots=True)
class _Identity:
    """A visitor's identity as it may leave the adapter: hashed and masked, never raw."""

    visitor_ref: str
    id_type: IdType
    id_masked: str


class VisitorCloudAdapter:
    """Parses cloud visitor service messages into `VisitorEvent`s, hashing and masking PII."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            "msgType": frozenset({*MESSAGE_TYPES, "heartbeat"}),
            "msgId": "id",
            "visitId": "id",
            "eventTime": "time",
            "serviceId": "device_id",
            "startTime": "time",
            "endTime": "time",
            "gateDeviceId": "device_id",
            "visitorIndex": "code",
            "idType": "code",
            "visitors[].idType": "code",
            "visitors[].purpose": "code",
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The message's events, or `PayloadError` naming why there are none."""
        document = _message(message.payload)
        checked_identifier(document.visit_id, "visitId")
        when = from_iso_with_offset(document.event_time, "eventTime")
        action = MESSAGE_TYPES[document.msg_type].action
        if isinstance(document, _Registration):
            return self._registration(message, document, when)
        if isinstance(document, _GatePass):
            return [self._gate_pass(message, document, when, action)]
        return [_cancellation(message, document, when, action)]

    def _registration(
        self, message: RawMessage, document: _Registration, when: datetime
    ) -> list[DeviceEvent]:
        """One event per visitor, sharing the visit, the house and the validity window."""
        valid_from = from_iso_with_offset(document.start_time, "startTime")
        valid_until = from_iso_with_offset(document.end_time, "endTime")
        if valid_until <= valid_from:
            raise PayloadError("bad_time", "endTime is not after startTime")
        identities = [
            self._identity(visitor.id_type, visitor.id_number, f"visitors.{index}.")
            for index, visitor in enumerate(document.visitors)
        ]
        device_id = _service_device_id(message, document)
        events: list[DeviceEvent] = []
        for index, (visitor, identity) in enumerate(
            zip(document.visitors, identities, strict=True)
        ):
            event_id = stable_event_id(
                DIALECT, device_id, document.visit_id, "registered", when.isoformat(), f"#{index}"
            )
            header = event_header(
                message, dialect=DIALECT, device_id=device_id, event_id=event_id, occurred_at=when
            )
            events.append(
                VisitorEvent(
                    **header,
                    action="registered",
                    visit_id=document.visit_id,
                    visitor_ref=identity.visitor_ref,
                    id_type=identity.id_type,
                    id_masked=identity.id_masked,
                    name_masked=mask_name(visitor.name),
                    phone_masked=mask_phone(visitor.phone) if visitor.phone else None,
                    host_house=document.house_code,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    purpose=_purpose(visitor.purpose),
                    plate_no=normalise_plate(visitor.plate_no),
                )
            )
        return events

    def _gate_pass(
        self, message: RawMessage, document: _GatePass, when: datetime, action: VisitorAction
    ) -> VisitorEvent:
        """One event at the gate; the visitor's identity only when the service sent the number."""
        identity: _Identity | None = None
        if document.id_number is not None:
            if document.id_type is None:
                raise PayloadError("schema", "idType: required when idNumber is given")
            identity = self._identity(document.id_type, document.id_number, "")
        if document.visitor_index is not None:
            visitor_key = f"#{document.visitor_index}"
        elif identity is not None:
            visitor_key = identity.visitor_ref
        else:
            raise PayloadError("schema", "<root>: name the visitor by visitorIndex or idNumber")
        device_id = checked_device_id(document.gate_device_id)
        event_id = stable_event_id(
            DIALECT, device_id, document.visit_id, action, when.isoformat(), visitor_key
        )
        header = event_header(
            message, dialect=DIALECT, device_id=device_id, event_id=event_id, occurred_at=when
        )
        return VisitorEvent(
            **header,
            action=action,
            visit_id=document.visit_id,
            visitor_ref=None if identity is None else identity.visitor_ref,
            id_type=None if identity is None else identity.id_type,
            id_masked=None if identity is None else identity.id_masked,
            host_house=document.house_code,
        )

    def _identity(self, type_code: str, raw_number: str, where: str) -> _Identity:
        """Validate the number for its type, then keep only its hash and its mask."""
        code = ID_TYPES.get(type_code)
        if code is None:
            shown = f" {type_code!r}" if _SHORT_CODE.fullmatch(type_code) else ""
            raise PayloadError(
                "unknown_code", f"{where}idType{shown} is not a GA/T 517 type this dialect maps"
            )
        number = normalise_id_number(raw_number)
        problem = code.problem(number)
        if problem is not None:
            raise PayloadError("bad_id_number", f"{where}idNumber {problem}")
        return _Identity(
            visitor_ref=hash_id_number(self._pseudonymizer, number),
            id_type=code.id_type,
            id_masked=mask_id_number(number),
        )


def _cancellation(
    message: RawMessage, document: _Message, when: datetime, action: VisitorAction
) -> VisitorEvent:
    """One event for the whole visit: the registration's events carry the visitors."""
    device_id = _service_device_id(message, document)
    event_id = stable_event_id(DIALECT, device_id, document.visit_id, action, when.isoformat())
    header = event_header(
        message, dialect=DIALECT, device_id=device_id, event_id=event_id, occurred_at=when
    )
    return VisitorEvent(
        **header, action=action, visit_id=document.visit_id, host_house=document.house_code
    )


def _purpose(code: int | None) -> VisitPurpose | None:
    if code is None:
        return None
    return VISIT_PURPOSES.get(code, UNKNOWN_PURPOSE)


def _message(payload: bytes) -> _Message:
    """The message, validated in one pass from bytes when it is valid (the common case);
    otherwise step by step, so the dead letter names the first thing wrong with it."""
    fast = fast_path(_FAST_PATH.validate_json, payload)
    if fast is not None:
        return fast
    document = decode_json_object(payload)
    msg_type = validate(_Envelope, document).msg_type
    model = _MODELS.get(msg_type)
    if model is None:
        raise PayloadError("unsupported_event", _describe_msg_type(msg_type))
    visitors = document.get("visitors")
    if model is _Registration and isinstance(visitors, list) and len(visitors) > MAX_VISITORS:
        raise PayloadError(
            "oversized", f"visitors has {len(visitors)} entries, at most {MAX_VISITORS} allowed"
        )
    return validate(model, document)


def _describe_msg_type(msg_type: str) -> str:
    """Name the message type only when it is a short plain word, never arbitrary service text.

    Digit runs are refused too: a service that puts an ID number there must not leak it.
    """
    if is_safe_token(msg_type, _MSG_TYPE_WORD):
        return f"message type {msg_type!r} is not supported"
    return "unsupported message type"


def _service_device_id(message: RawMessage, document: _Message) -> str:
    """The topic's service id when routing found one, else the payload's own `serviceId`."""
    missing = "neither the topic nor the payload names the service"
    return resolve_device_id(message, document.service_id, prefer="topic", missing=missing)
