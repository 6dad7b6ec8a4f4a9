"""The table of every rule, and the operator's threshold overrides applied to it.

Each family module declares its rules as a `RULES` tuple; `FAMILIES` lists the modules, so a
new family is one more entry there. Codes are unique (a duplicate is refused when the table is
built). The TOML file may override thresholds per rule, and switch a rule off:

    [rules."safety.door_held_open"]
    minutes = 10

    [rules."vehicle.long_stay"]
    enabled = 0

An unknown rule, an unknown threshold or a value out of its threshold's range stops the
gateway at start with the file, line and key (`ConfigError`), like every other configuration
mistake. Thresholds are named by what they measure (`THRESHOLD_UNITS`): a duration (`minutes`,
`hours`, `window_days`, …) lies in (0, `LONGEST`], a confidence (`min_confidence`) in [0, 1]
(0: every alarm), anything else is a count in (0, `MOST`]. A value must be a finite number:
a boolean (`minutes = true`) or a string is refused when the file loads (`GatewayConfig`).
"""

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Final

from gateway.config import GatewayConfig, located_error
from gateway.rules import care, devices, fire, housing, order, population, safety, vehicles, visitor
from gateway.rules.base import Rule, Timing
from schemas.events import EventKind

FAMILIES: Final = (
    safety.RULES,
    fire.RULES,
    order.RULES,
    visitor.RULES,
    devices.RULES,
    care.RULES,
    population.RULES,
    housing.RULES,
    vehicles.RULES,
)
"""Every family's rules, in the order the catalogue lists them."""

ENABLED: Final = "enabled"
"""The per-rule key that switches a rule off (0) or on (1, the default); not a threshold."""

THRESHOLD_UNITS: Final = {
    "minutes": timedelta(minutes=1),
    "hours": timedelta(hours=1),
    "days": timedelta(days=1),
    "nights": timedelta(days=1),
}
"""A threshold named after one of these units (`hours`, or ending `_hours`, …) is a duration
in it (counts of days or nights, like `min_days`, are bounded the same way)."""
LONGEST: Final = timedelta(days=366)
"""The longest duration a threshold may set: a year of event time (longer is a typo, and
would push the rules' date arithmetic towards the calendar's end)."""
CONFIDENCE: Final = "min_confidence"
"""The threshold that is a camera's confidence, in [0, 1]."""
MOST: Final = 10_000
"""The largest count a threshold may set (people, events, …)."""


class Catalog(Mapping[str, Rule]):
    """Rules by code (read-only), with the instant rules indexed by the event kinds they read."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        table: dict[str, Rule] = {}
        for rule in rules:
            if rule.code in table:
                raise ValueError(f"rule {rule.code!r} is declared twice")
            table[rule.code] = rule
        self._rules = table

    def __getitem__(self, code: str) -> Rule:
        return self._rules[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rules)

    def __len__(self) -> int:
        return len(self._rules)

    def timed(self, timing: Timing) -> tuple[Rule, ...]:
        """The rules of one timing, in catalogue order."""
        return tuple(rule for rule in self._rules.values() if rule.timing == timing)

    def instant_by_kind(self, kinds: Iterable[EventKind]) -> dict[EventKind, tuple[Rule, ...]]:
        """For each event kind, the instant rules that read it (a rule naming no kinds reads
        every kind)."""
        instant = self.timed("instant")
        return {
            kind: tuple(rule for rule in instant if not rule.kinds or kind in rule.kinds)
            for kind in kinds
        }

    def configured(
        self, overrides: Mapping[str, Mapping[str, float]], path: Path | None = None
    ) -> "Catalog":
        """This catalogue with the file's overrides (`GatewayConfig.rules`) applied: thresholds
        replaced, rules switched off left out. `path` names the file in errors."""
        problems: list[tuple[tuple[str, ...], str]] = []
        rules = dict(self._rules)
        for code, values in overrides.items():
            rule = self._rules.get(code)
            if rule is None:
                problems.append((("rules", code), f"no rule {code!r} (known: {self._codes()})"))
                continue
            thresholds = dict(rule.thresholds)
            for name, value in values.items():
                problem = _override_problem(rule, name, value)
                if problem is not None:
                    problems.append((("rules", code, name), problem))
                elif name != ENABLED:
                    thresholds[name] = float(value)
            if values.get(ENABLED) == 0:
                del rules[code]
            else:
                rules[code] = dataclasses.replace(rule, thresholds=thresholds)
        if problems:
            raise located_error(path, problems)
        return Catalog(rules.values())

    def _codes(self) -> str:
        return ", ".join(sorted(self._rules))


def _override_problem(rule: Rule, name: str, value: float) -> str | None:
    if name == ENABLED:
        ok = not isinstance(value, bool) and value in (0, 1)
        return None if ok else "must be 0 (off) or 1 (on)"
    if name not in rule.thresholds:
        known = ", ".join(sorted(rule.thresholds)) or "none"
        return f"{rule.code} has no threshold {name!r} (its thresholds: {known}; or {ENABLED})"
    return threshold_problem(name, value)


def threshold_problem(name: str, value: float) -> str | None:
    """Why `value` cannot be the threshold `name` (None when it can): see the module's
    docstring for the ranges."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "must be a finite number"
    if name == CONFIDENCE:
        return None if 0 <= value <= 1 else "must be a confidence from 0 to 1"
    unit = THRESHOLD_UNITS.get(name.rsplit("_", 1)[-1])
    if not value > 0:
        return "must be positive"
    if unit is not None and value > LONGEST / unit:
        return f"must be at most {LONGEST / unit:g} (a duration of at most {LONGEST.days} days)"
    if unit is None and value > MOST:
        return f"must be at most {MOST}"
    return None


def default_catalog() -> Catalog:
    """Every rule with its default thresholds."""
    return Catalog(rule for family in FAMILIES for rule in family)


def configured_catalog(config: GatewayConfig, path: Path | None) -> Catalog:
    """Every rule as the configuration file (`path`, for errors) sets it."""
    return default_catalog().configured(config.rules, path)
