"""Mapping dialects: an operator describes a vendor's JSON in the TOML config, without code.

A `[[dialects]]` entry in the configuration file becomes an adapter like any coded one: it
has a name (usable in the default topic layout and in `[[topics]]` bindings), may claim its own
topic template, and turns one JSON object into one canonical event of `schemas.events`. The
description is data, read by a fixed interpreter: no `eval`, no code, no regular expressions
from the config, and the work per message is bounded (paths of at most 16 steps, at most 8
alternatives nested at most 4 deep, at most 32 event rules).

    [[dialects]]
    name = "acme-door"                        # the dialect name: a-z 0-9 . _ -, 64 at most
    topic = "acme/{community}/{device_id}/event"
    kind = "access"                           # the canonical event kind it produces

    [dialects.id]                             # optional: what identifies the event
    paths = ["data.recordId", "$occurred_at"]

    [dialects.fields]
    occurred_at = { path = "data.time", format = "epoch_ms" }
    method = { path = "data.openType", map = { "1" = "card", "2" = "face" }, default = "unknown" }
    result = { path = "data.success", map = { "true" = "granted", "false" = "denied" } }
    direction = { const = "unknown" }
    credential = { path = "data.cardNo", hash = "card" }
    door = { path = "data.doorNo" }
    vendor_code = { template = "acme/{data.openType}" }

Dialect keys:

- `name` (required): a-z 0-9 . _ -; not a built-in dialect's name, not repeated.
- `topic`: a topic template of `/`-separated levels, each literal text, `+`, `{capture}` or a
  final `#`. `{community}` and `{device_id}` give the event's community and device; other
  captures can be read by fields. The gateway subscribes to it with `+` for every capture.
  Without `topic`, the dialect is still reachable as `{community}/{name}/{device_id}` (the
  default layout) and through `[[topics]]` bindings.
- `community`: the community, when `topic` has no `{community}` capture.
- `when`: conditions every payload must meet, else it is refused (`unsupported_event`):
  `{ "path" = value }` or `{ "path" = [value, ...] }`. Quote dotted paths.
- `kind` and `[dialects.fields]`: the one event kind made, and how its fields are filled.
- `[[dialects.events]]`, instead of `kind`: rules, each with `kind`, `when` and `fields`; the
  first rule whose `when` holds makes the event, none holding is `unknown_code`. The dialect's
  own `fields` are shared by every rule; a rule's field of the same name wins.
- `[dialects.id] paths`: up to 8 payload paths or `$field` references (a canonical field
  already filled, e.g. `$occurred_at`) whose values identify the event: the id is
  `stable_event_id(name, device_id, *values)`. Without `id`, or when a value is absent, it is
  the hash of topic and payload, which a redelivery reproduces as well.

A field takes exactly one source, then at most one transform:

- `path`: a payload value, `data.items[0].plate` (`[-1]` is the last element).
- `const`: a constant, a canonical value.
- `template`: text with `{path}` placeholders; `{path:hex}` writes an integer as `0x1f`.
- `capture`: a topic capture; `device_id` and `community` are the routed ones.
- `first`: a list of field specs; the first that gives a value wins.
- `map`: payload value -> canonical value. Keys are text: numbers as written (`"1"`),
  booleans as `"true"` / `"false"`. `unmapped` is the value for a present value the map does
  not list; without it such a value is `unknown_code` (refused, not guessed).
- `default`: the value when the source is absent: missing, `null` or `""`.
- `required = true`: refuse a payload without it (`schema`), though the canonical field is
  optional. Canonical required fields (`method`...) are always required.
- `format`, date-time fields only: `epoch_ms`, `epoch_s`, `iso8601` or a strptime pattern
  (`%Y-%m-%d %H:%M:%S`); `timezone` (`+08:00`, `UTC`, `Asia/Shanghai`) reads times written
  without an offset, and a pattern without `%z` requires it: device time is never guessed.
- `scale`: multiply a number (`0.01` turns a percentage into 0-1).
- `hash`: the keyed hash (`gateway.privacy.Pseudonymizer`) in this namespace (`card`...).
- `mask`: `id_number`, `phone` or `name`, the display masks of `gateway.privacy`.

Rules the interpreter applies, so a mapping cannot weaken the canonical contract:

- Personal data enters an event only hashed or masked. `credential` and every `*_ref` field
  need `hash` (on the field or on every alternative); `id_masked` and `matched_id_masked` need
  `mask = "id_number"`, `phone_masked` `mask = "phone"`, `name_masked` `mask = "name"`. Those
  fields take no `const`, `default`, `map` or `unmapped`. Hashes in the `id_number` namespace
  are of the upper-cased, trimmed number, as every dialect hashes ID numbers.
- Each event is validated by the canonical model of its kind, so a wrong value is a
  `schema` dead letter, never a crash; constants and map values are checked against the
  canonical field's type at start-up already.
- `plate_no` is normalised like every dialect's (`adapters.plates.normalise_plate`); when the
  mapping does not fill `has_plate`, it is whether a plate was read. `image_url` must be an
  absolute http(s) or ftp URL: a picture travels by reference, never as bytes.
- Numbers going into text fields (`door`, `lane`...) are written in decimal.
- The event's device is the routed one (topic) unless `fields.device_id` says otherwise.
- Config errors name the key and its line in the file (see `gateway.config.load_config`).

Mapping dialects are deliberately more lenient than coded ones about *types* (a code sent as
`1` or `"1"` maps alike); they are just as strict about *meaning* (unmapped codes are refused).
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from functools import cached_property
from types import MappingProxyType, NoneType, UnionType
from typing import Annotated, Any, ClassVar, Final, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from adapters.base import (
    Adapter,
    RawMessage,
    decode_json_object,
    payload_event_id,
    stable_event_id,
    validation_detail,
)
from adapters.plates import normalise_plate
from adapters.times import from_epoch_ms, from_iso_with_offset
from gateway.errors import PayloadError
from gateway.privacy import Pseudonymizer, mask_id_number, mask_phone
from schemas.events import DeviceEvent, EventBase, EventKind, device_event_adapter

MAX_PATH_DEPTH: Final = 16
MAX_ALTERNATIVES: Final = 8
MAX_NESTING: Final = 4
MAX_RULES: Final = 32
MAX_ID_PARTS: Final = 8
MAX_MAP_ENTRIES: Final = 4096
MAX_WHEN_PATHS: Final = 16
MAX_WHEN_VALUES: Final = 256
MAX_TEMPLATE_PLACEHOLDERS: Final = 8
MAX_TOPIC_LEVELS: Final = 16
_MAX_DEVICE_ID: Final = 64
"""The bound `schemas.events.EventBase.device_id` enforces; checked here to name the reason."""
_MAX_NAME_CHARS: Final = 64

Scalar = StrictStr | StrictBool | StrictInt | StrictFloat
"""A TOML value a mapping may hold: text, boolean or number (TOML has no null)."""

JsonPath = tuple[str | int, ...]

_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_COMMUNITY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_CAPTURE: Final = re.compile(r"\{([a-z_][a-z0-9_]{0,31})\}")
_PATH: Final = re.compile(r"[^.\[\]{}]+(?:\.[^.\[\]{}]+|\[-?[0-9]{1,6}\])*")
_PATH_STEP: Final = re.compile(r"([^.\[\]{}]+)|\[(-?[0-9]{1,6})\]")
_PLACEHOLDER: Final = re.compile(r"\{([^{}]+?)(:hex)?\}")
_FIELD_REF: Final = re.compile(r"\$([a-z_][a-z0-9_]{0,63})")
_OFFSET: Final = re.compile(r"([+-])([0-9]{2}):([0-9]{2})")
_ZONE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+){0,2}")
_EPOCH_FORMATS: Final = frozenset({"epoch_ms", "epoch_s"})
_NAMED_FORMATS: Final = frozenset({*_EPOCH_FORMATS, "iso8601"})
_IMAGE_URL: Final = re.compile(r"(?:https?|ftp)://[!-~]{1,2040}", re.IGNORECASE)
_ID_NUMBER: Final = re.compile(r"[0-9A-Z]{6,32}")
_PHONE_SEPARATORS: Final = re.compile(r"[\s\-()]")
_PHONE: Final = re.compile(r"[0-9]{7,15}")
_ROUTED_CAPTURES: Final = frozenset({"community", "device_id"})


class SpecError(ValueError):
    """A configuration problem located below the value being validated.

    `loc` continues pydantic's error location (keys and list indices), so `load_config` can
    name the exact key and its line in the TOML file.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
        self.message = message


# --- what the canonical events accept ------------------------------------------------------

MaskKind = Literal["id_number", "phone", "name"]
Protection = Literal["hash", "id_number", "phone", "name", "mask"]

_MASK_OF_FIELD: Final[Mapping[str, MaskKind]] = MappingProxyType(
    {
        "id_masked": "id_number",
        "matched_id_masked": "id_number",
        "phone_masked": "phone",
        "name_masked": "name",
    }
)
_HEADER_FIELDS: Final = frozenset(EventBase.model_fields)
_MAPPABLE_HEADER_FIELDS: Final = frozenset({"device_id", "occurred_at"})


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
        if name == "kind" or (name in _HEADER_FIELDS and name not in _MAPPABLE_HEADER_FIELDS):
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
        )
    return MappingProxyType(targets)


def _event_models() -> dict[str, type[BaseModel]]:
    union = get_args(DeviceEvent)[0]
    return {model.model_fields["kind"].default: model for model in get_args(union)}


TARGETS: Final[Mapping[str, Mapping[str, Target]]] = MappingProxyType(
    {kind: _targets(model) for kind, model in _event_models().items()}
)
"""kind -> the canonical fields a mapping may fill; derived from `schemas.events`."""


# --- small parsers shared by validation and evaluation -------------------------------------


def parse_path(text: str) -> JsonPath:
    """`data.items[0].plate` -> ("data", "items", 0, "plate"); ValueError when malformed."""
    if not _PATH.fullmatch(text):
        raise ValueError(
            f"{text!r} is not a path like data.items[0].plate (names separated by dots, "
            "[n] for an array element)"
        )
    steps: list[str | int] = [
        name if name else int(index) for name, index in _PATH_STEP.findall(text)
    ]
    if len(steps) > MAX_PATH_DEPTH:
        raise ValueError(f"{text!r} is deeper than {MAX_PATH_DEPTH} steps")
    return tuple(steps)


@dataclass(frozen=True, slots=True)
class _Placeholder:
    path: JsonPath
    label: str
    hex: bool


TemplatePart = str | _Placeholder


def parse_template(text: str) -> tuple[TemplatePart, ...]:
    """`"{a.b}/{c:hex}"` -> parts; `{{` and `}}` write braces. ValueError when malformed."""
    parts: list[TemplatePart] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        if text.startswith(("{{", "}}"), position):
            literal.append(text[position])
            position += 2
            continue
        char = text[position]
        if char == "}":
            raise ValueError("a lone } in template (write }} for a brace)")
        if char != "{":
            literal.append(char)
            position += 1
            continue
        match = _PLACEHOLDER.match(text, position)
        if match is None:
            raise ValueError("a { in template opens no {path} placeholder (write {{ for a brace)")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_Placeholder(parse_path(match[1]), match[1], hex=match[2] is not None))
        position = match.end()
    if literal:
        parts.append("".join(literal))
    placeholders = sum(isinstance(part, _Placeholder) for part in parts)
    if placeholders == 0:
        raise ValueError("template has no {path} placeholder: use const for fixed text")
    if placeholders > MAX_TEMPLATE_PLACEHOLDERS:
        raise ValueError(f"template has more than {MAX_TEMPLATE_PLACEHOLDERS} placeholders")
    return tuple(parts)


def parse_zone(text: str) -> tzinfo:
    """`UTC`, `Z`, `+08:00` or an IANA name such as `Asia/Shanghai`; ValueError otherwise."""
    if text in ("UTC", "Z"):
        return UTC
    offset = _OFFSET.fullmatch(text)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        if int(hours) > 14 or int(minutes) > 59:
            raise ValueError(f"{text!r} is not a UTC offset between -14:00 and +14:00")
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        return timezone(-delta if sign == "-" else delta)
    if _ZONE_NAME.fullmatch(text):
        try:
            return ZoneInfo(text)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise ValueError(f"{text!r} is not UTC, an offset like +08:00, nor a time zone name")


def _check_format(text: str) -> None:
    if text in _NAMED_FORMATS:
        return
    if "%" not in text:
        raise ValueError(
            "format must be epoch_ms, epoch_s, iso8601 or a strptime pattern "
            "such as %Y-%m-%d %H:%M:%S"
        )
    sample = datetime(2026, 11, 26, 7, 58, 12, 345_000, tzinfo=timezone(timedelta(hours=8)))
    try:
        datetime.strptime(sample.strftime(text), text)
    except ValueError:
        raise ValueError(
            f"{text!r} cannot read back the times it writes (%Z is not supported: use %z "
            "or timezone)"
        ) from None


@dataclass(frozen=True, slots=True)
class TopicTemplate:
    """A topic template such as `acme/{community}/{device_id}/event`, compiled."""

    levels: tuple[str, ...]
    """Each level: literal text, `+`, `#`, or a capture's name in braces."""

    @property
    def captures(self) -> frozenset[str]:
        return frozenset(level[1:-1] for level in self.levels if level.startswith("{"))

    @property
    def filter(self) -> str:
        """The MQTT filter to subscribe to: `+` for every capture."""
        return "/".join("+" if level.startswith("{") else level for level in self.levels)

    def match(self, topic: str) -> dict[str, str] | None:
        """The captures when `topic` fits the template (no capture empty), else None."""
        levels = topic.split("/")
        multi = self.levels[-1] == "#"
        fixed = self.levels[:-1] if multi else self.levels
        if len(levels) < len(fixed) or (not multi and len(levels) != len(fixed)):
            return None
        captures: dict[str, str] = {}
        for pattern, level in zip(fixed, levels, strict=False):
            if pattern.startswith("{"):
                if not level:
                    return None
                captures[pattern[1:-1]] = level
            elif pattern not in ("+", level):
                return None
        return captures


def parse_topic_template(text: str) -> TopicTemplate:
    """Compile a topic template; ValueError naming what is wrong with it."""
    levels = text.split("/")
    if len(levels) > MAX_TOPIC_LEVELS:
        raise ValueError(f"topic has more than {MAX_TOPIC_LEVELS} levels")
    if text.startswith("$"):
        raise ValueError("topic must not start with $ (broker-internal topics)")
    seen: set[str] = set()
    for index, level in enumerate(levels):
        if not level:
            raise ValueError("topic has an empty level")
        if level == "#":
            if index != len(levels) - 1:
                raise ValueError("# may only be the last level of topic")
            continue
        capture = _CAPTURE.fullmatch(level)
        if capture is not None:
            if capture[1] in seen:
                raise ValueError(f"topic captures {{{capture[1]}}} twice")
            seen.add(capture[1])
            continue
        if level != "+" and any(char in level for char in "+#{}"):
            raise ValueError(
                f"topic level {level!r} must be literal text, +, # or one {{capture}} (a-z, 0-9, _)"
            )
    return TopicTemplate(tuple(levels))


# --- the configuration model ---------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SOURCES: Final = ("path", "const", "template", "capture", "first")
_TRANSFORMS: Final = ("map", "scale", "format", "hash", "mask")


class FieldSpec(_Strict):
    """How one canonical field is filled: one source, then at most one transform."""

    path: str | None = None
    const: Scalar | None = None
    template: str | None = None
    capture: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,31}$")] | None = None
    first: Annotated[list["FieldSpec"], Field(min_length=1, max_length=MAX_ALTERNATIVES)] | None = (
        None
    )
    map: Annotated[dict[str, Scalar], Field(min_length=1, max_length=MAX_MAP_ENTRIES)] | None = None
    unmapped: Scalar | None = None
    default: Scalar | None = None
    scale: float | None = None
    format: Annotated[str, Field(max_length=64)] | None = None
    timezone: str | None = None
    hash: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    mask: MaskKind | None = None
    required: bool = False
    """Refuse payloads without it (`schema`), even when the canonical field is optional."""

    @field_validator("path")
    @classmethod
    def _path_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_path(value)
        return value

    @field_validator("template")
    @classmethod
    def _template_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_template(value)
        return value

    @field_validator("format")
    @classmethod
    def _format_is_known(cls, value: str | None) -> str | None:
        if value is not None:
            _check_format(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_is_known(cls, value: str | None) -> str | None:
        if value is not None:
            parse_zone(value)
        return value

    @field_validator("scale")
    @classmethod
    def _scale_is_a_factor(cls, value: float | None) -> float | None:
        if value is not None and (value == 0 or not math.isfinite(value)):
            raise ValueError("scale must be a finite, non-zero number")
        return value

    @model_validator(mode="after")
    def _coherent(self) -> "FieldSpec":
        sources = [key for key in _SOURCES if getattr(self, key) is not None]
        if len(sources) != 1:
            given = f" (got {' and '.join(sources)})" if sources else ""
            raise SpecError((), f"give exactly one of path, const, template, capture, first{given}")
        transforms = [key for key in _TRANSFORMS if getattr(self, key) is not None]
        if self.const is not None:
            extra = [
                *transforms,
                *(k for k in ("default", "unmapped", "timezone") if getattr(self, k) is not None),
            ]
            if extra:
                raise SpecError((extra[0],), f"{extra[0]} does nothing to a const value")
        if len(transforms) > 1:
            raise SpecError(
                (transforms[1],),
                f"{transforms[0]} and {transforms[1]} cannot both apply to one value "
                "(use first, or nest the second in an alternative)",
            )
        if self.unmapped is not None and self.map is None:
            raise SpecError(("unmapped",), "unmapped only applies with map")
        if self.timezone is not None and self.format is None:
            raise SpecError(("timezone",), "timezone only applies with format")
        if self.format in _EPOCH_FORMATS and self.timezone is not None:
            raise SpecError(("timezone",), "epoch times are UTC by definition: remove timezone")
        if (
            self.format is not None
            and self.format not in _NAMED_FORMATS
            and "%z" not in self.format
            and self.timezone is None
        ):
            raise SpecError(
                ("format",),
                'the pattern has no %z: set timezone (e.g. "+08:00"); device time is never guessed',
            )
        return self


def _no_nested_tables(value: object) -> object:
    """`{ a.b = 1 }` unquoted is a nested table in TOML; say so instead of a type error."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict):
                raise SpecError(
                    (str(key),), f'write dotted paths quoted: {{ "{key}.…" = … }}, not {key}.…'
                )
    return value


def _when_paths_parse(value: dict[str, Scalar | list[Scalar]]) -> dict[str, Scalar | list[Scalar]]:
    for key in value:
        try:
            parse_path(key)
        except ValueError as exc:
            raise SpecError((key,), str(exc)) from None
    return value


When = Annotated[
    dict[
        str,
        Scalar | Annotated[list[Scalar], Field(min_length=1, max_length=MAX_WHEN_VALUES)],
    ],
    BeforeValidator(_no_nested_tables),
    Field(max_length=MAX_WHEN_PATHS),
]


class IdSpec(_Strict):
    """What identifies an event: payload paths and `$field` references, in order."""

    paths: Annotated[list[str], Field(min_length=1, max_length=MAX_ID_PARTS)]

    @field_validator("paths")
    @classmethod
    def _parts_parse(cls, value: list[str]) -> list[str]:
        for index, part in enumerate(value):
            if part.startswith("$"):
                if not _FIELD_REF.fullmatch(part):
                    raise SpecError((index,), f"{part!r} is not a $field reference")
                continue
            try:
                parse_path(part)
            except ValueError as exc:
                raise SpecError((index,), str(exc)) from None
        return value


class EventRule(_Strict):
    """One kind of event a multi-kind dialect makes, and when."""

    kind: EventKind
    when: When = Field(default_factory=dict)
    fields: dict[str, FieldSpec] = Field(default_factory=dict)

    @field_validator("when")
    @classmethod
    def _when_parses(
        cls, value: dict[str, Scalar | list[Scalar]]
    ) -> dict[str, Scalar | list[Scalar]]:
        return _when_paths_parse(value)


class MappingSpec(_Strict):
    """One `[[dialects]]` entry: a JSON dialect described in the configuration file."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    topic: Annotated[str, Field(min_length=1, max_length=256)] | None = None
    community: Annotated[str, Field(pattern=_COMMUNITY_PATTERN)] | None = None
    when: When = Field(default_factory=dict)
    id: IdSpec | None = None
    kind: EventKind | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    events: Annotated[list[EventRule], Field(max_length=MAX_RULES)] = Field(default_factory=list)

    @field_validator("topic")
    @classmethod
    def _topic_parses(cls, value: str | None) -> str | None:
        if value is not None:
            parse_topic_template(value)
        return value

    @field_validator("when")
    @classmethod
    def _when_parses(
        cls, value: dict[str, Scalar | list[Scalar]]
    ) -> dict[str, Scalar | list[Scalar]]:
        return _when_paths_parse(value)

    @cached_property
    def template(self) -> TopicTemplate | None:
        """The compiled `topic`, or None when the dialect claims no topic of its own."""
        return None if self.topic is None else parse_topic_template(self.topic)

    def rules(self) -> list[tuple[tuple[str | int, ...], EventRule]]:
        """Each event rule with its location: the dialect itself when it has one `kind`."""
        if self.kind is not None:
            return [((), EventRule(kind=self.kind))]
        return [(("events", index), rule) for index, rule in enumerate(self.events)]

    @model_validator(mode="after")
    def _coherent(self) -> "MappingSpec":
        captures = _ROUTED_CAPTURES
        if self.template is not None:
            captures = captures | self.template.captures
            if "community" not in self.template.captures and self.community is None:
                raise SpecError(
                    ("topic",),
                    'topic has no {community} capture: capture it or set community = "<code>"',
                )
        elif self.community is not None:
            raise SpecError(
                ("community",), "community only applies to the dialect's own topic: set topic"
            )
        if self.kind is None and not self.events:
            raise SpecError(("kind",), "set kind (one event kind) or add [[dialects.events]] rules")
        if self.kind is not None and self.events:
            raise SpecError(("events",), "set kind or [[dialects.events]], not both")
        for rule_loc, rule in self.rules():
            self._check_rule(rule_loc, rule, captures)
        return self

    def _check_rule(
        self, rule_loc: tuple[str | int, ...], rule: EventRule, captures: frozenset[str]
    ) -> None:
        targets = TARGETS[rule.kind]
        merged = {**self.fields, **rule.fields}
        for name, spec in merged.items():
            loc = (*rule_loc, "fields", name) if name in rule.fields else ("fields", name)
            target = targets.get(name)
            if target is None:
                raise SpecError(loc, _unknown_field(name, rule.kind, targets))
            _check_node(spec, target, captures, loc, depth=0, formatted=False, protected=False)
        missing = [n for n, target in targets.items() if target.required and n not in merged]
        if missing:
            raise SpecError(
                (*rule_loc, "fields"), f"{rule.kind} events need fields: {', '.join(missing)}"
            )
        if self.id is not None:
            for index, part in enumerate(self.id.paths):
                if part.startswith("$") and part[1:] not in targets:
                    raise SpecError(
                        ("id", "paths", index), f"{rule.kind} events have no field {part[1:]!r}"
                    )


def _unknown_field(name: str, kind: str, targets: Mapping[str, Target]) -> str:
    if name in _HEADER_FIELDS or name == "kind":
        return f"{name} is set by the gateway, not by a mapping"
    return f"{kind} events have no field {name!r}; they have {', '.join(targets)}"


def _check_node(
    spec: FieldSpec,
    target: Target,
    captures: frozenset[str],
    loc: tuple[str | int, ...],
    *,
    depth: int,
    formatted: bool,
    protected: bool,
) -> None:
    """Check a field spec against the canonical field it fills (recursing into `first`)."""
    name = target.name
    if depth > MAX_NESTING:
        raise SpecError(loc, f"alternatives nest deeper than {MAX_NESTING} levels")
    if depth > 0 and spec.required:
        raise SpecError((*loc, "required"), "required applies to the field, not an alternative")
    if spec.capture is not None and spec.capture not in captures:
        raise SpecError((*loc, "capture"), f"topic has no {{{spec.capture}}} capture")
    if spec.format is not None and not target.instant:
        raise SpecError((*loc, "format"), f"format only applies to date-time fields, not {name}")
    if target.instant:
        _refuse(spec, ("const", "map", "default", "unmapped", "scale"), loc, "a date-time")
    if target.protection is not None:
        protected = protected or _protects(spec, target.protection, loc)
        _refuse(spec, ("const", "map", "default", "unmapped"), loc, "personal data")
    formatted = formatted or spec.format is not None
    _check_constants(spec, target, loc)
    for index, alternative in enumerate(spec.first or ()):
        _check_node(
            alternative,
            target,
            captures,
            (*loc, "first", index),
            depth=depth + 1,
            formatted=formatted,
            protected=protected,
        )
    if spec.first is not None:
        return
    if target.instant and not formatted:
        raise SpecError(
            loc, f"{name} is a date-time: give format (epoch_ms, epoch_s, iso8601 or a pattern)"
        )
    if target.protection is not None and not protected:
        remedy = {"hash": 'hash = "<namespace>"', "mask": "mask"}.get(
            target.protection, f'mask = "{target.protection}"'
        )
        raise SpecError(
            loc, f"{name} is personal data: give {remedy}; the raw value is never stored"
        )


def _refuse(spec: FieldSpec, keys: tuple[str, ...], loc: tuple[str | int, ...], what: str) -> None:
    for key in keys:
        if getattr(spec, key) is not None:
            raise SpecError((*loc, key), f"this field is {what}: it takes no {key}")


def _protects(spec: FieldSpec, protection: Protection, loc: tuple[str | int, ...]) -> bool:
    """Whether this spec hashes or masks as the field requires; a wrong one is an error."""
    if protection == "hash":
        if spec.mask is not None:
            raise SpecError((*loc, "mask"), 'this field is joined by keyed hash: use hash = "…"')
        return spec.hash is not None
    if spec.hash is not None:
        raise SpecError((*loc, "hash"), "this field is shown masked: use mask, not hash")
    if spec.mask is not None and protection not in ("mask", spec.mask):
        raise SpecError((*loc, "mask"), f'this field needs mask = "{protection}"')
    return spec.mask is not None


def _check_constants(spec: FieldSpec, target: Target, loc: tuple[str | int, ...]) -> None:
    """Constants and map values are canonical values: check them now, not per message."""
    constants: list[tuple[tuple[str | int, ...], Scalar]] = [
        ((key,), value)
        for key in ("const", "default", "unmapped")
        if (value := getattr(spec, key)) is not None
    ]
    if spec.map is not None:
        constants.extend((("map", key), value) for key, value in spec.map.items())
    for where, value in constants:
        try:
            target.checker.validate_python(_canonical_text(value) if target.text else value)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"]
            raise SpecError((*loc, *where), f"not a valid {target.name}: {problem}") from None


def _canonical_text(value: object) -> object:
    """Numbers bound for text fields are written in decimal."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


# --- evaluation ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Miss:
    """No value: the source was absent, or (unmapped) its value was not in the map."""

    label: str
    unmapped: bool = False


TimeParser = Callable[[object, str], datetime]


@dataclass(frozen=True, slots=True)
class _Node:
    """A compiled field spec."""

    label: str
    path: JsonPath | None = None
    const: Scalar | None = None
    template: tuple[TemplatePart, ...] | None = None
    capture: str | None = None
    alternatives: tuple["_Node", ...] = ()
    mapping: Mapping[str, Scalar] | None = None
    unmapped: Scalar | None = None
    default: Scalar | None = None
    scale: Decimal | None = None
    time: TimeParser | None = None
    hash: str | None = None
    mask: MaskKind | None = None


def _compile(spec: FieldSpec) -> _Node:
    alternatives = tuple(_compile(alternative) for alternative in spec.first or ())
    if spec.path is not None:
        label = spec.path
    elif spec.template is not None:
        label = spec.template
    elif spec.capture is not None:
        label = f"topic {{{spec.capture}}}"
    elif alternatives:
        label = " or ".join(alternative.label for alternative in alternatives)
    else:
        label = "const"
    zone = None if spec.timezone is None else parse_zone(spec.timezone)
    return _Node(
        label=label,
        path=None if spec.path is None else parse_path(spec.path),
        const=spec.const,
        template=None if spec.template is None else parse_template(spec.template),
        capture=spec.capture,
        alternatives=alternatives,
        mapping=None if spec.map is None else MappingProxyType(dict(spec.map)),
        unmapped=spec.unmapped,
        default=spec.default,
        scale=None if spec.scale is None else Decimal(str(spec.scale)),
        time=None if spec.format is None else _time_parser(spec.format, zone),
        hash=spec.hash,
        mask=spec.mask,
    )


def _lookup(document: object, path: JsonPath) -> object:
    """The value at `path`, or None when any step is missing or of the wrong kind."""
    node = document
    for step in path:
        if isinstance(step, int):
            if not isinstance(node, list) or not -len(node) <= step < len(node):
                return None
            node = node[step]
        else:
            if not isinstance(node, dict):
                return None
            node = node.get(step)
        if node is None:
            return None
    return node


def _key(value: object, field: str, label: str) -> str:
    """A payload value as a map key: text as is, numbers as written, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise PayloadError("schema", f"{field} at {label} is not a single value")


def _text(value: object, field: str, label: str) -> str:
    """Text for a hash or mask: a string, or an integer in decimal; nothing else."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise PayloadError("schema", f"{field} at {label} is not text")


def _encodable(value: str, field: str, label: str) -> str:
    """Refuse lone surrogates: JSON escapes allow them, but they cannot be stored as UTF-8."""
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:
            raise PayloadError("schema", f"{field} at {label} is not valid Unicode text") from None
    return value


def _to_utc(local: datetime, zone: tzinfo | None, label: str) -> datetime:
    if local.utcoffset() is None:
        if zone is None:
            raise PayloadError(
                "bad_time", f"{label} has no UTC offset; device time is never guessed"
            )
        local = local.replace(tzinfo=zone)
    try:
        return local.astimezone(UTC)
    except OverflowError:
        raise PayloadError("bad_time", f"{label} is out of range once converted to UTC") from None


def _time_parser(fmt: str, zone: tzinfo | None) -> TimeParser:
    """A parser for one `format`: payload value -> UTC instant, or PayloadError("bad_time")."""

    def epoch_ms(value: object, label: str) -> datetime:
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 16:
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise PayloadError("bad_time", f"{label} is not epoch milliseconds")
        return from_epoch_ms(value, label)

    def epoch_s(value: object, label: str) -> datetime:
        seconds = _decimal(value) if not isinstance(value, bool) else None
        if seconds is None or not seconds.is_finite() or abs(seconds) > 10**12:
            raise PayloadError("bad_time", f"{label} is not epoch seconds")
        return from_epoch_ms(int(seconds * 1000), label)

    def iso8601(value: object, label: str) -> datetime:
        if not isinstance(value, str):
            raise PayloadError("bad_time", f"{label} is not an ISO 8601 date-time")
        if zone is None:
            return from_iso_with_offset(value, label)
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise PayloadError("bad_time", f"{label} is not an ISO 8601 date-time") from None
        return _to_utc(parsed, zone, label)

    def pattern(value: object, label: str) -> datetime:
        if not isinstance(value, str):
            raise PayloadError("bad_time", f"{label} is not text in the format {fmt!r}")
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            raise PayloadError("bad_time", f"{label} does not match the format {fmt!r}") from None
        return _to_utc(parsed, zone, label)

    parsers: dict[str, TimeParser] = {"epoch_ms": epoch_ms, "epoch_s": epoch_s, "iso8601": iso8601}
    return parsers.get(fmt, pattern)


def _decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return Decimal(str(value).strip()) if isinstance(value, str) else Decimal(str(value))
    except InvalidOperation:
        return None


def _mask(kind: MaskKind, text: str, field: str, label: str) -> str | None:
    """The display mask; text that does not look like what it should is refused, not shown."""
    if kind == "name":
        name = text.strip()
        if len(name) > _MAX_NAME_CHARS:
            raise PayloadError("schema", f"{field} at {label} is longer than a name")
        if not name:
            return None
        return "*" if len(name) == 1 else name[0] + "*" * (len(name) - 1)
    if kind == "phone":
        phone = _PHONE_SEPARATORS.sub("", text).removeprefix("+86").removeprefix("0086")
        if not _PHONE.fullmatch(phone):
            raise PayloadError("schema", f"{field} at {label} is not a phone number")
        return mask_phone(phone)
    number = text.strip().upper()
    if not _ID_NUMBER.fullmatch(number):
        raise PayloadError("schema", f"{field} at {label} is not an identity number")
    return mask_id_number(number)


@dataclass(frozen=True, slots=True)
class _Context:
    document: dict[str, object]
    message: RawMessage
    captures: Mapping[str, str]
    field: str


class _Evaluator:
    """Evaluates compiled field specs against one payload."""

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        self._pseudonymizer = pseudonymizer

    def value(self, node: _Node, context: _Context) -> object:
        """The node's value, or a `_Miss`."""
        value = self._source(node, context)
        if isinstance(value, _Miss):
            return value if node.default is None else node.default
        field, label = context.field, node.label
        if node.mapping is not None:
            mapped = node.mapping.get(_key(value, field, label))
            if mapped is None:
                return _Miss(label, unmapped=True) if node.unmapped is None else node.unmapped
            return mapped
        if node.scale is not None:
            number = _decimal(value)
            scaled = None if number is None else float(number * node.scale)
            if scaled is None or not math.isfinite(scaled):
                raise PayloadError("schema", f"{field} at {label} is not a finite number")
            return scaled
        if node.time is not None:
            return node.time(value, label)
        if node.hash is not None:
            text = _text(value, field, label)
            if node.hash == "id_number":
                text = text.strip().upper()
            return self._pseudonymizer.hash(node.hash, text)
        if node.mask is not None:
            masked = _mask(node.mask, _text(value, field, label), field, label)
            return _Miss(label) if masked is None else masked
        return value

    def _source(self, node: _Node, context: _Context) -> object:
        if node.path is not None:
            return _payload_value(context.document, node.path, context.field, node.label)
        if node.const is not None:
            return node.const
        if node.template is not None:
            return self._template(node.template, context)
        if node.capture is not None:
            captured = _capture(node.capture, context)
            return captured if captured else _Miss(node.label)
        first_miss: _Miss | None = None
        for alternative in node.alternatives:
            value = self.value(alternative, context)
            if not isinstance(value, _Miss):
                return value
            if first_miss is None or (value.unmapped and not first_miss.unmapped):
                first_miss = value
        return _Miss(node.label, unmapped=first_miss is not None and first_miss.unmapped)

    def _template(self, parts: tuple[TemplatePart, ...], context: _Context) -> object:
        written: list[str] = []
        for part in parts:
            if isinstance(part, str):
                written.append(part)
                continue
            value = _payload_value(context.document, part.path, context.field, part.label)
            if isinstance(value, _Miss):
                return value
            if part.hex:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise PayloadError(
                        "schema", f"{context.field} at {part.label} is not an integer"
                    )
                written.append(format(value, "#x"))
            else:
                written.append(_key(value, context.field, part.label))
        return "".join(written)


def _payload_value(document: dict[str, object], path: JsonPath, field: str, label: str) -> object:
    value = _lookup(document, path)
    if value is None or value == "":
        return _Miss(label)
    if isinstance(value, dict | list):
        what = "an object" if isinstance(value, dict) else "an array"
        raise PayloadError("schema", f"{field} at {label} is {what}, not a single value")
    if isinstance(value, str):
        return _encodable(value, field, label)
    return value


def _capture(name: str, context: _Context) -> str | None:
    if name == "device_id":
        return context.message.device_id
    if name == "community":
        return context.message.community
    return context.captures.get(name)


@dataclass(frozen=True, slots=True)
class _Condition:
    path: JsonPath
    label: str
    accepted: frozenset[str]


def _unmet(conditions: tuple[_Condition, ...], document: object) -> _Condition | None:
    """The first condition whose path does not hold one of its values, or None if all hold.

    Values are compared as map keys are: `5` and `"5"` alike.
    """
    for condition in conditions:
        value = _lookup(document, condition.path)
        if isinstance(value, dict | list) or value is None:
            return condition
        if _key(value, "when", condition.label) not in condition.accepted:
            return condition
    return None


def _absent(condition: _Condition, document: object) -> bool:
    return _lookup(document, condition.path) in (None, "")


def _conditions(when: Mapping[str, Scalar | list[Scalar]]) -> tuple[_Condition, ...]:
    return tuple(
        _Condition(
            parse_path(path),
            path,
            frozenset(
                _key(v, "when", path) for v in (values if isinstance(values, list) else [values])
            ),
        )
        for path, values in when.items()
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    when: tuple[_Condition, ...]
    occurred_at: _Node
    device_id: _Node | None
    fields: tuple[tuple[Target, _Node, bool], ...]
    """Each field's target, compiled spec, and whether the payload must give it."""
    derive_has_plate: bool


@dataclass(frozen=True, slots=True)
class _IdPart:
    field: str | None
    path: JsonPath
    label: str


class MappingAdapter:
    """The interpreter of one `MappingSpec`; `mapping_adapter` makes one class per dialect."""

    dialect: ClassVar[str]
    spec: ClassVar[MappingSpec]

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        spec = self.spec
        self._evaluator = _Evaluator(pseudonymizer)
        self._template = spec.template
        self._when = _conditions(spec.when)
        self._rules = tuple(self._compile_rule(spec, rule) for _, rule in spec.rules())
        self._id = tuple(
            _IdPart(part[1:], (), part)
            if part.startswith("$")
            else _IdPart(None, parse_path(part), part)
            for part in (spec.id.paths if spec.id is not None else ())
        )

    @staticmethod
    def _compile_rule(spec: MappingSpec, rule: EventRule) -> _Rule:
        targets = TARGETS[rule.kind]
        merged = {**spec.fields, **rule.fields}
        fields = tuple(
            (targets[name], _compile(field_spec), targets[name].required or field_spec.required)
            for name, field_spec in merged.items()
            if name not in _MAPPABLE_HEADER_FIELDS
        )
        device_id = merged.get("device_id")
        return _Rule(
            kind=rule.kind,
            when=_conditions(rule.when),
            occurred_at=_compile(merged["occurred_at"]),
            device_id=None if device_id is None else _compile(device_id),
            fields=fields,
            derive_has_plate="plate_no" in merged
            and "has_plate" in targets
            and "has_plate" not in merged,
        )

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one event the payload describes, or `PayloadError` naming why there is none."""
        document = decode_json_object(message.payload)
        unmet = _unmet(self._when, document)
        if unmet is not None:
            if _absent(unmet, document):
                raise PayloadError("schema", f"when path {unmet.label} missing")
            raise PayloadError("unsupported_event", f"payload does not meet when ({unmet.label})")
        rule = self._rule(document)
        captures = {} if self._template is None else self._template.match(message.topic) or {}

        def context(field: str) -> _Context:
            return _Context(document, message, captures, field)

        occurred_at = self._evaluator.value(rule.occurred_at, context("occurred_at"))
        if isinstance(occurred_at, _Miss):
            raise PayloadError("schema", f"occurred_at path {occurred_at.label} missing")
        assert isinstance(occurred_at, datetime)  # format is required on date-time fields
        device_id = self._device_id(rule, message, context("device_id"))
        data: dict[str, object] = {}
        for target, node, required in rule.fields:
            value = self._evaluator.value(node, context(target.name))
            if isinstance(value, _Miss):
                if value.unmapped:
                    raise PayloadError(
                        "unknown_code", f"{target.name}: the value at {value.label} is not mapped"
                    )
                if required:
                    raise PayloadError("schema", f"{target.name} path {value.label} missing")
                continue
            value = _canonical(target, value, node.label)
            if value is not None:
                data[target.name] = value
        if rule.derive_has_plate:
            data["has_plate"] = data.get("plate_no") is not None
        document_event = {
            "event_id": self._event_id(message, document, device_id, occurred_at, data),
            "community": message.community,
            "device_id": device_id,
            "occurred_at": occurred_at,
            "received_at": message.received_at,
            "dialect": self.dialect,
            "kind": rule.kind,
            **data,
        }
        try:
            return [device_event_adapter.validate_python(document_event)]
        except ValidationError as exc:
            raise PayloadError("schema", validation_detail(exc)) from None

    def _rule(self, document: dict[str, object]) -> _Rule:
        """The first rule whose `when` holds. When none does because a path they test is
        missing, the payload lacks its event code (`schema`); else the code is unknown."""
        missing: list[str] = []
        for rule in self._rules:
            unmet = _unmet(rule.when, document)
            if unmet is None:
                return rule
            if _absent(unmet, document):
                missing.append(unmet.label)
        if len(missing) == len(self._rules):
            raise PayloadError("schema", f"when path {missing[0]} missing")
        raise PayloadError("unknown_code", "no event rule's when holds for the payload")

    def _device_id(self, rule: _Rule, message: RawMessage, context: _Context) -> str:
        if rule.device_id is None:
            device_id = message.device_id
        else:
            value = self._evaluator.value(rule.device_id, context)
            device_id = None if isinstance(value, _Miss) else str(_canonical_text(value))
        if not device_id:
            raise PayloadError("no_device_id", "neither the topic nor the payload names the device")
        if len(device_id) > _MAX_DEVICE_ID:
            raise PayloadError(
                "bad_device_id", f"device id is longer than {_MAX_DEVICE_ID} characters"
            )
        return device_id

    def _event_id(
        self,
        message: RawMessage,
        document: dict[str, object],
        device_id: str,
        occurred_at: datetime,
        data: Mapping[str, object],
    ) -> str:
        parts: list[str] = []
        for part in self._id:
            if part.field is None:
                value = _lookup(document, part.path)
            elif part.field == "occurred_at":
                value = occurred_at
            elif part.field == "device_id":
                value = device_id
            else:
                value = data.get(part.field)
            if isinstance(value, datetime):
                parts.append(value.isoformat())
            elif isinstance(value, str | int | float) and value != "":
                parts.append(_encodable(_key(value, "id", part.label), "id", part.label))
            else:
                return payload_event_id(self.dialect, message)
        if not parts:
            return payload_event_id(self.dialect, message)
        return stable_event_id(self.dialect, device_id, *parts)


def _canonical(target: Target, value: object, label: str) -> object:
    """The value as the canonical field takes it (the model still validates it after)."""
    if target.text:
        value = _canonical_text(value)
    if target.name == "plate_no" and isinstance(value, str):
        return normalise_plate(value)
    if target.name == "image_url" and isinstance(value, str) and not _IMAGE_URL.fullmatch(value):
        raise PayloadError(
            "schema", f"image_url at {label} must be an absolute http(s) or ftp URL, not the image"
        )
    return value


def mapping_adapter(spec: MappingSpec) -> type[Adapter]:
    """An adapter class for one configured dialect, registrable like a built-in one."""
    configured = spec

    class ConfiguredDialect(MappingAdapter):
        dialect: ClassVar[str] = configured.name
        spec: ClassVar[MappingSpec] = configured

    ConfiguredDialect.__name__ = ConfiguredDialect.__qualname__ = f"MappingAdapter[{spec.name}]"
    return ConfiguredDialect


def topic_templates(specs: Sequence[MappingSpec]) -> list[tuple[TopicTemplate, MappingSpec]]:
    """The dialects that claim their own topics, with their compiled templates, in order."""
    return [(spec.template, spec) for spec in specs if spec.template is not None]
