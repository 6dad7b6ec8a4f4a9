"""What an import chunk does to the stored master data, decided once for every backend.

A backend reads the stored state of the chunk's keys (one query per table), hands it here, and
gets back each row's outcome and the set-based writes to run: upserts of what is new or
changed, import marks for what is identical. Rows are compared by values (masks and the keyed
hashes of names and phones, never the seals, whose nonces differ each time), so the same file
sent twice is `unchanged` row for row. Rows repeating a key within the chunk see the earlier
row's values, as if applied one after another.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from gateway.store.masterdata import (
    Applied,
    RowOutcome,
    RowRejected,
    new_person_id,
    new_vehicle_id,
)
from schemas.housing import HouseRecord
from schemas.population import CredentialRecord, PersonRecord, ResidencyEnd, ResidentRecord
from schemas.vehicles import VehicleRecord

HouseValues = tuple[str, str | None, str | None, str | None, Decimal | None, str, str | None, int]
"""building, unit, floor, room, area_m2, usage, grid_code, registered_occupants."""

PersonValues = tuple[object, ...]
ResidencyValues = tuple[str, date | None, date | None]
"""relation, since, until."""

VehicleValues = tuple[str, str | None, str | None, str | None, bool, date | None]
"""plate_color, vehicle_type, owner_person_id, house_code, registered, until."""

CredentialValues = tuple[str, str, date | None, date | None]
"""kind, person_id, since, until."""

CredentialKey = tuple[str, int]
"""ref, holder period: one row per holder of a credential, numbered from 1 in time order."""

UNKNOWN_HOUSE = RowRejected("house_code", "names no house of this community")
HOUSE_ELSEWHERE = RowRejected("house_code", "cannot be used: the code is already registered")
"""House codes are district-unique (a standard address code), so a code another community
holds is refused; the reason must not name or confirm that community (the same words answer
whoever holds it)."""
UNKNOWN_OWNER = RowRejected("owner_id_number", "names no resident of this community")
UNKNOWN_RESIDENCY = RowRejected("id_number", "names no registered residency of that house")
ENDS_BEFORE_START = RowRejected("until", "is before the residency began")
BEFORE_HOLDER = RowRejected("since", "is not after the previous holder's since")


def house_values(row: HouseRecord) -> HouseValues:
    return (
        row.building,
        row.unit,
        row.floor,
        row.room,
        row.area_m2,
        row.usage,
        row.grid_code,
        row.registered_occupants,
    )


def person_values(person: PersonRecord) -> PersonValues:
    """What makes a person record differ: everything but the seals."""
    return (
        person.id_type,
        person.id_masked,
        person.nationality,
        person.name_masked,
        person.name_ref,
        person.phone_masked,
        person.phone_ref,
        person.gender,
        person.birth_year,
        person.ethnicity,
        person.population_type,
        tuple(person.tags),
    )


def _classify(old: object | None, new: object) -> Applied:
    if old is None:
        return "accepted"
    return "unchanged" if old == new else "updated"


@dataclass
class HousePlan:
    outcomes: list[RowOutcome] = field(default_factory=list)
    upserts: dict[str, HouseRecord] = field(default_factory=dict)
    marks: set[str] = field(default_factory=set)


def plan_houses(
    community: str, rows: Sequence[HouseRecord], stored: Mapping[str, tuple[str, HouseValues]]
) -> HousePlan:
    """`stored`: house_code -> (community, values) for the chunk's codes that exist."""
    plan = HousePlan()
    state = dict(stored)
    for row in rows:
        held = state.get(row.house_code)
        if held is not None and held[0] != community:
            plan.outcomes.append(HOUSE_ELSEWHERE)
            continue
        values = house_values(row)
        outcome = _classify(held[1] if held else None, values)
        plan.outcomes.append(outcome)
        state[row.house_code] = (community, values)
        if outcome == "unchanged":
            plan.marks.add(row.house_code)
        else:
            plan.upserts[row.house_code] = row
    plan.marks -= plan.upserts.keys()
    return plan


@dataclass
class ResidentPlan:
    outcomes: list[RowOutcome] = field(default_factory=list)
    persons: dict[str, tuple[str, PersonRecord]] = field(default_factory=dict)
    """id_hash -> (person_id, record): new or changed persons."""
    residencies: dict[tuple[str, str], ResidentRecord] = field(default_factory=dict)
    """(person_id, house_code) -> row: new or changed (and reopened) residencies."""
    marks: set[tuple[str, str]] = field(default_factory=set)
    """(person_id, house_code) listed again unchanged: only their import mark moves."""


def plan_residents(
    community: str,
    rows: Sequence[ResidentRecord],
    houses: Mapping[str, str],
    persons: Mapping[str, tuple[str, PersonValues]],
    residencies: Mapping[tuple[str, str], ResidencyValues],
) -> ResidentPlan:
    """`houses`: house_code -> community; `persons`: id_hash -> (person_id, values) of the
    community; `residencies`: (person_id, house_code) -> values of those persons.

    A row is `accepted` when its residency is new, `updated` when it changes the person or
    the residency (a residency listed again after it ended is reopened), else `unchanged`."""
    plan = ResidentPlan()
    person_state = dict(persons)
    residency_state = dict(residencies)
    for row in rows:
        if houses.get(row.house_code) != community:
            plan.outcomes.append(UNKNOWN_HOUSE)
            continue
        values = person_values(row.person)
        known = person_state.get(row.person.id_hash)
        person_id = known[0] if known else new_person_id()
        person_changed = known is None or known[1] != values
        key = (person_id, row.house_code)
        residency: ResidencyValues = (row.relation, row.since, None)
        outcome = _classify(residency_state.get(key), residency)
        person_state[row.person.id_hash] = (person_id, values)
        residency_state[key] = residency
        if person_changed:
            plan.persons[row.person.id_hash] = (person_id, row.person)
        if outcome == "unchanged":
            plan.marks.add(key)
            outcome = "updated" if person_changed else "unchanged"
        else:
            plan.residencies[key] = row
        plan.outcomes.append(outcome)
    plan.marks -= plan.residencies.keys()
    return plan


@dataclass
class VehiclePlan:
    outcomes: list[RowOutcome] = field(default_factory=list)
    upserts: dict[str, tuple[VehicleRecord, str | None]] = field(default_factory=dict)
    """vehicle_id -> (row, owner person_id): new or changed vehicles."""
    marks: set[str] = field(default_factory=set)


def plan_vehicles(
    community: str,
    rows: Sequence[VehicleRecord],
    houses: Mapping[str, str],
    owners: Mapping[str, str],
    stored: Mapping[tuple[str, str], tuple[str, VehicleValues]],
) -> VehiclePlan:
    """`owners`: id_hash -> person_id of the community; `stored`: (plate, colour) ->
    (vehicle_id, values) of the community's vehicles with the chunk's plates.

    A plate the gates saw in an unknown colour (an unregistered record) becomes the imported
    vehicle when no record of the imported colour exists."""
    plan = VehiclePlan()
    state = dict(stored)
    for row in rows:
        owner = None
        if row.owner_id_hash is not None:
            owner = owners.get(row.owner_id_hash)
            if owner is None:
                plan.outcomes.append(UNKNOWN_OWNER)
                continue
        if row.house_code is not None and houses.get(row.house_code) != community:
            plan.outcomes.append(UNKNOWN_HOUSE)
            continue
        key = (row.plate_no, row.plate_color)
        held = state.get(key)
        if held is None:
            seen = state.get((row.plate_no, "unknown"))
            if seen is not None and not seen[1][4]:
                held = state.pop((row.plate_no, "unknown"))
        values: VehicleValues = (
            row.plate_color,
            row.vehicle_type,
            owner,
            row.house_code,
            True,
            None,
        )
        vehicle_id = held[0] if held else new_vehicle_id()
        outcome = _classify(held[1] if held else None, values)
        plan.outcomes.append(outcome)
        state[key] = (vehicle_id, values)
        if outcome == "unchanged":
            plan.marks.add(vehicle_id)
        else:
            plan.upserts[vehicle_id] = (row, owner)
    plan.marks -= plan.upserts.keys()
    return plan


@dataclass
class CredentialPlan:
    outcomes: list[RowOutcome] = field(default_factory=list)
    upserts: dict[CredentialKey, tuple[str, CredentialValues]] = field(default_factory=dict)
    """(ref, period) -> (kind, values): holder rows inserted or changed."""
    ends: dict[CredentialKey, date] = field(default_factory=dict)
    """(ref, period) -> until: earlier holders' rows ended by a handover."""
    marks: set[CredentialKey] = field(default_factory=set)


def plan_credentials(
    rows: Sequence[CredentialRecord],
    owners: Mapping[str, str],
    stored: Mapping[str, Sequence[tuple[int, CredentialValues]]],
    today: date,
) -> CredentialPlan:
    """`owners`: id_hash -> person_id of the community; `stored`: ref -> its holder rows
    (period, values) in period order; `today`: the local day a handover without a `since`
    starts.

    Holder history is kept, so an event resolves to whoever held the card on its day: the
    current holder re-imported updates their row; another person taking the card ends the
    current holder's row the day before the new holder's `since` and adds a row for them; a
    holder named from the same `since` as the current holder's replaces them (a card given to
    the wrong person is corrected the same day)."""
    plan = CredentialPlan()
    state = {ref: list(held) for ref, held in stored.items()}
    for row in rows:
        person_id = owners.get(row.owner_id_hash)
        if person_id is None:
            plan.outcomes.append(UNKNOWN_OWNER)
            continue
        held = state.setdefault(row.ref, [])
        outcome = _hand_credential(plan, row, person_id, held, today)
        plan.outcomes.append(outcome)
    plan.marks -= plan.upserts.keys()
    return plan


def _hand_credential(
    plan: CredentialPlan,
    row: CredentialRecord,
    person_id: str,
    held: list[tuple[int, CredentialValues]],
    today: date,
) -> RowOutcome:
    """Apply one row to the ref's holder rows `held` (updated in place) and the plan."""
    current = held[-1] if held else None
    if current is not None and current[1][1] == person_id:
        period, values = current
        previous = held[-2][1] if len(held) > 1 else None
        since = row.since if row.since is not None or previous is None else values[2]
        new: CredentialValues = (row.kind, person_id, since, row.until)
        if previous is not None and not _ends_before(previous, since):
            return BEFORE_HOLDER
        outcome = _classify(values, new)
        held[-1] = (period, new)
    else:
        since = row.since
        if current is not None:
            since = since or today
            if current[1][2] == since:
                # Handed to someone else from the very day the current holder's row begins:
                # a correction of who got the card that day, not a second handover.
                corrected: CredentialValues = (row.kind, person_id, since, row.until)
                held[-1] = (current[0], corrected)
                plan.upserts[(row.ref, current[0])] = (row.kind, corrected)
                return "updated"
            if not _ends_before(current[1], since):
                return BEFORE_HOLDER
        period = current[0] + 1 if current is not None else 1
        new = (row.kind, person_id, since, row.until)
        outcome = "accepted" if current is None else "updated"  # a handover changes the card
        held.append((period, new))
    if len(held) > 1 and since is not None:
        previous_period, previous = held[-2]
        if previous[3] is None or previous[3] >= since:
            end = since - timedelta(days=1)
            held[-2] = (previous_period, (*previous[:3], end))
            plan.ends[(row.ref, previous_period)] = end
    if outcome == "unchanged":
        plan.marks.add((row.ref, period))
    else:
        plan.upserts[(row.ref, period)] = (row.kind, new)
    return outcome


def _ends_before(previous: CredentialValues, since: date | None) -> bool:
    """Whether an earlier holder's row can end the day before `since` (it began before)."""
    return since is not None and (previous[2] is None or previous[2] < since)


def plan_residency_ends(
    items: Sequence[ResidencyEnd],
    owners: Mapping[str, str],
    stored: Mapping[tuple[str, str], tuple[date | None, date | None]],
) -> tuple[list[RowOutcome], dict[tuple[str, str], date]]:
    """Outcomes of ending registered residencies, and the ends to write ((person_id,
    house_code) -> until). `owners`: id_hash -> person_id of the community; `stored`:
    (person_id, house_code) -> (since, until). Ending one again on the same day is
    `unchanged`; a residency the community does not have is rejected."""
    outcomes: list[RowOutcome] = []
    ends: dict[tuple[str, str], date] = {}
    state = dict(stored)
    for item in items:
        key = (owners.get(item.id_hash, ""), item.house_code)
        held = state.get(key)
        if held is None:
            outcomes.append(UNKNOWN_RESIDENCY)
        elif held[0] is not None and item.until < held[0]:
            outcomes.append(ENDS_BEFORE_START)
        elif held[1] == item.until:
            outcomes.append("unchanged")
        else:
            outcomes.append("updated")
            state[key] = (held[0], item.until)
            ends[key] = item.until
    return outcomes, ends
