"""Visitors: a visit whose visitors checked in and had not all checked out `hours` after the
visit's pass expired (`valid_until`, from its registration).

Gate passes name visitors by their position in the registration or by their ID hash, not
always the same way in and out, so the rule counts: a visit is still inside at its deadline
when it has more check-ins than check-outs by then. A cancelled visit is no exception: a
cancellation stops new check-ins, it does not take out a visitor who came in before it. The
visit is the subject and the occurrence: one ticket per visit, however often it is evaluated.

The ticket is placed at the host's house (its building and unit from the houses table, so it
routes house → building → grid), at the gate of the last check-in when the house is unknown.
"""

import dataclasses
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final, Protocol

from gateway.rules.base import Finding, Rule
from gateway.rules.evidence import local_time, number
from gateway.rules.watermark import DEADLINE_SPAN, shifted
from gateway.store.eventfacts import EventFactStore, VisitFact
from schemas.housing import HousePublic

OVERSTAY: Final = "visitor.overstay"
VISIT_HORIZON: Final = timedelta(days=30)
"""The longest pass the rule follows (registration to `valid_until`); simulated and real
passes run from hours to a few days. A pass valid for longer (a resident's standing pass, or
a visitor service writing 9999-12-31 for "no end") has no overstay to find: it is ignored."""
EARLY_PASS: Final = timedelta(days=1)
"""How long before its registration's event time a gate pass of the visit is still read (the
visitor service's and the gate's clocks need not agree)."""


class VisitorFactStore(EventFactStore, Protocol):
    """What the rule reads: visitor events, and the host's house from the master data."""

    async def get_house(self, house_code: str, observed_since: datetime) -> HousePublic | None:
        """The house with its building and unit (the store's `MasterDataStore` method)."""


async def overstay(
    store: VisitorFactStore, community: str, watermark: datetime, thresholds: Mapping[str, float]
) -> list[Finding]:
    """Visits whose deadline (`valid_until` + `hours`) the watermark passed in the last
    `DEADLINE_SPAN` with visitors still inside."""
    grace = timedelta(hours=thresholds["hours"])
    earliest = shifted(watermark, -DEADLINE_SPAN)
    registrations = await store.visit_registrations(
        community, shifted(earliest, -(grace + VISIT_HORIZON)), watermark
    )
    latest: dict[str, VisitFact] = {}  # a re-registered visit counts with its last validity
    for registration in sorted(registrations, key=lambda fact: (fact.at, fact.event_id)):
        latest[registration.visit_id] = registration
    due = {
        visit_id: registration
        for visit_id, registration in latest.items()
        if (deadline := _deadline(registration, grace)) is not None
        and earliest < deadline <= watermark
    }
    if not due:
        return []
    since = shifted(min(registration.at for registration in due.values()), -EARLY_PASS)
    passes: defaultdict[str, list[VisitFact]] = defaultdict(list)
    for gate_pass in await store.visit_passes(community, sorted(due), since, watermark):
        passes[gate_pass.visit_id].append(gate_pass)
    found = []
    for visit_id, registration in sorted(due.items()):
        deadline = _deadline(registration, grace)
        assert deadline is not None
        before = [p for p in passes[visit_id] if p.at <= deadline]
        finding = _overstay_finding(community, registration, before, deadline, grace)
        if finding is not None:
            found.append(await _at_host(store, finding, watermark))
    return found


async def _at_host(store: VisitorFactStore, finding: Finding, watermark: datetime) -> Finding:
    """The finding placed at its host's house, when the houses table knows it in the
    finding's community (else left at the gate)."""
    if finding.house_code is None:
        return finding
    house = await store.get_house(finding.house_code, watermark)
    if house is None or house.community != finding.community:
        return finding
    return dataclasses.replace(finding, building=house.building, unit=house.unit)


def _deadline(registration: VisitFact, grace: timedelta) -> datetime | None:
    """When visitors still inside overstay (`valid_until` + grace); None for a pass without
    an end or valid beyond `VISIT_HORIZON` from its registration."""
    until = registration.valid_until
    if until is None or until > shifted(registration.at, VISIT_HORIZON):
        return None
    return shifted(until, grace)


def _overstay_finding(
    community: str,
    registration: VisitFact,
    passes: list[VisitFact],
    deadline: datetime,
    grace: timedelta,
) -> Finding | None:
    """The finding when visitors are still inside at the deadline (cancelled or not), placed
    at their last check-in's gate with the host's house code."""
    check_ins = [p for p in passes if p.action == "checked_in"]
    inside = len(check_ins) - sum(p.action == "checked_out" for p in passes)
    if inside <= 0:
        return None
    assert registration.valid_until is not None
    gate = check_ins[-1].place
    return Finding(
        rule=OVERSTAY,
        community=community,
        subject=registration.visit_id,
        occurrence=registration.visit_id,
        detected_at=deadline,
        event_ids=(registration.event_id, *(p.event_id for p in passes)),
        first_at=registration.at,
        last_at=passes[-1].at,
        building=gate.building,
        unit=gate.unit,
        house_code=registration.host_house,
        gate=gate.gate,
        device_id=gate.device_id,
        facts={
            "visit_id": registration.visit_id,
            "valid_until": local_time(registration.valid_until),
            "hours": number(grace.total_seconds() / 3600),
            "inside": inside,
        },
    )


RULES: Final = (
    Rule(
        code=OVERSTAY,
        category="visitor_management",
        timing="watermark",
        thresholds={"hours": 2.0},
        evaluate=overstay,
        title="访客超时未离开：{address}",
        description=(
            "访客登记{visit_id}的通行有效期至{valid_until}，逾期{hours}小时后仍有{inside}名"
            "访客入园未登记离开。请物业联系被访住户核实访客去向，并补登离开记录。"
        ),
        summary_en="Visit {visit_id}: {inside} visitor(s) still inside {hours} h after the pass"
        " expired at {valid_until} ({address}).",
    ),
)
