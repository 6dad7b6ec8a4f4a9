"""Cloud community platforms' door-access records (云门禁): one JSON object per door opening.

Cloud platforms front many brands of door controller and push each opening as a record of
their own "thing" model, on `{community}/access-cloud/{device}`:

    {
      "recordId": "R2026112608001200000301",
      "thingCode": "34020000001320000301",
      "thingName": "B03-U1 unit door",
      "spaceCode": "B03-U1-D1",
      "spaceName": "3栋1单元门",
      "openMethod": 100101,
      "openResult": 1,
      "inOutType": 1,
      "openTime": 1764115212000,
      "userId": "U2026000301",
      "userName": "张三",
      "userType": 1,
      "cardNo": "3188542196",
      "phone": "13812345678",
      "idCardNo": "430112199001011234",
      "snapUrl": "https://oss.example.com/snap/R2026112608001200000301.jpg"
    }

`openMethod`, `openResult` (1 success, 0 failure) and `openTime` (epoch milliseconds) are
required; `inOutType` (1 in, 2 out), `recordId`, `thingCode`, `spaceCode` (the door),
`cardNo`, `userId` and `idCardNo` are optional; anything else is ignored. The door
(`spaceCode`) is a name: dropped and listed in `dropped_fields`, the record kept, when it breaks
the rules of `schemas.identifiers`; a `thingCode` (or topic device) holding an ID or mobile
number refuses the record (`pii_in_identifier`).

`OPEN_METHODS` maps the platform's six-digit method codes to canonical open methods; any other
code is refused (`unknown_code`), not guessed. Bluetooth, phone-app, and intercom opens are all
`remote`: the door opens on a command from the resident's phone or indoor station, not on a
credential the reader verifies itself (Bluetooth is only the phone's transport to the reader);
`vendor_code` keeps which one it was. The keypad code a resident types on a phone call to the
door is a `password`.

Personal data: names, phones and pictures are never read. The credential is a keyed hash of
what the person presented: the card number (namespace `card`, so a card joins its swipes at
Hikvision doors), for an ID-card opening the ID number (namespace `id_number`, upper-cased), and
otherwise the platform's user id (namespace `cloud-user`). The ID number is never hashed for
other methods: a face opening need not be tied to a national ID.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, ClassVar, Final

from pydantic import AfterValidator, BaseModel, Field

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
from adapters.fields import (
    STRICT_PAYLOAD,
    Identifier,
    Text,
    UInt32,
    encodable,
    is_safe_code,
    text_or_uint64,
)
from adapters.times import from_epoch_ms
from schemas.codes import AccessResult, Direction, OpenMethod
from schemas.errors import PayloadError
from schemas.events import AccessEvent, DeviceEvent
from schemas.privacy import Pseudonymizer, credential_ref
from schemas.screening import NAME, kept

DIALECT: Final = "access-cloud"


@dataclass(frozen=True, slots=True)
class OpenMethodCode:
    """How the person tried to open the door, and which way that implies when the record is mute."""

    description: str
    method: OpenMethod
    direction: Direction = "unknown"


OPEN_METHODS: Final[Mapping[int, OpenMethodCode]] = MappingProxyType(
    {
        100101: OpenMethodCode("IC card", "card"),
        100201: OpenMethodCode("face", "face"),
        100301: OpenMethodCode("Bluetooth from the phone app", "remote"),
        100302: OpenMethodCode("remote open from the phone app", "remote"),
        100303: OpenMethodCode("code typed on the phone's keypad", "password"),
        100401: OpenMethodCode("exit button", "button", "out"),
        100402: OpenMethodCode("password on the door keypad", "password"),
        100501: OpenMethodCode("resident ID card", "id_card"),
        100601: OpenMethodCode("visitor intercom call answered", "remote"),
        100701: OpenMethodCode("QR code", "qr"),
    }
)
"""`openMethod` -> what it means; the single place to teach the adapter a new code."""

OPEN_RESULTS: Final[Mapping[int, AccessResult]] = MappingProxyType({1: "granted", 0: "denied"})
"""`openResult` -> result; any other value is refused as an unknown code."""

IN_OUT_TYPES: Final[Mapping[int, Direction]] = MappingProxyType({1: "in", 2: "out"})
"""`inOutType` -> direction; other values (0 is "not set" on some platforms) fall back to the
method's own default."""

_MAX_ID: Final = 128

_Text = Annotated[str, Field(max_length=128), AfterValidator(encodable)]
_Id = Annotated[str | int, text_or_uint64(max_length=_MAX_ID)]
"""Platforms number records and users as strings or unsigned integers; either is only hashed."""


class _Record(BaseModel):
    """One door-opening record; names, phones and pictures are deliberately not modelled."""

    model_config = STRICT_PAYLOAD

    open_method: UInt32 = Field(alias="openMethod")
    open_result: UInt32 = Field(alias="openResult")
    open_time: int = Field(alias="openTime")
    in_out_type: UInt32 | None = Field(default=None, alias="inOutType")
    record_id: _Id | None = Field(default=None, alias="recordId")
    thing_code: Identifier | None = Field(default=None, alias="thingCode")
    space_code: Text | None = Field(default=None, alias="spaceCode")
    card_no: _Text | None = Field(default=None, alias="cardNo")
    user_id: _Id | None = Field(default=None, alias="userId")
    id_card_no: _Text | None = Field(default=None, alias="idCardNo")


class AccessCloudAdapter:
    """Parses cloud platforms' door-opening records into `AccessEvent`s."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            "openMethod": "code",
            "openResult": "code",
            "openTime": "time",
            "inOutType": "code",
            "recordId": "id",
            "thingCode": "device_id",
            "spaceCode": "code",
            "userType": "code",
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one event a record carries, or `PayloadError` naming why there is none."""
        record = _record(message.payload)
        code = OPEN_METHODS.get(record.open_method)
        if code is None:
            raise PayloadError("unknown_code", _unmapped("openMethod", record.open_method))
        result = OPEN_RESULTS.get(record.open_result)
        if result is None:
            raise PayloadError("unknown_code", _unmapped("openResult", record.open_result))
        when = from_epoch_ms(record.open_time, "openTime")
        # A platform forwards many controllers through one connection, so the record's own
        # device code is the authority when it has one.
        device_id = resolve_device_id(message, record.thing_code, prefer="payload")
        door = record.space_code or None
        if record.record_id is not None and record.record_id != "":
            event_id = stable_event_id(DIALECT, device_id, "record", str(record.record_id))
        else:
            event_id = stable_event_id(
                DIALECT,
                device_id,
                "open",
                str(record.open_time),
                str(record.open_method),
                kept(NAME, door) or "",  # never a hash of a dropped door name
            )
        header = event_header(
            message, dialect=DIALECT, device_id=device_id, event_id=event_id, occurred_at=when
        )
        direction = code.direction
        if record.in_out_type is not None:
            direction = IN_OUT_TYPES.get(record.in_out_type, direction)
        return [
            AccessEvent(
                **header,
                direction=direction,
                method=code.method,
                result=result,
                door=door,
                credential=self._credential(record, code),
                vendor_code=str(record.open_method),
            )
        ]

    def _credential(self, record: _Record, code: OpenMethodCode) -> str | None:
        """A keyed hash of what the person presented; see the module's notes on personal data."""
        if code.method == "id_card" and record.id_card_no:
            return credential_ref(self._pseudonymizer, "id_number", record.id_card_no)
        if record.card_no:
            return credential_ref(self._pseudonymizer, "card", record.card_no)
        if record.user_id is not None and record.user_id != "":
            return credential_ref(self._pseudonymizer, "cloud_user", str(record.user_id))
        return None


def _record(payload: bytes) -> _Record:
    """The record, validated in one pass from bytes when it is valid (the common case);
    otherwise decoded first, so the dead letter says whether the JSON or the schema is wrong."""
    record = fast_path(_Record.model_validate_json, payload)
    return record if record is not None else validate(_Record, decode_json_object(payload))


def _unmapped(field: str, value: int) -> str:
    """Name a code outside its table; a number too long to be a code is not echoed."""
    if not is_safe_code(value):
        return f"{field} is not a known code"
    return f"{field} {value} is not mapped"
