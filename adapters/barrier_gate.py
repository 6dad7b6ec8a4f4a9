"""Parking barrier gates: one plate read per message, as compact JSON.

The gate controller (one per car-park entrance or exit, often driving several lanes) publishes
each read it makes::

    {
      "recordId": "YD-N1-20261126-000123",
      "gateId": "YD-GATE-N1",
      "ts": 1795652130123,
      "plate": "湘A·12345",
      "plateColor": 1,
      "dir": "in",
      "lane": 2,
      "conf": 0.97,
      "pic": "http://10.43.1.30/pic/20261126/081530-000123.jpg"
    }

| field | required | type | meaning |
|---|---|---|---|
| `ts` | yes | integer | when the plate was read, epoch milliseconds (UTC) |
| `plate` | yes | string or null | the plate read; `""`, null, `未识别`, `无牌`: no plate |
| `dir` | yes | `"in"`, `"out"`, 1 or 2 | which way the vehicle passes (1 in, 2 out) |
| `recordId` | no | string, `[0-9A-Za-z_.:-]{1,64}` | the controller's own record number |
| `gateId` | no | string, `[0-9A-Za-z_.:-]{1,64}` | the gate; the topic's device code when absent |
| `plateColor` | no | integer or null | JT/T 415: 1 blue 2 yellow 3 black 4 white 5 green 9 other |
| `lane` | no | integer 0-255 or null | the lane number at this gate |
| `conf` | no | number 0-1 or null | the recogniser's confidence in the plate |
| `pic` | no | string or null | the picture's URL (screened: `schemas.image_urls`) |

Any other field is ignored. Types are strict: `"ts": "1764116130123"` is a schema error. A `pic`
that is no usable http(s) URL (a `data:` URI would carry the image bytes into storage) is
dropped and listed, the pass kept; a login, query or fragment in it is never stored. A plate colour
outside the JT/T 415 list becomes `other` (see `adapters.plates.plate_color`); a `dir` outside
the list is refused (`unknown_code`): in and out drive the car-park rules, so a wrong guess is
worse than a counted dead letter. A gate id (the payload's or the topic's) holding an ID or
mobile number is refused (`pii_in_identifier`). Plate text outside the plate alphabet is no
plate: the pass is kept with `plate_no` null, `has_plate` false and the drop listed in
`dropped_fields`; other plates are kept, `plate_standard` saying whether they follow GA 36
(`schemas.plates`).

The event id is the controller's `recordId` when it sends one, otherwise the read itself (time,
lane and the plate as the event keeps it): a redelivered message reproduces it either way.
"""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, ClassVar, Final

from pydantic import BaseModel, BeforeValidator, Field

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
from adapters.fields import STRICT_PAYLOAD, ImageUrl, PlateText, is_safe_code, is_safe_token
from adapters.plates import JTT415_PLATE_COLORS, normalise_plate, plate_color
from adapters.times import from_epoch_ms
from schemas.codes import Direction
from schemas.errors import PayloadError
from schemas.events import DeviceEvent, VehiclePass
from schemas.privacy import Pseudonymizer
from schemas.screening import Plate, kept

DIALECT: Final = "barrier-gate"

DIRECTION_CODES: Final[Mapping[int | str, Direction]] = MappingProxyType(
    {"in": "in", "out": "out", 1: "in", 2: "out"}
)
"""`dir` as the controller sends it -> the canonical direction."""

_IDENTIFIER: Final = r"^[0-9A-Za-z_.:\-]{1,64}$"
_SAFE_WORD: Final = re.compile(r"[A-Za-z][A-Za-z_]{0,15}")


def _text_or_integer(value: object) -> object:
    """`dir` is a word or a number; anything else is refused with one clear error."""
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise ValueError("must be a string or an integer")


_Identifier = Annotated[str, Field(pattern=_IDENTIFIER)]
_DirectionCode = Annotated[int | str, BeforeValidator(_text_or_integer)]


class _PlateRead(BaseModel):
    """One plate read, as the module docstring specifies it."""

    model_config = STRICT_PAYLOAD

    ts: int
    plate: PlateText | None
    direction: _DirectionCode = Field(alias="dir")
    record_id: _Identifier | None = Field(default=None, alias="recordId")
    gate_id: _Identifier | None = Field(default=None, alias="gateId")
    plate_color: Annotated[int, Field(ge=0, le=99)] | None = Field(default=None, alias="plateColor")
    lane: Annotated[int, Field(ge=0, le=255)] | None = None
    confidence: Annotated[float, Field(ge=0, le=1)] | None = Field(default=None, alias="conf")
    picture: ImageUrl | None = Field(default=None, alias="pic")


class BarrierGateAdapter:
    """Parses barrier-gate plate reads into vehicle passes."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            "recordId": "id",
            "gateId": "device_id",
            "ts": "time",
            "dir": frozenset(str(code) for code in DIRECTION_CODES),
            "plateColor": "code",
            "lane": "code",
            "conf": "number",
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer  # plates are not hashed; kept for the contract

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one vehicle pass a message carries, or `PayloadError` naming why there is none."""
        read = _plate_read(message.payload)
        direction = DIRECTION_CODES.get(read.direction)
        if direction is None:
            raise PayloadError(
                "unknown_code", f"dir {_describe_code(read.direction)} is not mapped"
            )
        when = from_epoch_ms(read.ts, "ts")
        device_id = resolve_device_id(  # one controller may drive several gates
            message,
            read.gate_id,
            prefer="payload",
            missing="neither the payload's gateId nor the topic names the gate",
        )
        plate = normalise_plate(read.plate)
        lane = None if read.lane is None else str(read.lane)
        if read.record_id is not None:
            event_id = stable_event_id(DIALECT, device_id, "record", read.record_id)
        else:
            plate_id = kept(Plate(), plate) or ""  # never a hash of text dropped as no plate
            event_id = stable_event_id(
                DIALECT, device_id, "read", str(read.ts), lane or "", plate_id
            )
        header = event_header(
            message, dialect=DIALECT, device_id=device_id, event_id=event_id, occurred_at=when
        )
        return [
            VehiclePass(
                **header,
                plate_no=plate,
                has_plate=plate is not None,
                plate_color=plate_color(read.plate_color, JTT415_PLATE_COLORS),
                direction=direction,
                lane=lane,
                confidence=read.confidence,
                image_url=read.picture,
            )
        ]


def _plate_read(payload: bytes) -> _PlateRead:
    """The read, validated in one pass from bytes when it is valid (the common case); otherwise
    decoded first, so the dead letter says whether the JSON or its fields are wrong."""
    read = fast_path(_PlateRead.model_validate_json, payload)
    return read if read is not None else validate(_PlateRead, decode_json_object(payload))


def _describe_code(code: int | str) -> str:
    """Echo a small number or a short plain word; anything else might be arbitrary text."""
    if isinstance(code, int):
        return str(code) if is_safe_code(code) else "(a large number)"
    return repr(code) if is_safe_token(code, _SAFE_WORD) else "(a text value)"
