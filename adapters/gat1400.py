"""GA/T 1400 (视图库) capture units: face and motor-vehicle objects pushed as JSON.

A message is one GA/T 1400 object list, as the standard's `/VIID/Faces` and
`/VIID/MotorVehicles` requests carry them; a message may hold both lists::

    {"FaceListObject": {"FaceObject": [{...}, ...]}}
    {"MotorVehicleListObject": {"MotorVehicleObject": [{...}, ...]}}

Every object becomes one event (`FaceCapture` or `VehiclePass`), faces first, each in list
order. The fields read are:

- both kinds: `DeviceID` (20-digit GB/T 28181 code; the topic's device code when absent),
  `SubImageList.SubImageInfoObject[].StoragePath` (kept as `image_url`, the face crop or
  vehicle picture preferred, see `FACE_IMAGE_TYPES` and `VEHICLE_IMAGE_TYPES`; what of the URL
  is kept is the event screen's decision, `schemas.image_urls`).
- faces: `FaceID` (48 digits), `FaceAppearTime` (`YYYYMMDDhhmmss`, China Standard Time),
  `IDNumber` (the person the device matched: kept only as a keyed hash and a mask), `GenderCode`,
  `AgeUpLimit`, `AgeLowerLimit`, `IsSuspiciousPerson`, `Similaritydegree` (0-100).
- vehicles: `MotorVehicleID` (48 digits), `PassTime`, `PlateNo`, `HasPlate`, `PlateColor`,
  `PlateClass`, `VehicleClass`, `VehicleColor`, `LaneNo`, `PlateReliability` (0-100).

What is deliberately not read, so never kept: `Name` and `IDType` (the hash and mask of
`IDNumber` are all the gateway keeps of a matched person), the sub-images' inline base64
`Data` and `FeatureObject` face features (images are references, never bytes), and
`Direction`, a compass heading (GA/T 1400 `HDirectionType`: east to west, ...) that says
nothing about in or out without knowing how the camera is mounted, so `direction` stays
`unknown` here and is the device registry's to give.

Plates are judged as every dialect's (`schemas.plates`): text outside the plate alphabet
leaves the object's event without a plate (`has_plate` false, listed in `dropped_fields`), the
other objects untouched. A topic device holding an ID or mobile number refuses the message
(`pii_in_identifier`); a `DeviceID` is a 20-digit code, which never is one.

GA/T 1400 types most codes and percentages as strings (`"GenderCode": "1"`) and many devices
send numbers (`1`): both spellings are accepted, and an empty string is an absent field, as
devices commonly send it. Anything else of the wrong type is a schema error.

A message is dead-lettered whole when any of its objects is bad: the reason is that object's
(`schema`, `bad_time`, `unknown_code`, ...) and the detail names it by index, e.g.
`FaceListObject.FaceObject.3.FaceID: ...`. The message is acknowledged as one unit, and
the good objects of a fixed and resent message keep their event ids, so nothing is doubled.
"""

import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, ClassVar, Final, Literal, TypeVar

from pydantic import AliasChoices, BaseModel, BeforeValidator, Field, StringConstraints

from adapters.base import (
    RawMessage,
    ShownValue,
    decode_json_object,
    event_header,
    fast_path,
    resolve_device_id,
    stable_event_id,
)
from adapters.base import validate as _validate  # tests patch it: oversized lists skip it
from adapters.fields import STRICT_PAYLOAD, ImageUrl, PlateText, is_safe_token
from adapters.plates import GAT1400_PLATE_COLORS, normalise_plate, plate_color
from adapters.times import from_compact_local
from schemas.codes import Gender, PlateColor
from schemas.errors import PayloadError
from schemas.events import DeviceEvent, FaceCapture, VehiclePass
from schemas.image_urls import judge_image_url
from schemas.privacy import Pseudonymizer, hash_id_number, mask_id_number, normalise_id_number

DIALECT: Final = "gat1400"

MAX_OBJECTS: Final = 1000
"""Objects one message may carry; a longer message is refused before its objects are checked."""

MAX_SUB_IMAGES: Final = 32
"""Sub-images one object may carry; devices send two to four (a crop, a scene, ...)."""

Suspicion = Literal["no", "yes", "unsure"]

GENDER_CODES: Final[Mapping[int, Gender]] = MappingProxyType(
    {0: "unknown", 1: "male", 2: "female", 9: "unknown"}
)
"""GB/T 2261.1 sex codes: 0 not known, 1 male, 2 female, 9 not stated."""

SUSPICION_CODES: Final[Mapping[int, Suspicion]] = MappingProxyType({0: "no", 1: "yes", 2: "unsure"})
"""GA/T 1400 `IsSuspiciousPerson`: 0 no, 1 yes, 2 not sure."""

NEW_ENERGY_PLATE_CLASSES: Final[Mapping[int, PlateColor]] = MappingProxyType(
    {51: "yellow_green", 52: "green"}
)
"""GA 24.7 plate classes whose colour the class decides: 51 large new-energy vehicle (yellow and
green), 52 small new-energy car (green). GA/T 1400's colour table has no yellow-green, so a
device reports these plates as yellow, green or other; the class is the reliable signal."""

FACE_IMAGE_TYPES: Final = (11, 14, 10)
"""Which sub-image a face event links to, best first: face (11), scene (14), person (10)."""

VEHICLE_IMAGE_TYPES: Final = (1, 9, 14)
"""Which sub-image a vehicle event links to, best first: vehicle (01), close-up (09), scene."""

_UNKNOWN_CODE_MESSAGES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "GenderCode": "is not a GB/T 2261.1 sex code",
        "IsSuspiciousPerson": "is not 0, 1 or 2",
    }
)
_FACE_LIST: Final = "FaceListObject"
_VEHICLE_LIST: Final = "MotorVehicleListObject"
_LISTS: Final = ((_FACE_LIST, "FaceObject"), (_VEHICLE_LIST, "MotorVehicleObject"))
_DIGITS: Final = re.compile(r"[0-9]{1,3}")
_DECIMAL: Final = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?")


def _blank_as_none(value: object) -> object:
    """Devices send `""` for a field they have no value for: the same as leaving it out."""
    return None if value == "" else value


def _numeric_text(pattern: re.Pattern[str]) -> BeforeValidator:
    """Accept a number spelled as a string (GA/T 1400's own typing) as well as a JSON number."""

    def convert(value: object) -> object:
        if isinstance(value, str) and pattern.fullmatch(value):
            return float(value) if "." in value else int(value)
        return value

    return BeforeValidator(convert)


def _int_text(value: object) -> object:
    """Text codes (`VehicleClass`: `"K33"`) that are all digits may arrive as numbers (`0`)."""
    if type(value) is int and 0 <= value <= 9999:
        return str(value)
    return value


_FLAG_SPELLINGS: Final[Mapping[int | str, bool]] = MappingProxyType(
    {1: True, 0: False, "1": True, "0": False, "true": True, "false": False}
)


def _flag(value: object) -> object:
    """`HasPlate` is a boolean in the standard and `"1"`/`"0"` or 1/0 on many devices."""
    if isinstance(value, int | str) and not isinstance(value, bool):
        return _FLAG_SPELLINGS.get(value, value)
    return value


_Code = Annotated[int, _numeric_text(_DIGITS), Field(ge=0, le=999)]
"""A GA/T 1400 code: `"5"` or `5`."""
_Percent = Annotated[float, _numeric_text(_DECIMAL), Field(ge=0, le=100)]
"""A GA/T 1400 percentage: `"80"`, `80` or `87.5`."""
_Age = Annotated[int, _numeric_text(_DIGITS), Field(ge=0, le=150)]
_ObjectId = Annotated[str, StringConstraints(pattern=r"^[0-9]{48}$")]
"""GA/T 1400 object ids: the 41-digit source id, a 2-digit type and a 5-digit sequence."""
_DeviceCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{20}$")]
_IdNumber = Annotated[str, StringConstraints(pattern=r"^\s*[0-9A-Za-z]{1,30}\s*$")]
_VehicleClass = Annotated[
    str, BeforeValidator(_int_text), StringConstraints(pattern=r"^[0-9A-Za-z]{1,4}$")
]
"""GA 24.4 vehicle class codes (`K33` saloon car, `H11` heavy lorry, ...), kept verbatim."""
_Time = Annotated[str, StringConstraints(max_length=32)]

_OptCode = Annotated[_Code | None, BeforeValidator(_blank_as_none)]
_OptPercent = Annotated[_Percent | None, BeforeValidator(_blank_as_none)]
_OptAge = Annotated[_Age | None, BeforeValidator(_blank_as_none)]
_OptDeviceCode = Annotated[_DeviceCode | None, BeforeValidator(_blank_as_none)]
_OptIdNumber = Annotated[_IdNumber | None, BeforeValidator(_blank_as_none)]
_OptVehicleClass = Annotated[_VehicleClass | None, BeforeValidator(_blank_as_none)]
_OptFlag = Annotated[bool | None, BeforeValidator(_blank_as_none), BeforeValidator(_flag)]


class _SubImage(BaseModel):
    """One sub-image; its inline base64 `Data` is deliberately not modelled, so never kept."""

    model_config = STRICT_PAYLOAD

    image_type: _OptCode = Field(default=None, alias="Type")
    storage_path: ImageUrl | None = Field(default=None, alias="StoragePath")


class _SubImageList(BaseModel):
    model_config = STRICT_PAYLOAD

    images: list[_SubImage] = Field(
        default_factory=list, alias="SubImageInfoObject", max_length=MAX_SUB_IMAGES
    )


class _Face(BaseModel):
    """A `FaceObject`; `Name`, `IDType` and face features are not modelled, so never kept."""

    model_config = STRICT_PAYLOAD

    face_id: _ObjectId = Field(alias="FaceID")
    device_id: _OptDeviceCode = Field(default=None, alias="DeviceID")
    appear_time: _Time = Field(alias="FaceAppearTime")
    id_number: _OptIdNumber = Field(default=None, alias="IDNumber")
    gender: _OptCode = Field(default=None, alias="GenderCode")
    age_max: _OptAge = Field(default=None, alias="AgeUpLimit")
    age_min: _OptAge = Field(default=None, alias="AgeLowerLimit")
    suspicious: _OptCode = Field(default=None, alias="IsSuspiciousPerson")
    similarity: _OptPercent = Field(
        default=None, validation_alias=AliasChoices("Similaritydegree", "SimilarityDegree")
    )
    sub_images: _SubImageList | None = Field(default=None, alias="SubImageList")


class _Vehicle(BaseModel):
    """A `MotorVehicleObject`; `Direction` is a compass heading, not modelled (see above)."""

    model_config = STRICT_PAYLOAD

    vehicle_id: _ObjectId = Field(alias="MotorVehicleID")
    device_id: _OptDeviceCode = Field(default=None, alias="DeviceID")
    pass_time: _Time = Field(alias="PassTime")
    plate_no: PlateText | None = Field(default=None, alias="PlateNo")
    has_plate: _OptFlag = Field(default=None, alias="HasPlate")
    plate_color: _OptCode = Field(default=None, alias="PlateColor")
    plate_class: _OptCode = Field(default=None, alias="PlateClass")
    vehicle_class: _OptVehicleClass = Field(default=None, alias="VehicleClass")
    vehicle_color: _OptCode = Field(default=None, alias="VehicleColor")
    lane: _OptCode = Field(default=None, alias="LaneNo")
    plate_reliability: _OptPercent = Field(default=None, alias="PlateReliability")
    sub_images: _SubImageList | None = Field(default=None, alias="SubImageList")


class _FaceList(BaseModel):
    model_config = STRICT_PAYLOAD

    objects: list[_Face] = Field(alias="FaceObject", max_length=MAX_OBJECTS)


class _VehicleList(BaseModel):
    model_config = STRICT_PAYLOAD

    objects: list[_Vehicle] = Field(alias="MotorVehicleObject", max_length=MAX_OBJECTS)


class _Message(BaseModel):
    """The lists this dialect reads; other GA/T 1400 lists in the same message are ignored."""

    model_config = STRICT_PAYLOAD

    faces: _FaceList | None = Field(default=None, alias=_FACE_LIST)
    vehicles: _VehicleList | None = Field(default=None, alias=_VEHICLE_LIST)

    def object_count(self) -> int:
        return sum(len(items.objects) for items in (self.faces, self.vehicles) if items)


_FACE_FIELDS: Final[Mapping[str, ShownValue]] = MappingProxyType(
    {
        "FaceID": "id",
        "DeviceID": "device_id",
        "FaceAppearTime": "time",
        "Similaritydegree": "number",
    }
)
_VEHICLE_FIELDS: Final[Mapping[str, ShownValue]] = MappingProxyType(
    {
        "MotorVehicleID": "id",
        "DeviceID": "device_id",
        "PassTime": "time",
        "HasPlate": frozenset(str(flag) for flag in _FLAG_SPELLINGS),
        "PlateColor": "code",
        "PlateClass": "code",
        "VehicleClass": "code",
        "VehicleColor": "code",
        "LaneNo": "code",
        "PlateReliability": "number",
    }
)
"""The object fields a dead letter may show, and what each holds."""


class Gat1400Adapter:
    """Parses GA/T 1400 face and motor-vehicle object lists into canonical events."""

    dialect: ClassVar[str] = DIALECT
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = MappingProxyType(
        {
            **{f"FaceListObject.FaceObject[].{key}": kind for key, kind in _FACE_FIELDS.items()},
            **{
                f"MotorVehicleListObject.MotorVehicleObject[].{key}": kind
                for key, kind in _VEHICLE_FIELDS.items()
            },
            **{
                f"{objects}[].SubImageList.SubImageInfoObject[].Type": "code"
                for objects in (
                    "FaceListObject.FaceObject",
                    "MotorVehicleListObject.MotorVehicleObject",
                )
            },
        }
    )

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """One event per object, or `PayloadError` for the whole message (see the module)."""
        document = _message(message.payload)
        faces = document.faces.objects if document.faces else []
        vehicles = document.vehicles.objects if document.vehicles else []
        if not faces and not vehicles:
            raise PayloadError("no_events", "the object lists are empty")
        events: list[DeviceEvent] = [
            self._face(message, face, index) for index, face in enumerate(faces)
        ]
        events.extend(
            self._vehicle(message, vehicle, index) for index, vehicle in enumerate(vehicles)
        )
        return events

    def _face(self, message: RawMessage, face: _Face, index: int) -> FaceCapture:
        path = f"{_FACE_LIST}.FaceObject.{index}"
        device_id = _device_id(message, face.device_id, path)
        if face.age_min is not None and face.age_max is not None and face.age_min > face.age_max:
            raise PayloadError("schema", f"{path}: AgeLowerLimit is above AgeUpLimit")
        matched = normalise_id_number(face.id_number) if face.id_number else None
        header = event_header(
            message,
            dialect=DIALECT,
            device_id=device_id,
            event_id=stable_event_id(DIALECT, device_id, face.face_id),
            occurred_at=from_compact_local(face.appear_time, f"{path}.FaceAppearTime"),
        )
        return FaceCapture(
            **header,
            matched_person_ref=hash_id_number(self._pseudonymizer, matched) if matched else None,
            matched_id_masked=mask_id_number(matched) if matched else None,
            similarity=None if face.similarity is None else face.similarity / 100,
            stranger=matched is None,
            suspicious=_coded(SUSPICION_CODES, face.suspicious, path, "IsSuspiciousPerson"),
            age_min=face.age_min,
            age_max=face.age_max,
            gender=_coded(GENDER_CODES, face.gender, path, "GenderCode"),
            image_url=_pick_image(face.sub_images, FACE_IMAGE_TYPES),
            source_id=face.face_id,
        )

    def _vehicle(self, message: RawMessage, vehicle: _Vehicle, index: int) -> VehiclePass:
        path = f"{_VEHICLE_LIST}.MotorVehicleObject.{index}"
        device_id = _device_id(message, vehicle.device_id, path)
        plate = None if vehicle.has_plate is False else normalise_plate(vehicle.plate_no)
        by_class = (
            None
            if vehicle.plate_class is None
            else NEW_ENERGY_PLATE_CLASSES.get(vehicle.plate_class)
        )
        header = event_header(
            message,
            dialect=DIALECT,
            device_id=device_id,
            event_id=stable_event_id(DIALECT, device_id, vehicle.vehicle_id),
            occurred_at=from_compact_local(vehicle.pass_time, f"{path}.PassTime"),
        )
        return VehiclePass(
            **header,
            plate_no=plate,
            has_plate=plate is not None,
            plate_color=by_class or plate_color(vehicle.plate_color, GAT1400_PLATE_COLORS),
            vehicle_class=vehicle.vehicle_class.upper() if vehicle.vehicle_class else None,
            vehicle_color=(  # GA/T 1400 has one colour table, for plates and bodies alike
                None
                if vehicle.vehicle_color is None
                else plate_color(vehicle.vehicle_color, GAT1400_PLATE_COLORS)
            ),
            lane=None if vehicle.lane is None else str(vehicle.lane),
            confidence=(
                None if vehicle.plate_reliability is None else vehicle.plate_reliability / 100
            ),
            image_url=_pick_image(vehicle.sub_images, VEHICLE_IMAGE_TYPES),
        )


def _message(payload: bytes) -> _Message:
    """The message, validated in one pass from bytes when it is valid (the common case);
    otherwise step by step, so the dead letter names the first thing wrong with it.

    Both paths refuse a list longer than `MAX_OBJECTS` before checking all of it: pydantic stops
    a list at its `max_length`, and the slow path counts before it validates.
    """
    document = fast_path(_Message.model_validate_json, payload)
    if (
        document is not None
        and (document.faces or document.vehicles)
        and document.object_count() <= MAX_OBJECTS
    ):
        return document
    raw = decode_json_object(payload)
    present = [(key, item_key) for key, item_key in _LISTS if key in raw]
    if not present:
        raise PayloadError("unsupported_event", _describe_lists(raw))
    count = 0
    for key, item_key in present:
        wrapper = raw[key]
        items = wrapper.get(item_key) if isinstance(wrapper, dict) else None
        if isinstance(items, list):
            count += len(items)
    if count > MAX_OBJECTS:
        raise PayloadError(
            "oversized", f"{count} objects in one message; at most {MAX_OBJECTS} are accepted"
        )
    return _validate(_Message, raw)


def _describe_lists(document: Mapping[str, object]) -> str:
    """Name the message's first key when it is a short plain word, never arbitrary vendor text.

    Digit runs are refused too: a device that puts an ID number there must not leak it.
    """
    expected = f"expected {_FACE_LIST} or {_VEHICLE_LIST}"
    first = next(iter(document), None)
    if first is None:
        return f"the message is empty; {expected}"
    if is_safe_token(first):
        return f"{first!r} is not supported; {expected}"
    return f"no object list this dialect reads; {expected}"


def _device_id(message: RawMessage, own: str | None, path: str) -> str:
    """The object's own `DeviceID` (a platform may relay many cameras), else the topic's."""
    missing = f"{path} has no DeviceID and the topic names no device"
    return resolve_device_id(message, own, prefer="payload", missing=missing)


_Canonical = TypeVar("_Canonical", bound=str)


def _coded(
    table: Mapping[int, _Canonical], code: int | None, path: str, field: str
) -> _Canonical | None:
    """The canonical value of a closed code table; a code outside it is refused, not guessed."""
    if code is None:
        return None
    value = table.get(code)
    if value is None:
        raise PayloadError("unknown_code", f"{path}.{field} {code} {_UNKNOWN_CODE_MESSAGES[field]}")
    return value


def _pick_image(sub_images: _SubImageList | None, preferred: Sequence[int]) -> str | None:
    """The URL of the best sub-image by type, else of the first that has one.

    URLs the event's screen would keep (`schemas.image_urls`) go first, so an unusable face
    crop does not cost the scene picture; when none is usable, the screen drops (and lists)
    the one picked.
    """
    if sub_images is None:
        return None
    found = [(image.image_type, image.storage_path) for image in sub_images.images]
    present = [(kind, url) for kind, url in found if url is not None]
    usable = [(kind, url) for kind, url in present if judge_image_url(url)[0] is not None]
    urls = usable or present
    for wanted in preferred:
        for kind, url in urls:
            if kind == wanted:
                return url
    return urls[0][1] if urls else None
