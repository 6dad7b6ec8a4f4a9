"""Which payload fields a mapping dialect's dead letters may show, from its own declaration.

A coded adapter lists its non-personal fields by hand (`Adapter.dead_letter_fields`); a mapping
dialect already says what each payload path means, so its list is derived: the paths it maps
to canonical fields that are codes, times and identifiers of devices and events
(`SHOWN_TARGETS`, which also says what kind of value each holds), the paths its `when`
conditions test (showing the values tested, and codes) and the paths that identify its events
(`[dialects.id]`, ids). A path the mapping hashes or masks anywhere (a
credential, a `*_ref`, a `*_masked` field, or any field with `hash` or `mask`) is never shown,
nor anything below it, whatever its key is called. Array indices widen to every element:
`items[0].door` is shown as `items[].door`.
"""

from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Final

from adapters.base import ShownValue, ValueKind
from adapters.mapping.paths import JsonPath, parse_path
from adapters.mapping.spec import FieldSpec, MappingSpec, Scalar
from adapters.mapping.targets import TARGETS
from adapters.mapping.templates import Placeholder, parse_template

SHOWN_TARGETS: Final[Mapping[str, ValueKind]] = MappingProxyType(
    {
        "occurred_at": "time",
        "valid_from": "time",
        "valid_until": "time",
        "device_id": "device_id",
        "source_id": "device_id",
        "similarity": "number",
        "confidence": "number",
        "ip": "ip",
        "track_id": "id",
        "visit_id": "id",
        "firmware": "id",
        **dict.fromkeys(
            (
                "direction",
                "method",
                "result",
                "door",
                "reader",
                "vendor_code",
                "state",
                "stranger",
                "has_plate",
                "plate_color",
                "vehicle_class",
                "vehicle_color",
                "lane",
                "alarm_type",
                "original_type",
                "action",
                "id_type",
                "purpose",
                "status",
            ),
            "code",
        ),
    }
)
"""Canonical fields whose payload sources hold no personal data, and what their sources hold.
Plates, houses, zones, images, ages and genders are left out; so is every field added later
until someone adds it here. A source with a value `map` shows the map's keys besides codes:
they are the dialect's own vocabulary (`checkIn`, `open`)."""


def dead_letter_allow_list(spec: MappingSpec) -> Mapping[str, ShownValue]:
    """The allow-list of `spec`'s dead letters, in `Adapter.dead_letter_fields` form: each path
    with what it holds (see `SHOWN_TARGETS`); `when` paths show the values tested and codes,
    `[dialects.id]` paths ids."""
    shown: dict[JsonPath, list[ShownValue]] = {}
    protected: set[JsonPath] = set()
    for _, rule in spec.rules():
        targets = TARGETS[rule.kind]
        for name, field in {**spec.fields, **rule.fields}.items():
            personal = targets[name].protection is not None
            for path, hidden, words in _sources(field, hidden=personal):
                if hidden:
                    protected.add(path)
                elif name in SHOWN_TARGETS:
                    shown.setdefault(path, []).append(words or SHOWN_TARGETS[name])
        for condition, tested in rule.when.items():
            shown.setdefault(parse_path(condition), []).append(_words(tested))
    for condition, tested in spec.when.items():
        shown.setdefault(parse_path(condition), []).append(_words(tested))
    if spec.id is not None:
        for part in spec.id.paths:
            if not part.startswith("$"):
                shown.setdefault(parse_path(part), []).append("id")
    widened: dict[tuple[str | None, ...], list[ShownValue]] = {}
    for path, kinds in shown.items():
        widened.setdefault(_widened(path), []).extend(kinds)
    hidden_paths = {_widened(path) for path in protected}
    return MappingProxyType(
        {
            _text(path): _merged(kinds)
            for path, kinds in sorted(widened.items(), key=lambda item: _text(item[0]))
            if not any(path[: len(hidden)] == hidden for hidden in hidden_paths)
        }
    )


def _words(tested: Scalar | list[Scalar]) -> frozenset[str]:
    """The values a `when` condition tests, as text: what the dialect knows the field holds."""
    values = tested if isinstance(tested, list) else [tested]
    return frozenset(_as_text(value) for value in values)


def _as_text(value: Scalar) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _merged(kinds: list[ShownValue]) -> ShownValue:
    """One entry for a path read by several fields: the union of their vocabularies (codes
    always pass), else their one kind, else `code`, which every kind's short values pass."""
    vocabularies = [kind for kind in kinds if isinstance(kind, frozenset)]
    if vocabularies:
        return frozenset[str]().union(*vocabularies)
    named = {kind for kind in kinds if not isinstance(kind, frozenset)}
    return named.pop() if len(named) == 1 else "code"


def _sources(
    spec: FieldSpec, *, hidden: bool
) -> Iterator[tuple[JsonPath, bool, frozenset[str] | None]]:
    """Every payload path a field spec reads, whether its value is hashed or masked, and the
    words its value map knows (None without a map)."""
    hidden = hidden or spec.hash is not None or spec.mask is not None
    words = None if spec.map is None else frozenset(spec.map)
    if spec.path is not None:
        yield parse_path(spec.path), hidden, words
    if spec.template is not None:
        for part in parse_template(spec.template):
            if isinstance(part, Placeholder):
                yield part.path, hidden, None
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
