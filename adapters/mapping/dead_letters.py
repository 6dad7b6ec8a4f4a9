"""Which payload fields a mapping dialect's dead letters may show, from its own declaration.

A coded adapter lists its non-personal fields by hand (`Adapter.dead_letter_fields`); a mapping
dialect already says what each payload path means, so its list is derived: the paths it maps
to canonical fields that are codes, times and identifiers of devices and events
(`SHOWN_TARGETS`), the paths its `when` conditions test (event types and codes) and the paths
that identify its events (`[dialects.id]`). A path the mapping hashes or masks anywhere (a
credential, a `*_ref`, a `*_masked` field, or any field with `hash` or `mask`) is never shown,
nor anything below it, whatever its key is called. Array indices widen to every element:
`items[0].door` is shown as `items[].door`.
"""

from collections.abc import Iterator
from typing import Final

from adapters.mapping.paths import JsonPath, parse_path
from adapters.mapping.spec import FieldSpec, MappingSpec
from adapters.mapping.targets import TARGETS
from adapters.mapping.templates import Placeholder, parse_template

SHOWN_TARGETS: Final = frozenset(
    {
        "occurred_at",
        "device_id",
        "direction",
        "method",
        "result",
        "door",
        "reader",
        "vendor_code",
        "state",
        "similarity",
        "stranger",
        "track_id",
        "source_id",
        "has_plate",
        "plate_color",
        "vehicle_class",
        "vehicle_color",
        "lane",
        "confidence",
        "alarm_type",
        "original_type",
        "action",
        "visit_id",
        "id_type",
        "valid_from",
        "valid_until",
        "purpose",
        "status",
        "firmware",
        "ip",
    }
)
"""Canonical fields whose payload sources hold no personal data. Plates, houses, zones, images,
ages and genders are left out; so is every field added later until someone adds it here."""


def dead_letter_allow_list(spec: MappingSpec) -> frozenset[str]:
    """The allow-list of `spec`'s dead letters, in `Adapter.dead_letter_fields` syntax."""
    shown: set[JsonPath] = set()
    protected: set[JsonPath] = set()
    for _, rule in spec.rules():
        targets = TARGETS[rule.kind]
        for name, field in {**spec.fields, **rule.fields}.items():
            personal = targets[name].protection is not None
            for path, hidden in _sources(field, hidden=personal):
                if hidden:
                    protected.add(path)
                elif name in SHOWN_TARGETS:
                    shown.add(path)
        shown.update(parse_path(path) for path in rule.when)
    shown.update(parse_path(path) for path in spec.when)
    if spec.id is not None:
        shown.update(parse_path(part) for part in spec.id.paths if not part.startswith("$"))
    widened = {_widened(path) for path in shown}
    hidden_paths = {_widened(path) for path in protected}
    return frozenset(
        _text(path)
        for path in widened
        if not any(path[: len(hidden)] == hidden for hidden in hidden_paths)
    )


def _sources(spec: FieldSpec, *, hidden: bool) -> Iterator[tuple[JsonPath, bool]]:
    """Every payload path a field spec reads, and whether its value is hashed or masked."""
    hidden = hidden or spec.hash is not None or spec.mask is not None
    if spec.path is not None:
        yield parse_path(spec.path), hidden
    if spec.template is not None:
        for part in parse_template(spec.template):
            if isinstance(part, Placeholder):
                yield part.path, hidden
    for alternative in spec.first or ():
        yield from _sources(alternative, hidden=hidden)


def _widened(path: JsonPath) -> tuple[str | None, ...]:
    """Indices become None: "every element"."""
    return tuple(None if isinstance(step, int) else step for step in path)


def _text(path: tuple[str | None, ...]) -> str:
    text = ""
    for step in path:
        if step is None:
            text += "[]"
        else:
            text = f"{text}.{step}" if text else step
    return text
