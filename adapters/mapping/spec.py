"""The `[[dialects]]` configuration model and its start-up validation.

Everything a mapping can get wrong is refused here, when the gateway starts, with the key at
fault (`SpecError.loc`): unknown or missing canonical fields, personal data not hashed or
masked, date-times without a format, constants the canonical field would not accept. What
passes is safe to interpret per message without further checks of the description.
"""

import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Annotated, Final

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from adapters.mapping.paths import parse_path
from adapters.mapping.targets import (
    HEADER_FIELDS,
    TARGETS,
    Protection,
    Target,
    canonical_text,
)
from adapters.mapping.templates import parse_template
from adapters.mapping.timeformats import EPOCH_FORMATS, NAMED_FORMATS, check_format, parse_zone
from adapters.mapping.topics import TopicTemplate, parse_topic_template
from adapters.mapping.transforms import MaskKind
from schemas.events import DERIVED_FIELDS, EventKind
from schemas.identifiers import NAME_PROBLEMS, name_problem
from schemas.screening import NAME

MAX_ALTERNATIVES: Final = 8
MAX_NESTING: Final = 4
MAX_RULES: Final = 32
MAX_ID_PARTS: Final = 8
MAX_MAP_ENTRIES: Final = 4096
MAX_WHEN_PATHS: Final = 16
MAX_WHEN_VALUES: Final = 256

Scalar = StrictStr | StrictBool | StrictInt | StrictFloat
"""A TOML value a mapping may hold: text, boolean or number (TOML has no null)."""

_NAME_PATTERN: Final = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
_COMMUNITY_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,31}$"
_FIELD_REF: Final = re.compile(r"\$([a-z_][a-z0-9_]{0,63})")
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_SOURCES: Final = ("path", "const", "template", "capture", "first")
_TRANSFORMS: Final = ("map", "scale", "format", "hash", "mask")


def _parsed_by(parse: Callable[[str], object]) -> AfterValidator:
    """Text that `parse` must accept; its ValueError names what is wrong with it."""

    def check(value: str) -> str:
        parse(value)
        return value

    return AfterValidator(check)


class FieldSpec(_Strict):
    """How one canonical field is filled: one source, then at most one transform."""

    path: Annotated[str, _parsed_by(parse_path)] | None = None
    const: Scalar | None = None
    template: Annotated[str, _parsed_by(parse_template)] | None = None
    capture: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,31}$")] | None = None
    first: Annotated[list["FieldSpec"], Field(min_length=1, max_length=MAX_ALTERNATIVES)] | None = (
        None
    )
    map: Annotated[dict[str, Scalar], Field(min_length=1, max_length=MAX_MAP_ENTRIES)] | None = None
    unmapped: Scalar | None = None
    default: Scalar | None = None
    scale: float | None = None
    format: Annotated[str, Field(max_length=64), _parsed_by(check_format)] | None = None
    timezone: Annotated[str, _parsed_by(parse_zone)] | None = None
    hash: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None
    mask: MaskKind | None = None
    required: bool = False
    """Refuse payloads without it (`schema`), even when the canonical field is optional."""

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
        if self.format in EPOCH_FORMATS and self.timezone is not None:
            raise SpecError(("timezone",), "epoch times are UTC by definition: remove timezone")
        if (
            self.format is not None
            and self.format not in NAMED_FORMATS
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
    AfterValidator(_when_paths_parse),
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


class MappingSpec(_Strict):
    """One `[[dialects]]` entry: a JSON dialect described in the configuration file."""

    name: Annotated[str, Field(pattern=_NAME_PATTERN)]
    topic: (
        Annotated[str, Field(min_length=1, max_length=256), _parsed_by(parse_topic_template)] | None
    ) = None
    community: Annotated[str, Field(pattern=_COMMUNITY_PATTERN)] | None = None
    when: When = Field(default_factory=dict)
    id: IdSpec | None = None
    kind: EventKind | None = None
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    events: Annotated[list[EventRule], Field(max_length=MAX_RULES)] = Field(default_factory=list)

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
    if name in HEADER_FIELDS or name in DERIVED_FIELDS or name == "kind":
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
            target.checker.validate_python(canonical_text(value) if target.text else value)
        except ValidationError as exc:
            problem = exc.errors(include_url=False)[0]["msg"]
            raise SpecError((*loc, *where), f"not a valid {target.name}: {problem}") from None
        text = canonical_text(value)
        if target.screen == NAME and isinstance(text, str) and (refused := name_problem(text)):
            message = f"not a valid {target.name}: it {NAME_PROBLEMS[refused]}"
            raise SpecError((*loc, *where), message)


def topic_templates(specs: Sequence[MappingSpec]) -> list[tuple[TopicTemplate, MappingSpec]]:
    """The dialects that claim their own topics, with their compiled templates, in order."""
    return [(spec.template, spec) for spec in specs if spec.template is not None]
