"""`ResidentFactStore` written once over a backend's `_fact_rows` (one read statement, values
in and out as Python's): the SQL is `gateway.store.residentfacts_sql`'s, and what a row means
is decided here, the same for both stores."""

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from gateway.store import residentfacts_sql as sql
from gateway.store.observations import local_day
from gateway.store.residentfacts import (
    HeavyDay,
    HouseActivity,
    HouseEvent,
    HouseUsers,
    PersonActivity,
    SubjectDay,
    SubjectEvent,
    UnitUsers,
    VehicleEntry,
    day_end,
    day_start,
)
from schemas.privacy import subject_key

ColumnTypes = str
"""One letter per column of a result: `s` text, `d` date, `t` instant, `i` integer."""

_SUBJECTS_PER_READ = 400
"""Subject keys per events read: well under SQLite's bound-variable limit."""


def window_params(
    community: str, end_days: Sequence[date], window_days: int, min_users: int
) -> dict[str, object]:
    """Parameters of the door-user counts: the days read, and each window's end and first day
    (`residentfacts_sql._ends`)."""
    params: dict[str, object] = {
        "community": community,
        "first_day": min(end_days) - timedelta(days=window_days - 1),
        "last_day": max(end_days),
        "min_users": min_users,
    }
    for n, end in enumerate(end_days):
        params[f"end_{n}"] = end
        params[f"start_{n}"] = end - timedelta(days=window_days - 1)
    return params


class ResidentFactQueries:
    """The `ResidentFactStore` methods; the backend supplies `_fact_rows`."""

    async def _fact_rows(
        self, statement: str, params: Mapping[str, object], types: ColumnTypes
    ) -> list[tuple[Any, ...]]:
        """Run one read (a `residentfacts_sql` statement before its dialect is applied)."""
        raise NotImplementedError

    async def tagged_activity(self, community: str, tag: str, at: datetime) -> list[PersonActivity]:
        rows = await self._fact_rows(
            sql.TAGGED_ACTIVITY,
            {"community": community, "tag": tag, "day": local_day(at), "at": at},
            "sssstdt",
        )
        return [PersonActivity(*row) for row in rows]

    async def unresolved_presence(
        self, community: str, first_day: date, last_day: date
    ) -> list[SubjectDay]:
        rows = await self._fact_rows(
            sql.UNRESOLVED_PRESENCE,
            {"community": community, "first_day": first_day, "last_day": last_day},
            "sdsst",
        )
        return [SubjectDay(*row) for row in rows]

    async def unit_users(
        self, community: str, end_days: Sequence[date], window_days: int, min_users: int
    ) -> list[UnitUsers]:
        if not end_days:
            return []
        params = window_params(community, end_days, window_days, min_users)
        used = await self._fact_rows(sql.unit_users(len(end_days)), params, "dssi")
        if not used:
            return []
        occupants = {
            (building, unit): count
            for building, unit, count in await self._fact_rows(
                sql.UNIT_OCCUPANTS, {"community": community, "day": max(end_days)}, "ssi"
            )
        }
        return [
            UnitUsers(end, building, unit, users, occupants.get((building, unit), 0))
            for end, building, unit, users in used
        ]

    async def house_users(
        self, community: str, end_days: Sequence[date], window_days: int, min_users: int
    ) -> list[HouseUsers]:
        if not end_days:
            return []
        params = window_params(community, end_days, window_days, min_users)
        rows = await self._fact_rows(sql.house_users(len(end_days)), params, "dsssii")
        return [
            HouseUsers(end, code, building, unit, users, registered)
            for end, code, building, unit, registered, users in rows
        ]

    async def heavy_days(
        self, community: str, first_day: date, last_day: date, more_than: int
    ) -> list[HeavyDay]:
        params = {
            "community": community,
            "since": day_start(first_day),
            "until": day_end(last_day),
            "more_than": more_than,
        }
        rows = await self._fact_rows(sql.HEAVY_DAYS, params, "sssdi")
        return [HeavyDay(*row) for row in rows]

    async def vacant_house_events(
        self, community: str, since: datetime, until: datetime
    ) -> list[HouseEvent]:
        ties = await self._fact_rows(
            sql.VACANT_TIES, {"community": community, "day": local_day(until)}, "sssss"
        )
        houses: dict[tuple[str, str, str], set[str]] = {}
        for house_code, building, unit, ref, subject in ties:
            key = subject if ref is None else subject_key(community, ref)
            houses.setdefault((building, unit, key), set()).add(house_code)
        found = [
            HouseEvent(
                house_code,
                event.building or "",
                event.unit or "",
                event.event_id,
                event.occurred_at,
            )
            for event in await self.subject_events(
                community, sorted({key for _, _, key in houses}), since, until
            )
            for house_code in sorted(
                houses.get((event.building or "", event.unit or "", event.subject_key), ())
            )
        ]
        return found

    async def subject_events(
        self, community: str, subject_keys: Sequence[str], since: datetime, until: datetime
    ) -> list[SubjectEvent]:
        found: list[SubjectEvent] = []
        for n in range(0, len(subject_keys), _SUBJECTS_PER_READ):
            chunk = subject_keys[n : n + _SUBJECTS_PER_READ]
            params: dict[str, object] = {"community": community, "since": since, "until": until}
            params.update({f"s_{i}": key for i, key in enumerate(chunk)})
            rows = await self._fact_rows(sql.subject_events(len(chunk)), params, "stsss")
            found += [SubjectEvent(*row) for row in rows]
        return sorted(found, key=lambda event: (event.occurred_at, event.event_id))

    async def occupied_house_activity(
        self, community: str, since: datetime, at: datetime
    ) -> list[HouseActivity]:
        params = {
            "community": community,
            "day": local_day(at),
            "first_day": local_day(since),
            "since": since,
            "at": at,
        }
        rows = await self._fact_rows(sql.OCCUPIED_ACTIVITY, params, "ssstdt")
        houses: dict[str, HouseActivity] = {}
        for house_code, building, unit, created, resident_since, last_seen in rows:
            registered = created
            if resident_since is not None:
                registered = max(created, day_start(resident_since))
            known = houses.get(house_code)
            if known is None or registered < known.registered_at:
                houses[house_code] = HouseActivity(
                    house_code, building, unit, registered, last_seen
                )
        return list(houses.values())

    async def night_entries(
        self, community: str, since: datetime, until: datetime
    ) -> list[VehicleEntry]:
        params = {"community": community, "since": since, "until": until}
        rows = await self._fact_rows(sql.NIGHT_ENTRIES, params, "ssstsss")
        return [VehicleEntry(e, p, c, at, g, d, i, None) for e, p, c, at, g, d, i in rows]

    async def vehicle_entries(
        self, community: str, since: datetime, entered_until: datetime, until: datetime
    ) -> list[VehicleEntry]:
        params = {
            "community": community,
            "since": since,
            "entered_until": entered_until,
            "until": until,
        }
        rows = await self._fact_rows(sql.VEHICLE_ENTRIES, params, "ssstssst")
        return [VehicleEntry(*row) for row in rows]
