"""From a rule's finding to a ticket draft: categorised, routed to a grid and its units, worded.

The rule says what happened (`gateway.rules.base.Finding`); the responsibility list says who
handles that category, how fast and how seriously, and whether it goes to the grid platform
(`gateway.responsibility`); the grid map says which grid the place lies in (`gateway.grids`).
The texts are the rule's templates filled with the finding's facts and the address, so a
ticket says only what the facts carry: no names, phones or ID numbers.

Routing: the finding's building (a house's, when the rule names a house) → its grid, else the
finding's gate → its grid, else the building or gate of the device that saw it → its grid, else
no grid: the community (居委会) then handles the ticket, added to its units.
"""

import logging
import re
import string
from collections.abc import Callable, Mapping
from typing import Final

from gateway.errors import ConfigError
from gateway.grids import GridMap
from gateway.privacy import holds_personal_number, without_personal_numbers
from gateway.responsibility import CategorySpec, ResponsibilityList
from gateway.rules.base import Finding, Rule
from gateway.store.tickets import TicketDraft
from schemas.devices import DeviceRegistration
from schemas.housing import Grid
from schemas.tickets import ResponsibleUnit, TicketLocation, UnitType

DeviceLookup = Callable[[str], DeviceRegistration | None]
"""The device registry's `get`: where a device stands, for findings that name only a device."""

GENERIC_UNIT_NAMES: Final[Mapping[UnitType, str]] = {
    "property": "{community}物业服务中心",
    "police_station": "辖区派出所",
    "street": "{street}",
    "community": "{community}社区居委会",
    "grid": "{community}网格",
}
"""A unit's name when the grid map names no such unit: generic, from the community's name."""

logger = logging.getLogger(__name__)

_TEMPLATE_FIELDS: Final = string.Formatter()


class TicketDrafter:
    """Turns findings into `TicketDraft`s; one per gateway process, shared by every rule runner.

    Built from the responsibility list, the grid map, the rule catalogue (code → rule, e.g.
    `gateway.rules.catalog.Catalog`) and (optionally) the device registry's `get`; refuses at
    construction a rule whose category the list lacks, so a rule can never fire into a category
    nobody handles. `forwarding` False (no `SCGW_PLATFORM_URL`) keeps every ticket local: it
    follows the local loop and is never queued for a platform that does not exist.
    """

    def __init__(
        self,
        responsibility: ResponsibilityList,
        grids: GridMap,
        rules: Mapping[str, Rule],
        devices: DeviceLookup | None = None,
        *,
        forwarding: bool = True,
    ) -> None:
        self._responsibility = responsibility
        self._grids = grids
        self._rules = rules
        self._devices = devices
        self._forwarding = forwarding
        missing = sorted(
            f"{rule.code} → {rule.category}"
            for rule in self._rules.values()
            if rule.category not in responsibility
        )
        if missing:
            source = responsibility.source or "the responsibility list"
            raise ConfigError(
                f"{source}: no category for rules {', '.join(missing)}: add the categories"
            )

    def draft(self, finding: Finding) -> TicketDraft:
        """The ticket draft of one finding of a catalogued rule (`KeyError` for any other)."""
        rule = self._rules[finding.rule]
        spec = self._responsibility.get(rule.category)
        assert spec is not None  # checked at construction
        if (problem := personal_fact(finding.facts)) is not None:
            key, why = problem
            logger.error("rule %s: finding refused, its fact %s %s", rule.code, key, why)
            raise PersonalFactError(f"rule {rule.code}: its fact {key} {why} (a bug in the rule)")
        grid = self.route(finding)
        location = self.location(finding)
        values = {**finding.facts, "address": location.address}
        first_at = finding.first_at or finding.detected_at
        return TicketDraft(
            dedup_key=finding.dedup_key,
            occurrence_key=finding.occurrence,
            rule=rule.code,
            category=spec.category,
            severity=spec.severity,
            community=finding.community,
            grid_code=grid.code if grid is not None else None,
            location=location,
            responsible_units=self.units(spec, finding.community, grid),
            title=_fill(rule.title, values, rule.code, "title")[:200],
            description=_fill(rule.description, values, rule.code, "description")[:2000],
            summary_en=_fill(rule.summary_en, values, rule.code, "summary_en")[:500],
            event_ids=finding.event_ids,
            image_urls=finding.image_urls,
            first_at=first_at,
            last_at=finding.last_at or max(first_at, finding.detected_at),
            detected_at=finding.detected_at,
            sla_hours=spec.sla_hours,
            forward=spec.forward and self._forwarding,
        )

    def route(self, finding: Finding) -> Grid | None:
        """The grid of the finding's building, else its gate, else its device's place."""
        device = self._device(finding)
        places = (
            ("building", finding.building),
            ("gate", finding.gate),
            ("building", device.building if device else None),
            ("gate", device.gate if device else None),
        )
        for kind, place in places:
            if place is None:
                continue
            lookup = (
                self._grids.grid_of_building if kind == "building" else self._grids.grid_of_gate
            )
            if (grid := lookup(finding.community, place)) is not None:
                return grid
        return None

    def location(self, finding: Finding) -> TicketLocation:
        """Where, in Chinese: `亿达小镇 B03栋 U2单元 房屋编码yida-B03-U2-1702`, `亿达小镇 North
        gate`, the device's place when the finding names none, or the community alone."""
        community = self._grids.community(finding.community)
        device = self._device(finding)
        building = finding.building or (device.building if device else None)
        unit = finding.unit or (device.unit if device and building == device.building else None)
        gate = finding.gate or (device.gate if device and building is None else None)
        parts = [community.name if community else finding.community]
        if building is not None:
            parts.append(_with_suffix(building, "栋"))
            if unit is not None:
                parts.append(_with_suffix(unit, "单元"))
        elif gate is not None:
            parts.append(gate)
        elif device is not None and device.location:
            parts.append(device.location)
        if finding.house_code is not None:
            parts.append(f"房屋编码{finding.house_code}")
        return TicketLocation(
            address=" ".join(parts)[:200],
            building=building,
            unit=unit,
            house_code=finding.house_code,
            gate=gate,
            device_id=finding.device_id,
        )

    def units(
        self, spec: CategorySpec, community_code: str, grid: Grid | None
    ) -> tuple[ResponsibleUnit, ...]:
        """The category's units, named: a grid unit by the routed grid; without a grid, the
        community's committee takes the grid's place."""
        community = self._grids.community(community_code)
        names = {
            "community": community.name if community else community_code,
            "street": community.street if community else community_code,
        }
        units: list[ResponsibleUnit] = []
        for unit_type in spec.units:
            if unit_type == "grid" and grid is not None:
                units.append(ResponsibleUnit(type="grid", code=grid.code, name=grid.name))
                continue
            if unit_type == "grid":
                unit_type = "community"  # noqa: PLW2901 - no grid: the committee handles it
            if any(unit.type == unit_type for unit in units):
                continue
            name = GENERIC_UNIT_NAMES[unit_type].format(**names)
            units.append(ResponsibleUnit(type=unit_type, name=name[:64]))
        return tuple(units)

    def _device(self, finding: Finding) -> DeviceRegistration | None:
        if finding.device_id is None or self._devices is None:
            return None
        return self._devices(finding.device_id)


class PersonalFactError(ValueError):
    """A finding whose facts would put personal data in a ticket: a bug in its rule (the rule
    runners log and skip a finding that fails to draft)."""


_PERSONAL_KEY: Final = re.compile(
    r"(?:^|_)(?:name|names|phone|mobile|tel|telephone|id_number|id_no|idcard|id_card"
    r"|card_no|姓名|电话|手机|身份证)(?:_|$)"
)
"""A fact key naming a person's name, phone or ID number."""
MASK: Final = "*"
"""A masked value (`张*`, `138****5678`) may name a person where one must be named."""


def personal_fact(facts: Mapping[str, object]) -> tuple[str, str] | None:
    """The first fact (key, why) that would put personal data in a ticket's texts: a value
    holding anything shaped like an ID, mobile or landline number, or an unmasked value under a
    key that names a person's name, phone or ID number. None when the facts are clean."""
    for key, value in facts.items():
        text = str(value)
        if holds_personal_number(text):
            return key, "holds a phone or ID number"
        if _PERSONAL_KEY.search(key.lower()) and MASK not in text:
            return key, "names a person unmasked"
    return None


def _fill(template: str, values: Mapping[str, object], rule: str, name: str) -> str:
    """A template filled, any personal-looking number in it redacted (the last line of defence
    behind `personal_fact`: an address or a template may hold one too); a field the finding
    lacks is a bug in the rule, named as such."""
    try:
        return without_personal_numbers(template.format_map(values), "***")
    except (KeyError, IndexError, ValueError) as error:
        fields = sorted(field for _, field, _, _ in _TEMPLATE_FIELDS.parse(template) if field)
        raise ValueError(
            f"rule {rule}: its {name} template needs {fields}, the finding gave"
            f" {sorted(values)} ({type(error).__name__})"
        ) from None


def _with_suffix(name: str, suffix: str) -> str:
    """`3` → `3栋`; a name already ending in a place word keeps it (`3号楼`, `二单元`)."""
    return name if name.endswith((suffix, "楼", "座", "号")) else f"{name}{suffix}"
