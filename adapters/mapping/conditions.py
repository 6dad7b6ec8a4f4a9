"""`when` conditions, compiled: which payloads a dialect accepts and which event rule applies.

Shared by the dialect-wide `when` (refuse what is not ours) and each event rule's `when`
(pick the kind), so both compare values the same way map keys are compared.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from adapters.mapping.paths import JsonPath, lookup, parse_path
from adapters.mapping.spec import Scalar
from adapters.mapping.values import as_key


@dataclass(frozen=True, slots=True)
class Condition:
    path: JsonPath
    label: str
    accepted: frozenset[str]


def first_unmet(conditions: tuple[Condition, ...], document: object) -> Condition | None:
    """The first condition whose path does not hold one of its values, or None if all hold.

    Values are compared as map keys are: `5` and `"5"` alike.
    """
    for condition in conditions:
        value = lookup(document, condition.path)
        if isinstance(value, dict | list) or value is None:
            return condition
        if as_key(value, "when", condition.label) not in condition.accepted:
            return condition
    return None


def absent(condition: Condition, document: object) -> bool:
    return lookup(document, condition.path) in (None, "")


def compile_conditions(when: Mapping[str, Scalar | list[Scalar]]) -> tuple[Condition, ...]:
    return tuple(
        Condition(
            parse_path(path),
            path,
            frozenset(
                as_key(v, "when", path) for v in (values if isinstance(values, list) else [values])
            ),
        )
        for path, values in when.items()
    )
