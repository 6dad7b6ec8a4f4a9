"""The `ResidentFactStore` protocol: what the population, housing, care and vehicle rules read.

Each query is one set-based statement (two where a second is cheaper than a join), bounded by
the window its rule judges, for one community: they run every `SCGW_RULES_INTERVAL_S` per
community on the watermark. They return facts, never decisions: the rules
(`gateway.rules.care`, `population`, `housing`, `vehicles`) apply the thresholds. A subject
resolves to a person as `gateway.resolution` resolves it: a credential valid on the sighting's
local day, or the person's own ID hash.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from schemas.times import CHINA_STANDARD_TIME


def day_start(day: date) -> datetime:
    """Local midnight at the start of `day`, in UTC."""
    return datetime.combine(day, time(), CHINA_STANDARD_TIME).astimezone(UTC)


def day_end(day: date) -> datetime:
    """Local midnight at the end of `day`, in UTC: when the day closes."""
    return day_start(day + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class PersonActivity:
    """A tagged person's current residency and their last sighting at or before the instant
    asked about (None: never seen). `created_at`: when the gateway first recorded the person;
    `since`: the residency's own start, if the import gave one."""

    person_id: str
    house_code: str
    building: str
    unit: str | None
    created_at: datetime
    since: date | None
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class SubjectDay:
    """An unresolved subject seen at a door or gate on a local day (building and unit '' at
    gates), first at `first_at`."""

    subject_key: str
    day: date
    building: str
    unit: str
    first_at: datetime


@dataclass(frozen=True, slots=True)
class UnitUsers:
    """Distinct users (persons, or subjects that resolve to none) of a unit door in the window
    ending `end_day`, and the occupants of the unit's houses (per house the larger of its
    declared `registered_occupants` and its registered residents)."""

    end_day: date
    building: str
    unit: str
    users: int
    occupants: int


@dataclass(frozen=True, slots=True)
class HouseUsers:
    """Distinct persons registered as living in a house who used its unit door in the window
    ending `end_day`, and the house's declared `registered_occupants`."""

    end_day: date
    house_code: str
    building: str
    unit: str
    users: int
    registered_occupants: int


@dataclass(frozen=True, slots=True)
class HeavyDay:
    """A credential (as its subject key) that opened a unit door `opens` times on a local day."""

    subject_key: str
    building: str
    unit: str
    day: date
    opens: int


@dataclass(frozen=True, slots=True)
class SubjectEvent:
    """An access or face event of a subject; building and unit as the event gives them."""

    event_id: str
    occurred_at: datetime
    subject_key: str
    building: str | None
    unit: str | None


@dataclass(frozen=True, slots=True)
class HouseEvent:
    """An access or face event at a house's unit door by a subject tied to the house."""

    house_code: str
    building: str
    unit: str
    event_id: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class HouseActivity:
    """An occupied, observable house (its registered residents hold credentials): when it was
    registered (the earliest of its residents' registrations) and its last sighting in the
    window asked about (None: none in it)."""

    house_code: str
    building: str
    unit: str | None
    registered_at: datetime
    last_seen: datetime | None


@dataclass(frozen=True, slots=True)
class VehicleEntry:
    """A non-resident vehicle entering (direction `in`); `next_at`: the plate's next pass in
    either direction, if any by the end of the window asked about."""

    event_id: str
    plate_no: str
    plate_color: str
    occurred_at: datetime
    gate: str | None
    device_id: str
    image_url: str | None
    next_at: datetime | None


class ResidentFactStore(Protocol):
    """Fact queries of the resident rules; each is one read for one community."""

    async def tagged_activity(self, community: str, tag: str, at: datetime) -> list[PersonActivity]:
        """Persons tagged `tag` with a registered residency current on `at`'s local day, one row
        per such residency, with their last sighting (presence of any of their credentials in
        its holder period, or of their ID hash) at or before `at`."""

    async def unresolved_presence(
        self, community: str, first_day: date, last_day: date
    ) -> list[SubjectDay]:
        """Presence on `first_day`..`last_day` of subjects with a credential or ID hash that
        resolves to no person on the day (a camera's stranger track is not counted: its
        track id names a camera session, not a person)."""

    async def unit_users(
        self, community: str, end_days: Sequence[date], window_days: int, min_users: int
    ) -> list[UnitUsers]:
        """Per window ending on each of `end_days` and unit door, the distinct users, where at
        least `min_users`."""

    async def house_users(
        self, community: str, end_days: Sequence[date], window_days: int, min_users: int
    ) -> list[HouseUsers]:
        """Per window ending on each of `end_days` and house, the distinct persons registered
        there (on the sighting's day) who used its unit door, where at least `min_users`."""

    async def heavy_days(
        self, community: str, first_day: date, last_day: date, more_than: int
    ) -> list[HeavyDay]:
        """Credentials that opened one unit door (granted) more than `more_than` times on a
        local day of `first_day`..`last_day`."""

    async def subject_events(
        self, community: str, subject_keys: Sequence[str], since: datetime, until: datetime
    ) -> list[SubjectEvent]:
        """Access and face events in [since, until) of the subjects, in time order (the
        evidence behind a finding about them)."""

    async def vacant_house_events(
        self, community: str, since: datetime, until: datetime
    ) -> list[HouseEvent]:
        """Access and face events in [since, until) at the unit door of a house registered
        `vacant`, by a credential or ID hash of a person registered there, or a subject whose
        residency there was inferred."""

    async def occupied_house_activity(
        self, community: str, since: datetime, at: datetime
    ) -> list[HouseActivity]:
        """Houses not registered `vacant` with registered residents current on `at`'s local
        day, at least one of whom holds a credential, with their residents' last sighting in
        [since, at]."""

    async def night_entries(
        self, community: str, since: datetime, until: datetime
    ) -> list[VehicleEntry]:
        """Entries in [since, until) between 19:00 and 08:00 local of plates that are no
        registered vehicle of the community (`next_at` not looked for: None)."""

    async def vehicle_entries(
        self, community: str, since: datetime, entered_until: datetime, until: datetime
    ) -> list[VehicleEntry]:
        """Entries in [since, entered_until] of plates that are no registered vehicle of the
        community (in the pass's colour, or any when it is unknown), each with the plate's
        next pass (`in` or `out`) in the window up to `until`."""
