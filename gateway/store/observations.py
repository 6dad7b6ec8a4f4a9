"""What the events add to the government-side models, and the `ObservationStore` protocol.

`write_batch` records, from the events it newly inserted (a redelivered event changes nothing):
presence at doors and gates (one row per subject, place and local day), vehicle sightings
(first/last seen; an unknown plate becomes an unregistered vehicle) and visitor records
(persons with population type `visitor`). The rows are computed here, in pure functions both
backends share, and aggregated per batch so each backend writes each table with one set-based
statement. `infer_residencies` and `enforce_retention` are run by `gateway.housekeeping`.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from gateway.store.masterdata import CredentialMatch, Resolver
from gateway.subjects import person_ref
from schemas.events import AccessEvent, DeviceEvent, FaceCapture, VehiclePass, VisitorEvent
from schemas.times import CHINA_STANDARD_TIME

NIGHT_FROM_HOUR = 19
NIGHT_UNTIL_HOUR = 8


def local_day(at: datetime) -> date:
    """The event's day: its time in China Standard Time."""
    return at.astimezone(CHINA_STANDARD_TIME).date()


def is_night(at: datetime) -> bool:
    """Between 19:00 and 08:00 local time."""
    hour = at.astimezone(CHINA_STANDARD_TIME).hour
    return hour >= NIGHT_FROM_HOUR or hour < NIGHT_UNTIL_HOUR


@dataclass(frozen=True, slots=True)
class ResidencyRule:
    """When repeated use of one unit door infers a residency: on at least `min_days` distinct
    local days of the last `window_days`, at least `min_night_days` of them at night."""

    window_days: int = 14
    min_days: int = 5
    min_night_days: int = 2

    def window_start(self, now: datetime) -> date:
        """The first local day of the evidence window ending today."""
        return local_day(now) - timedelta(days=self.window_days - 1)

    def confidence(self, days: int, night_days: int) -> float:
        """In (0, 1]: how much of the window the subject used the door, weighted 0.6, and how
        much of that at night, 0.4. The bare minimum (5 days, 2 nights in 14) gives 0.37."""
        share = min(days / self.window_days, 1.0)
        nights = min(night_days / days, 1.0) if days else 0.0
        return round(max(0.6 * share + 0.4 * nights, 0.01), 3)


PRESENCE_LAST_STEP = timedelta(minutes=15)
"""A stored presence row's `last_at` moves only when a later batch's sighting is this much
later (or brings the first night sighting, or an earlier one): residents pass their door all
day, and rewriting the day's row at every pass was most of what resolution cost the database.
`last_at` (last activity, evidence windows) is therefore exact to a quarter of an hour."""


@dataclass(slots=True)
class PresenceRow:
    """One (community, subject, building, unit, local day); building and unit are '' at gates."""

    community: str
    subject_key: str
    building: str
    unit: str
    day: date
    night: bool
    ref: str | None
    first_at: datetime
    last_at: datetime


@dataclass(slots=True)
class PlateSighting:
    """A plate seen in a batch: `plate_color` 'unknown' matches the plate in any colour."""

    community: str
    plate_no: str
    plate_color: str
    first_at: datetime
    last_at: datetime


@dataclass(slots=True)
class VisitorSighting:
    """The newest visitor event of a batch per (community, visitor hash)."""

    community: str
    id_hash: str
    id_type: str | None
    id_masked: str | None
    name_masked: str | None
    phone_masked: str | None
    visit_house: str | None
    visit_from: datetime | None
    visit_until: datetime | None
    at: datetime


@dataclass(slots=True)
class Observations:
    """What one batch's new events add, aggregated per table key."""

    presence: list[PresenceRow] = field(default_factory=list)
    plates: list[PlateSighting] = field(default_factory=list)
    visitors: list[VisitorSighting] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.presence or self.plates or self.visitors)


def observe(events: Iterable[DeviceEvent]) -> Observations:
    """The presence, plate and visitor rows of `events` (the newly stored ones), aggregated."""
    presence: dict[tuple[str, str, str, str, date], PresenceRow] = {}
    plates: dict[tuple[str, str, str], PlateSighting] = {}
    visitors: dict[tuple[str, str], VisitorSighting] = {}
    for event in events:
        if isinstance(event, (AccessEvent, FaceCapture, VisitorEvent)):
            if event.subject_key is not None and _present(event):
                _add_presence(presence, event)
            if isinstance(event, VisitorEvent) and event.visitor_ref:
                _add_visitor(visitors, event)
        elif isinstance(event, VehiclePass) and event.plate_no:
            key = (event.community, event.plate_no, event.plate_color)
            seen = plates.get(key)
            if seen is None:
                plates[key] = PlateSighting(*key, event.occurred_at, event.occurred_at)
            else:
                seen.first_at = min(seen.first_at, event.occurred_at)
                seen.last_at = max(seen.last_at, event.occurred_at)
    # In key order, not arrival order: batches of several processes upsert the same rows at
    # once, and rows locked in one order cannot deadlock (tests/gateway/store/
    # test_concurrent_writes.py).
    return Observations(
        [presence[k] for k in sorted(presence)],
        [plates[k] for k in sorted(plates)],
        [visitors[k] for k in sorted(visitors)],
    )


def _present(event: AccessEvent | FaceCapture | VisitorEvent) -> bool:
    """Whether the event places its subject at a door or gate: a refused card did not pass
    (an unknown card, a resident of another unit at this one), so it counts for no door's
    users, occupants or residency evidence."""
    if isinstance(event, AccessEvent) and event.result != "granted":
        return False
    return bool(event.building or event.gate)


def _add_presence(
    rows: dict[tuple[str, str, str, str, date], PresenceRow],
    event: AccessEvent | FaceCapture | VisitorEvent,
) -> None:
    assert event.subject_key is not None
    at = event.occurred_at
    local = at.astimezone(CHINA_STANDARD_TIME)  # once per event: this runs for every event
    night = local.hour >= NIGHT_FROM_HOUR or local.hour < NIGHT_UNTIL_HOUR
    building, unit = ("", "") if event.gate or not event.building else (event.building, event.unit)
    key = (event.community, event.subject_key, building, unit or "", local.date())
    row = rows.get(key)
    if row is None:
        rows[key] = PresenceRow(*key, night, person_ref(event), at, at)
        return
    row.night = row.night or night
    row.ref = row.ref or person_ref(event)
    if at < row.first_at:
        row.first_at = at
    elif at > row.last_at:
        row.last_at = at


def _add_visitor(rows: dict[tuple[str, str], VisitorSighting], event: VisitorEvent) -> None:
    assert event.visitor_ref is not None
    key = (event.community, event.visitor_ref)
    known = rows.get(key)
    if known is not None and known.at > event.occurred_at:
        return
    rows[key] = VisitorSighting(
        community=event.community,
        id_hash=event.visitor_ref,
        id_type=event.id_type,
        id_masked=event.id_masked,
        name_masked=event.name_masked,
        phone_masked=event.phone_masked,
        visit_house=event.host_house,
        visit_from=event.valid_from,
        visit_until=_visit_until(event),
        at=event.occurred_at,
    )


def _visit_until(event: VisitorEvent) -> datetime | None:
    """A checked-out or cancelled visit ends then (or at its planned end, if earlier)."""
    if event.action in ("checked_out", "cancelled"):
        if event.valid_until is None:
            return event.occurred_at
        return min(event.valid_until, event.occurred_at)
    return event.valid_until


def visitor_update_sql(visit_from: str, visit_until: str, visit_event: str, updated: str) -> str:
    """The `ON CONFLICT (community, id_hash) DO UPDATE` assignments of a visitor record, for
    both backends (their time columns named).

    Batches of several processes commit in any order, and a device may resend an older
    message later, so the visit columns follow event time, not commit order: an event not
    older than the stored one (`visit_event`; NULL, from before migration 0015, is older than
    anything) overwrites what it carries; an older one only fills what is still empty. Two
    events of different times thus end in the same record in either order; of equal times,
    the later batch wins, as the later arrival does within a batch. The masked forms follow
    the same rule on visitor records only (a resident keeps theirs); the population type
    never changes."""
    newer = f"(persons.{visit_event} IS NULL OR excluded.{visit_event} >= persons.{visit_event})"

    def merged(column: str) -> str:
        return (
            f"CASE WHEN {newer} THEN coalesce(excluded.{column}, persons.{column})"
            f" ELSE coalesce(persons.{column}, excluded.{column}) END"
        )

    masked = [
        f"{column} = CASE WHEN persons.population_type = 'visitor'"
        f" THEN {merged(column)} ELSE persons.{column} END"
        for column in ("id_type", "id_masked", "name_masked", "phone_masked")
    ]
    visit = [f"{column} = {merged(column)}" for column in ("visit_house", visit_from, visit_until)]
    event = (
        f"{visit_event} = CASE WHEN {newer} THEN excluded.{visit_event}"
        f" ELSE persons.{visit_event} END"
    )
    return ",\n    ".join([*masked, *visit, event, f"{updated} = excluded.{updated}"])


@dataclass(frozen=True, slots=True)
class PresenceTally:
    """A subject's use of one unit door over the evidence window, as the store counted it."""

    community: str
    subject_key: str
    building: str
    unit: str
    ref: str | None
    days: int
    night_days: int
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True, slots=True)
class Inference:
    """An inferred residency that qualifies now."""

    community: str
    subject_key: str
    building: str
    unit: str
    house_code: str | None
    person_id: str | None
    confidence: float
    days: int
    night_days: int
    evidence_from: datetime
    evidence_until: datetime

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.community, self.subject_key, self.building, self.unit)


def valid_on(match: CredentialMatch, day: date) -> bool:
    """A credential (or ID hash) is valid on `day` when `since <= day <= until` (open ends)."""
    return (match.since is None or match.since <= day) and (
        match.until is None or day <= match.until
    )


def persons_on(matches: Iterable[CredentialMatch], day: date) -> dict[tuple[str, str], str]:
    """(community, ref) -> person_id for the matches valid on `day`."""
    return {(m.community, m.ref): m.person_id for m in matches if valid_on(m, day)}


def inferences(
    tallies: Iterable[PresenceTally],
    rule: ResidencyRule,
    persons: dict[tuple[str, str], str],
    registered: set[tuple[str, str, str]],
    single_houses: dict[tuple[str, str, str], str],
) -> list[Inference]:
    """The residencies `tallies` infer under `rule`.

    `persons`: (community, ref) -> person_id valid today; `registered`: (person_id, building,
    unit) of current registered residencies; `single_houses`: (community, building, unit) ->
    the unit's house code when the unit has exactly one house.
    """
    found = []
    for tally in tallies:
        if tally.days < rule.min_days or tally.night_days < rule.min_night_days:
            continue
        person = None if tally.ref is None else persons.get((tally.community, tally.ref))
        if person is not None and (person, tally.building, tally.unit) in registered:
            continue
        found.append(
            Inference(
                community=tally.community,
                subject_key=tally.subject_key,
                building=tally.building,
                unit=tally.unit,
                house_code=single_houses.get((tally.community, tally.building, tally.unit)),
                person_id=person,
                confidence=rule.confidence(tally.days, tally.night_days),
                days=tally.days,
                night_days=tally.night_days,
                evidence_from=tally.first_at,
                evidence_until=tally.last_at,
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class InferenceReport:
    """What one inference pass did: residencies inferred anew, refreshed, and lapsed."""

    inferred: int = 0
    refreshed: int = 0
    lapsed: int = 0


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """How many rows one retention pass removed, per kind; `event_chunks`: whole TimescaleDB
    chunks dropped (their rows are not counted in `events`)."""

    event_chunks: int = 0
    events: int = 0
    presence: int = 0
    inferred_residencies: int = 0
    vehicles: int = 0
    visitors: int = 0
    audit_entries: int = 0

    @property
    def total(self) -> int:
        return (
            self.event_chunks
            + self.events
            + self.presence
            + self.inferred_residencies
            + self.vehicles
            + self.visitors
            + self.audit_entries
        )


@dataclass(frozen=True, slots=True)
class RetentionCutoffs:
    """The instants and local day before which each kind of row is removed."""

    events_before: datetime
    day_before: date
    audit_before: datetime

    @classmethod
    def of(cls, now: datetime, event_days: int, audit_days: int) -> "RetentionCutoffs":
        events_before = now - timedelta(days=event_days)
        return cls(events_before, local_day(events_before), now - timedelta(days=audit_days))


class ObservationStore(Resolver, Protocol):
    """Models derived from events: recorded on write, inferred and aged out periodically,
    resolved at read time (`Resolver`: `resolve_refs` also resolves persons' own `id_hash`,
    open-ended)."""

    async def infer_residencies(self, now: datetime, rule: ResidencyRule) -> InferenceReport:
        """Re-evaluate inferred residencies from presence in the window ending `now`: insert or
        refresh the qualifying ones, lapse (`until` = today) live ones that no longer qualify."""

    async def enforce_retention(
        self, now: datetime, event_days: int, audit_days: int
    ) -> RetentionReport:
        """Remove events and presence older than `event_days`, inferred residencies lapsed,
        vehicles never registered (no import listed them: `registered` false and no `until`)
        last seen and visitor records whose visit ended before then, and audit entries older
        than `audit_days`. Ended registrations (a snapshot no longer listed the vehicle) are
        kept, like ended residencies: "whose car was this in March" stays answerable."""
