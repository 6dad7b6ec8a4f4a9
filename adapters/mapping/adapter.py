"""The runtime adapter of a mapping dialect: one JSON payload in, one canonical event out.

`mapping_adapter` turns a validated `MappingSpec` into an adapter class registrable like a
coded one; this module holds only the per-message flow (conditions, rule, fields, device,
event id, canonical validation) and leaves each step's detail to its own module.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from pydantic import ValidationError

from adapters.base import (
    Adapter,
    RawMessage,
    ShownValue,
    checked_device_id,
    decode_json_object,
    payload_event_id,
    stable_event_id,
    validation_detail,
)
from adapters.mapping.conditions import Condition, absent, compile_conditions, first_unmet
from adapters.mapping.dead_letters import dead_letter_allow_list
from adapters.mapping.evaluator import Context, Evaluator, Node, compile_field
from adapters.mapping.paths import JsonPath, lookup, parse_path
from adapters.mapping.spec import EventRule, MappingSpec
from adapters.mapping.targets import (
    MAPPABLE_HEADER_FIELDS,
    TARGETS,
    Target,
    canonical,
    canonical_text,
)
from adapters.mapping.values import Miss, as_key, encodable
from schemas.errors import PayloadError
from schemas.events import DeviceEvent, device_event_adapter
from schemas.privacy import Pseudonymizer
from schemas.screening import kept


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: str
    when: tuple[Condition, ...]
    occurred_at: Node
    device_id: Node | None
    fields: tuple[tuple[Target, Node, bool], ...]
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
    dead_letter_fields: ClassVar[Mapping[str, ShownValue]]
    spec: ClassVar[MappingSpec]

    def __init__(self, pseudonymizer: Pseudonymizer) -> None:
        spec = self.spec
        self._evaluator = Evaluator(pseudonymizer)
        self._template = spec.template
        self._when = compile_conditions(spec.when)
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
            (
                targets[name],
                compile_field(field_spec),
                targets[name].required or field_spec.required,
            )
            for name, field_spec in merged.items()
            if name not in MAPPABLE_HEADER_FIELDS
        )
        device_id = merged.get("device_id")
        return _Rule(
            kind=rule.kind,
            when=compile_conditions(rule.when),
            occurred_at=compile_field(merged["occurred_at"]),
            device_id=None if device_id is None else compile_field(device_id),
            fields=fields,
            derive_has_plate="plate_no" in merged
            and "has_plate" in targets
            and "has_plate" not in merged,
        )

    def parse(self, message: RawMessage) -> list[DeviceEvent]:
        """The one event the payload describes, or `PayloadError` naming why there is none."""
        document = decode_json_object(message.payload)
        unmet = first_unmet(self._when, document)
        if unmet is not None:
            if absent(unmet, document):
                raise PayloadError("schema", f"when path {unmet.label} missing")
            raise PayloadError("unsupported_event", f"payload does not meet when ({unmet.label})")
        rule = self._rule(document)
        captures = {} if self._template is None else self._template.match(message.topic) or {}

        def context(field: str) -> Context:
            return Context(document, message, captures, field)

        occurred_at = self._evaluator.value(rule.occurred_at, context("occurred_at"))
        if isinstance(occurred_at, Miss):
            raise PayloadError("schema", f"occurred_at path {occurred_at.label} missing")
        assert isinstance(occurred_at, datetime)  # format is required on date-time fields
        device_id = self._device_id(rule, message, context("device_id"))
        data: dict[str, object] = {}
        for target, node, required in rule.fields:
            value = self._evaluator.value(node, context(target.name))
            if isinstance(value, Miss):
                if value.unmapped:
                    raise PayloadError(
                        "unknown_code", f"{target.name}: the value at {value.label} is not mapped"
                    )
                if required:
                    raise PayloadError("schema", f"{target.name} path {value.label} missing")
                continue
            value = canonical(target, value, node.label)
            if value is not None:
                data[target.name] = value
        if rule.derive_has_plate:
            data["has_plate"] = data.get("plate_no") is not None
        document_event = {
            "event_id": self._event_id(message, document, device_id, occurred_at, rule.kind, data),
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
            unmet = first_unmet(rule.when, document)
            if unmet is None:
                return rule
            if absent(unmet, document):
                missing.append(unmet.label)
        if len(missing) == len(self._rules):
            raise PayloadError("schema", f"when path {missing[0]} missing")
        raise PayloadError("unknown_code", "no event rule's when holds for the payload")

    def _device_id(self, rule: _Rule, message: RawMessage, context: Context) -> str:
        if rule.device_id is None:
            device_id = message.device_id
        else:
            value = self._evaluator.value(rule.device_id, context)
            device_id = None if isinstance(value, Miss) else str(canonical_text(value))
        if not device_id:
            raise PayloadError("no_device_id", "neither the topic nor the payload names the device")
        return checked_device_id(device_id)

    def _event_id(
        self,
        message: RawMessage,
        document: dict[str, object],
        device_id: str,
        occurred_at: datetime,
        kind: str,
        data: Mapping[str, object],
    ) -> str:
        """The event's id from `[dialects.id] paths`; a `$field` the event screens (a name, a
        plate) contributes what the event keeps of it, never a dropped value."""
        parts: list[str] = []
        for part in self._id:
            if part.field is None:
                value = lookup(document, part.path)
            elif part.field == "occurred_at":
                value = occurred_at
            elif part.field == "device_id":
                value = device_id
            else:
                value = data.get(part.field)
                screen = TARGETS[kind][part.field].screen
                if screen is not None and isinstance(value, str):
                    parts.append(kept(screen, value) or "")
                    continue
            if isinstance(value, datetime):
                parts.append(value.isoformat())
            elif isinstance(value, str | int | float) and value != "":
                parts.append(encodable(as_key(value, "id", part.label), "id", part.label))
            else:
                return payload_event_id(self.dialect, message)
        if not parts:
            return payload_event_id(self.dialect, message)
        return stable_event_id(self.dialect, device_id, *parts)


def mapping_adapter(spec: MappingSpec) -> type[Adapter]:
    """An adapter class for one configured dialect, registrable like a built-in one."""
    configured = spec

    class ConfiguredDialect(MappingAdapter):
        dialect: ClassVar[str] = configured.name
        dead_letter_fields: ClassVar[Mapping[str, ShownValue]] = dead_letter_allow_list(configured)
        spec: ClassVar[MappingSpec] = configured

    ConfiguredDialect.__name__ = ConfiguredDialect.__qualname__ = f"MappingAdapter[{spec.name}]"
    return ConfiguredDialect
