"""The canonical fields a mapping may fill, derived from `schemas.events`, and their values.

This is the contract side of a mapping: which fields exist per kind, which are required,
date-times or personal data, and how a mapped value is shaped before the canonical model
validates it. Deriving it from the event models keeps mappings from drifting off the schema.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin

from pydantic import AwareDatetime, BaseModel, TypeAdapter

from adapters.base import checked_identifier
from adapters.mapping.transforms import MaskKind
from adapters.plates import normalise_plate
from schemas.events import DERIVED_FIELDS, DeviceEvent, EventBase
from schemas.identifiers import NoPersonalNumber
from schemas.screening import Marker, screened_fields

Protection = Literal["hash", "id_number", "phone", "name", "mask"]

_MASK_OF_FIELD: Final[Mapping[str, MaskKind]] = MappingProxyType(
    {
        "id_masked": "id_number",
        "matched_id_masked": "id_number",
        "phone_masked": "phone",
        "name_masked": "name",
    }
)
HEADER_FIELDS: Final = frozenset(EventBase.model_fields)
MAPPABLE_HEADER_FIELDS: Final = frozenset({"device_id", "occurred_at"})


@dataclass(frozen=True, slots=True)
class Target:
    """A canonical field a mapping may fill, and what the interpreter must guarantee for it."""

    name: str
    required: bool
    text: bool
    """Plain text (`str | None`): numbers are written in decimal before validation."""
    instant: bool
    """A date-time: its value must come through `format`."""
    protection: Protection | None
    """Personal data: `hash`, a specific mask, or any mask (`mask`)."""
    checker: TypeAdapter[Any]
    screen: Marker | None
    """How the event screens the field's text (a name, a reference, a plate), if it does."""
    identifier: bool
    """An identifier the event cannot do without: a personal number in it refuses the payload."""


def _protection(name: str) -> Protection | None:
    if name == "credential" or name.endswith("_ref"):
        return "hash"
    if name.endswith("_masked"):
        return _MASK_OF_FIELD.get(name, "mask")
    return None


def _is_text(annotation: object) -> bool:
    if annotation is str:
        return True
    return get_origin(annotation) in (Union, UnionType) and set(get_args(annotation)) == {
        str,
        NoneType,
    }


def _mentions_instant(annotation: object) -> bool:
    if annotation is AwareDatetime or annotation is datetime:
        return True
    return any(_mentions_instant(argument) for argument in get_args(annotation))


def _targets(model: type[BaseModel]) -> Mapping[str, Target]:
    targets: dict[str, Target] = {}
    for name, info in model.model_fields.items():
        if name == "kind" or name in DERIVED_FIELDS:
            continue
        if name in HEADER_FIELDS and name not in MAPPABLE_HEADER_FIELDS:
            continue
        annotation: Any = info.annotation
        checked: Any = Annotated[annotation, *info.metadata] if info.metadata else annotation
        targets[name] = Target(
            name=name,
            required=info.is_required() and name != "device_id",
            text=_is_text(annotation),
            instant=_mentions_instant(annotation),
            protection=_protection(name),
            checker=TypeAdapter(checked),
            screen=screened_fields(model).get(name),
            identifier=any(isinstance(item, NoPersonalNumber) for item in info.metadata),
        )
    return MappingProxyType(targets)


def _event_models() -> dict[str, type[BaseModel]]:
    union = get_args(DeviceEvent)[0]
    return {model.model_fields["kind"].default: model for model in get_args(union)}


TARGETS: Final[Mapping[str, Mapping[str, Target]]] = MappingProxyType(
    {kind: _targets(model) for kind, model in _event_models().items()}
)
"""kind -> the canonical fields a mapping may fill; derived from `schemas.events`."""


def canonical_text(value: object) -> object:
    """Numbers bound for text fields are written in decimal."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def canonical(target: Target, value: object, label: str) -> object:
    """The value as the canonical field takes it (the model still validates it after)."""
    if target.text:
        value = canonical_text(value)
    if target.identifier and isinstance(value, str):
        checked_identifier(value, target.name)
    if target.name == "plate_no" and isinstance(value, str):
        return normalise_plate(value)
    return value
