"""`ObservationStore` on PostgreSQL/TimescaleDB: recording in `write_batch`'s transaction (one
`unnest` statement per table and batch), inference, retention (`drop_chunks` for events) and the
resolvers (one statement per call)."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg

from gateway.store.masterdata import CredentialMatch, PlateMatch, new_person_id, new_vehicle_id
from gateway.store.observations import (
    PRESENCE_LAST_STEP,
    InferenceReport,
    Observations,
    PresenceTally,
    ResidencyRule,
    RetentionCutoffs,
    RetentionReport,
    inferences,
    local_day,
    persons_on,
    visitor_update_sql,
)

Connection = psycopg.AsyncConnection[tuple[object, ...]]

_UPSERT_PRESENCE = f"""
INSERT INTO presence (community, subject_key, building, unit, day, night, ref, first_at, last_at)
SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::date[], %b::bool[],
    %b::text[], %b::timestamptz[], %b::timestamptz[])
ON CONFLICT (community, subject_key, building, unit, day) DO UPDATE SET
    night = presence.night OR excluded.night,
    ref = coalesce(presence.ref, excluded.ref),
    first_at = least(presence.first_at, excluded.first_at),
    last_at = greatest(presence.last_at, excluded.last_at)
WHERE (excluded.night AND NOT presence.night) OR excluded.first_at < presence.first_at
    OR excluded.last_at > presence.last_at
        + interval '{PRESENCE_LAST_STEP.total_seconds():.0f} seconds'
"""
# Any-colour sightings (colour 'unknown') first update every colour of their plate; the plates
# none of that matched, and the known-colour sightings, are upserted by (plate, colour).
_SIGHT_ANY_COLOUR = """
WITH seen AS (
    SELECT * FROM unnest(%b::text[], %b::text[], %b::timestamptz[], %b::timestamptz[])
        AS s(community, plate_no, first_at, last_at))
UPDATE vehicles v SET
    first_seen_at = least(coalesce(v.first_seen_at, s.first_at), s.first_at),
    last_seen_at = greatest(coalesce(v.last_seen_at, s.last_at), s.last_at)
FROM seen s WHERE v.community = s.community AND v.plate_no = s.plate_no
RETURNING v.community, v.plate_no
"""
_UPSERT_SIGHTING = """
INSERT INTO vehicles (vehicle_id, community, plate_no, plate_color, registered, first_seen_at,
    last_seen_at, created_at, updated_at)
SELECT s.vehicle_id, s.community, s.plate_no, s.plate_color, false, s.first_at, s.last_at,
    %s, %s
FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::timestamptz[],
    %b::timestamptz[]) AS s(vehicle_id, community, plate_no, plate_color, first_at, last_at)
ON CONFLICT (community, plate_no, plate_color) DO UPDATE SET
    first_seen_at = least(coalesce(vehicles.first_seen_at, excluded.first_seen_at),
        excluded.first_seen_at),
    last_seen_at = greatest(coalesce(vehicles.last_seen_at, excluded.last_seen_at),
        excluded.last_seen_at)
"""
_UPSERT_VISITOR = f"""
INSERT INTO persons (person_id, community, id_hash, id_type, id_masked, name_masked,
    phone_masked, population_type, visit_house, visit_from, visit_until, visit_event_at,
    created_at, updated_at)
SELECT v.person_id, v.community, v.id_hash, v.id_type, v.id_masked, v.name_masked,
    v.phone_masked, 'visitor', v.visit_house, v.visit_from, v.visit_until, v.visit_event_at,
    %s, %s
FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
    %b::text[], %b::timestamptz[], %b::timestamptz[], %b::timestamptz[])
    AS v(person_id, community, id_hash, id_type, id_masked, name_masked, phone_masked,
        visit_house, visit_from, visit_until, visit_event_at)
ON CONFLICT (community, id_hash) DO UPDATE SET
    {visitor_update_sql("visit_from", "visit_until", "visit_event_at", "updated_at")}
"""
_RESOLVE_REFS = """
WITH wanted AS (SELECT * FROM unnest(%b::text[], %b::text[]) AS w(community, ref))
SELECT c.community, c.ref, c.person_id, c.since, c.until FROM credentials c
    JOIN wanted w ON c.community = w.community AND c.ref = w.ref
UNION ALL
SELECT p.community, p.id_hash, p.person_id, NULL::date, NULL::date FROM persons p
    JOIN wanted w ON p.community = w.community AND p.id_hash = w.ref
"""
_RESOLVE_PLATES = """
WITH wanted AS (SELECT * FROM unnest(%b::text[], %b::text[]) AS w(community, plate_no))
SELECT v.community, v.plate_no, v.plate_color, v.registered FROM vehicles v
    JOIN wanted w ON v.community = w.community AND v.plate_no = w.plate_no
"""
_TALLIES = """
SELECT community, subject_key, building, unit, max(ref), count(*)::int,
    count(*) FILTER (WHERE night)::int, min(first_at), max(last_at)
FROM presence WHERE day BETWEEN %s AND %s AND unit <> ''
GROUP BY community, subject_key, building, unit
HAVING count(*) >= %s AND count(*) FILTER (WHERE night) >= %s
"""
_REGISTERED = """
SELECT r.person_id, h.building, coalesce(h.unit, '') FROM residencies r
    JOIN houses h ON h.house_code = r.house_code
WHERE r.person_id = ANY(%s) AND (r.since IS NULL OR r.since <= %s)
    AND (r.until IS NULL OR r.until >= %s)
"""
_SINGLE_HOUSES = """
SELECT community, building, unit, min(house_code) FROM houses
WHERE community = ANY(%s) AND unit IS NOT NULL
GROUP BY community, building, unit HAVING count(*) = 1
"""
_UPSERT_INFERRED = """
INSERT INTO inferred_residencies (community, subject_key, building, unit, house_code, person_id,
    confidence, days, night_days, evidence_from, evidence_until, since, until, updated_at)
SELECT i.*, NULL, %s FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
    %b::text[], %b::float8[], %b::int[], %b::int[], %b::timestamptz[], %b::timestamptz[],
    %b::date[]) AS i
ON CONFLICT (community, subject_key, building, unit) DO UPDATE SET
    house_code = excluded.house_code, person_id = excluded.person_id,
    confidence = excluded.confidence, days = excluded.days, night_days = excluded.night_days,
    evidence_from = excluded.evidence_from, evidence_until = excluded.evidence_until,
    since = CASE WHEN inferred_residencies.until IS NULL THEN inferred_residencies.since
        ELSE excluded.since END,
    until = NULL, updated_at = excluded.updated_at
"""
_LAPSE = """
UPDATE inferred_residencies i SET until = l.until, updated_at = %s
FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::date[])
    AS l(community, subject_key, building, unit, until)
WHERE i.community = l.community AND i.subject_key = l.subject_key
    AND i.building = l.building AND i.unit = l.unit
"""


def _columns(rows: Sequence[Sequence[object]], width: int) -> list[list[object]]:
    """Rows as `width` column arrays, for `unnest`."""
    return [[row[i] for row in rows] for i in range(width)]


async def record_observations(db: Connection, seen: Observations, now: datetime) -> None:
    """Write what a batch's new events add, inside the caller's transaction."""
    if seen.presence:
        rows = [
            (
                p.community,
                p.subject_key,
                p.building,
                p.unit,
                p.day,
                p.night,
                p.ref,
                p.first_at,
                p.last_at,
            )
            for p in seen.presence
        ]
        await db.execute(_UPSERT_PRESENCE, _columns(rows, 9))
    if seen.plates:
        await _record_plates(db, seen, now)
    if seen.visitors:
        visitors = [
            (
                new_person_id(),
                v.community,
                v.id_hash,
                v.id_type,
                v.id_masked,
                v.name_masked,
                v.phone_masked,
                v.visit_house,
                v.visit_from,
                v.visit_until,
                v.at,
            )
            for v in seen.visitors
        ]
        await db.execute(_UPSERT_VISITOR, [now, now, *_columns(visitors, 11)])


async def _record_plates(db: Connection, seen: Observations, now: datetime) -> None:
    any_colour = [p for p in seen.plates if p.plate_color == "unknown"]
    matched: set[tuple[object, object]] = set()
    if any_colour:
        rows = [(p.community, p.plate_no, p.first_at, p.last_at) for p in any_colour]
        cursor = await db.execute(_SIGHT_ANY_COLOUR, _columns(rows, 4))
        matched = {(community, plate) for community, plate in await cursor.fetchall()}
    upserts = [
        (new_vehicle_id(), p.community, p.plate_no, p.plate_color, p.first_at, p.last_at)
        for p in seen.plates
        if p.plate_color != "unknown" or (p.community, p.plate_no) not in matched
    ]
    if upserts:
        await db.execute(_UPSERT_SIGHTING, [now, now, *_columns(upserts, 6)])


async def resolve_refs(db: Connection, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
    pairs = sorted(set(refs))
    cursor = await db.execute(_RESOLVE_REFS, _columns(pairs, 2))
    return [CredentialMatch(*row) for row in await cursor.fetchall()]  # type: ignore[arg-type]


async def infer_residencies(db: Connection, now: datetime, rule: ResidencyRule) -> InferenceReport:
    """One inference pass (see `ObservationStore.infer_residencies`), in the caller's
    transaction."""
    today = local_day(now)
    cursor = await db.execute(
        _TALLIES, (rule.window_start(now), today, rule.min_days, rule.min_night_days)
    )
    tallies = [PresenceTally(*row) for row in await cursor.fetchall()]  # type: ignore[arg-type]
    refs = [(t.community, t.ref) for t in tallies if t.ref is not None]
    persons = persons_on(await resolve_refs(db, refs) if refs else [], today)
    cursor = await db.execute(_REGISTERED, (sorted(set(persons.values())), today, today))
    registered = {(str(p), str(b), str(u)) for p, b, u in await cursor.fetchall()}
    cursor = await db.execute(_SINGLE_HOUSES, (sorted({t.community for t in tallies}),))
    single = {(str(c), str(b), str(u)): str(code) for c, b, u, code in await cursor.fetchall()}
    found = inferences(tallies, rule, persons, registered, single)
    cursor = await db.execute(
        "SELECT community, subject_key, building, unit, evidence_until"
        " FROM inferred_residencies WHERE until IS NULL FOR UPDATE"
    )
    live: dict[tuple[object, ...], datetime] = {
        tuple(row[:4]): row[4]  # type: ignore[misc]
        for row in await cursor.fetchall()
    }
    if found:
        rows = [
            (
                f.community,
                f.subject_key,
                f.building,
                f.unit,
                f.house_code,
                f.person_id,
                f.confidence,
                f.days,
                f.night_days,
                f.evidence_from,
                f.evidence_until,
                local_day(f.evidence_from),
            )
            for f in found
        ]
        await db.execute(_UPSERT_INFERRED, [now, *_columns(rows, 12)])
    qualifying = {f.key for f in found}
    lapsed = [(*key, local_day(last)) for key, last in live.items() if key not in qualifying]
    if lapsed:
        await db.execute(_LAPSE, [now, *_columns(lapsed, 5)])
    fresh = len(qualifying - live.keys())
    return InferenceReport(inferred=fresh, refreshed=len(found) - fresh, lapsed=len(lapsed))


async def enforce_retention(
    db: Connection, now: datetime, event_days: int, audit_days: int
) -> RetentionReport:
    """One retention pass: the TimescaleDB chunks of events wholly older than the cut-off are
    dropped, then the events older than it in the one chunk that straddles it are deleted (an
    index range), so exactly the events before the cut-off go; range deletes for the rest."""
    cut = RetentionCutoffs.of(now, event_days, audit_days)
    dropped = await db.execute(
        "SELECT count(*) FROM drop_chunks('events', older_than => %s::timestamptz)",
        (cut.events_before,),
    )
    chunks = await dropped.fetchone()

    async def delete(sql: str, *params: object) -> int:
        cursor = await db.execute(sql, params)
        return max(cursor.rowcount, 0)

    return RetentionReport(
        event_chunks=int(str(chunks[0])) if chunks else 0,
        events=await delete("DELETE FROM events WHERE occurred_at < %s", cut.events_before),
        presence=await delete("DELETE FROM presence WHERE day < %s", cut.day_before),
        inferred_residencies=await delete(
            "DELETE FROM inferred_residencies WHERE until IS NOT NULL AND until < %s",
            cut.day_before,
        ),
        vehicles=await delete(
            "DELETE FROM vehicles WHERE NOT registered AND until IS NULL"
            " AND coalesce(last_seen_at, created_at) < %s",
            cut.events_before,
        ),
        visitors=await delete(
            "DELETE FROM persons WHERE population_type = 'visitor' AND visit_until < %s",
            cut.events_before,
        ),
        audit_entries=await delete("DELETE FROM audit_log WHERE at < %s", cut.audit_before),
    )


class PostgresObservations:
    """The `ObservationStore` methods of `PostgresStore` (which supplies `_connection`)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def infer_residencies(self, now: datetime, rule: ResidencyRule) -> InferenceReport:
        async with self._connection() as db, db.transaction():
            return await infer_residencies(db, now, rule)

    async def enforce_retention(
        self, now: datetime, event_days: int, audit_days: int
    ) -> RetentionReport:
        async with self._connection() as db, db.transaction():
            return await enforce_retention(db, now, event_days, audit_days)

    async def resolve_refs(self, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
        if not refs:
            return []
        async with self._connection() as db:
            return await resolve_refs(db, refs)

    async def resolve_plates(self, plates: Sequence[tuple[str, str]]) -> list[PlateMatch]:
        if not plates:
            return []
        async with self._connection() as db:
            cursor = await db.execute(_RESOLVE_PLATES, _columns(sorted(set(plates)), 2))
            return [PlateMatch(*row) for row in await cursor.fetchall()]  # type: ignore[arg-type]
