"""`ObservationStore` on SQLite: recording in `write_batch`'s transaction, inference,
retention and the resolvers. Times are integer microseconds (UTC), days ISO text."""

import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store.masterdata import CredentialMatch, PlateMatch, new_person_id, new_vehicle_id
from gateway.store.micros import from_micros, to_micros
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

R = TypeVar("R")
_MICROSECOND = timedelta(microseconds=1)
_CHUNK = 400  # pairs per statement: well under SQLite's bound-variable limit

_UPSERT_PRESENCE = f"""
INSERT INTO presence (community, subject_key, building, unit, day, night, ref, first_us, last_us)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (community, subject_key, building, unit, day) DO UPDATE SET
    night = max(presence.night, excluded.night),
    ref = coalesce(presence.ref, excluded.ref),
    first_us = min(presence.first_us, excluded.first_us),
    last_us = max(presence.last_us, excluded.last_us)
WHERE excluded.night > presence.night OR excluded.first_us < presence.first_us
    OR excluded.last_us > presence.last_us + {PRESENCE_LAST_STEP // _MICROSECOND}
"""
_UPSERT_SIGHTING = """
INSERT INTO vehicles (vehicle_id, community, plate_no, plate_color, registered, first_seen_us,
    last_seen_us, created_us, updated_us)
VALUES (:vehicle_id, :community, :plate_no, :plate_color, 0, :first, :last, :now, :now)
ON CONFLICT (community, plate_no, plate_color) DO UPDATE SET
    first_seen_us = min(coalesce(vehicles.first_seen_us, excluded.first_seen_us),
        excluded.first_seen_us),
    last_seen_us = max(coalesce(vehicles.last_seen_us, excluded.last_seen_us),
        excluded.last_seen_us)
"""
_SIGHT_ANY_COLOUR = """
UPDATE vehicles SET
    first_seen_us = min(coalesce(first_seen_us, :first), :first),
    last_seen_us = max(coalesce(last_seen_us, :last), :last)
WHERE community = :community AND plate_no = :plate_no
"""
_UPSERT_VISITOR = f"""
INSERT INTO persons (person_id, community, id_hash, id_type, id_masked, name_masked,
    phone_masked, population_type, visit_house, visit_from_us, visit_until_us, visit_event_us,
    created_us, updated_us)
VALUES (:person_id, :community, :id_hash, :id_type, :id_masked, :name_masked, :phone_masked,
    'visitor', :visit_house, :visit_from, :visit_until, :visit_event, :now, :now)
ON CONFLICT (community, id_hash) DO UPDATE SET
    {visitor_update_sql("visit_from_us", "visit_until_us", "visit_event_us", "updated_us")}
"""
_TALLIES = """
SELECT community, subject_key, building, unit, max(ref), count(*), sum(night), min(first_us),
    max(last_us)
FROM presence WHERE day >= ? AND day <= ? AND unit <> ''
GROUP BY community, subject_key, building, unit
HAVING count(*) >= ? AND sum(night) >= ?
"""
_UPSERT_INFERRED = """
INSERT INTO inferred_residencies (community, subject_key, building, unit, house_code, person_id,
    confidence, days, night_days, evidence_from_us, evidence_until_us, since, until, updated_us)
VALUES (:community, :subject_key, :building, :unit, :house_code, :person_id, :confidence, :days,
    :night_days, :evidence_from, :evidence_until, :since, NULL, :now)
ON CONFLICT (community, subject_key, building, unit) DO UPDATE SET
    house_code = excluded.house_code, person_id = excluded.person_id,
    confidence = excluded.confidence, days = excluded.days, night_days = excluded.night_days,
    evidence_from_us = excluded.evidence_from_us, evidence_until_us = excluded.evidence_until_us,
    since = CASE WHEN inferred_residencies.until IS NULL THEN inferred_residencies.since
        ELSE excluded.since END,
    until = NULL, updated_us = excluded.updated_us
"""


def record_observations(db: sqlite3.Connection, seen: Observations, now: datetime) -> None:
    """Write what a batch's new events add, inside the caller's transaction."""
    if seen.presence:
        db.executemany(
            _UPSERT_PRESENCE,
            [
                (
                    p.community,
                    p.subject_key,
                    p.building,
                    p.unit,
                    p.day.isoformat(),
                    int(p.night),
                    p.ref,
                    to_micros(p.first_at),
                    to_micros(p.last_at),
                )
                for p in seen.presence
            ],
        )
    stamp = to_micros(now)
    for plate in seen.plates:
        row = {
            "vehicle_id": new_vehicle_id(),
            "community": plate.community,
            "plate_no": plate.plate_no,
            "plate_color": plate.plate_color,
            "first": to_micros(plate.first_at),
            "last": to_micros(plate.last_at),
            "now": stamp,
        }
        # An unknown colour matches the plate in any colour; only an unseen plate is inserted.
        if plate.plate_color != "unknown" or not db.execute(_SIGHT_ANY_COLOUR, row).rowcount:
            db.execute(_UPSERT_SIGHTING, row)
    if seen.visitors:
        db.executemany(
            _UPSERT_VISITOR,
            [
                {
                    "person_id": new_person_id(),
                    "community": v.community,
                    "id_hash": v.id_hash,
                    "id_type": v.id_type,
                    "id_masked": v.id_masked,
                    "name_masked": v.name_masked,
                    "phone_masked": v.phone_masked,
                    "visit_house": v.visit_house,
                    "visit_from": None if v.visit_from is None else to_micros(v.visit_from),
                    "visit_until": None if v.visit_until is None else to_micros(v.visit_until),
                    "visit_event": to_micros(v.at),
                    "now": stamp,
                }
                for v in seen.visitors
            ],
        )


def _chunks(items: Sequence[R]) -> list[Sequence[R]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)]


def _for_pairs(
    db: sqlite3.Connection, pairs: Sequence[tuple[str, str]], names: str, select: str
) -> list[tuple[Any, ...]]:
    """`select` joined to the distinct `pairs` as the CTE `wanted(names)`, chunked."""
    found: list[tuple[Any, ...]] = []
    for chunk in _chunks(sorted(set(pairs))):
        values = ", ".join("(?, ?)" for _ in chunk)
        params = [value for pair in chunk for value in pair]
        found += db.execute(f"WITH wanted({names}) AS (VALUES {values}) {select}", params)
    return found


def resolve_refs(db: sqlite3.Connection, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
    rows = _for_pairs(
        db,
        refs,
        "community, ref",
        "SELECT c.community, c.ref, c.person_id, c.since, c.until FROM credentials c"
        " JOIN wanted w ON c.community = w.community AND c.ref = w.ref"
        " UNION ALL SELECT p.community, p.id_hash, p.person_id, NULL, NULL FROM persons p"
        " JOIN wanted w ON p.community = w.community AND p.id_hash = w.ref",
    )
    return [
        CredentialMatch(community, ref, person, _maybe_day(since), _maybe_day(until))
        for community, ref, person, since, until in rows
    ]


def resolve_plates(db: sqlite3.Connection, plates: Sequence[tuple[str, str]]) -> list[PlateMatch]:
    rows = _for_pairs(
        db,
        plates,
        "community, plate_no",
        "SELECT v.community, v.plate_no, v.plate_color, v.registered FROM vehicles v"
        " JOIN wanted w ON v.community = w.community AND v.plate_no = w.plate_no",
    )
    return [PlateMatch(c, plate, colour, bool(registered)) for c, plate, colour, registered in rows]


def _maybe_day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def infer_residencies(
    db: sqlite3.Connection, now: datetime, rule: ResidencyRule
) -> InferenceReport:
    """One inference pass (see `ObservationStore.infer_residencies`), in the caller's
    transaction."""
    today = local_day(now)
    tallies = [
        PresenceTally(
            community,
            subject,
            building,
            unit,
            ref,
            days,
            nights,
            from_micros(first),
            from_micros(last),
        )
        for community, subject, building, unit, ref, days, nights, first, last in db.execute(
            _TALLIES,
            (
                rule.window_start(now).isoformat(),
                today.isoformat(),
                rule.min_days,
                rule.min_night_days,
            ),
        )
    ]
    refs = [(t.community, t.ref) for t in tallies if t.ref is not None]
    persons = persons_on(resolve_refs(db, refs), today)
    found = inferences(
        tallies,
        rule,
        persons,
        _registered(db, sorted(set(persons.values())), today),
        _single_houses(db, sorted({t.community for t in tallies})),
    )
    live = {
        (c, s, b, u): last
        for c, s, b, u, last in db.execute(
            "SELECT community, subject_key, building, unit, evidence_until_us"
            " FROM inferred_residencies WHERE until IS NULL"
        )
    }
    stamp = to_micros(now)
    db.executemany(
        _UPSERT_INFERRED,
        [
            {
                "community": f.community,
                "subject_key": f.subject_key,
                "building": f.building,
                "unit": f.unit,
                "house_code": f.house_code,
                "person_id": f.person_id,
                "confidence": f.confidence,
                "days": f.days,
                "night_days": f.night_days,
                "evidence_from": to_micros(f.evidence_from),
                "evidence_until": to_micros(f.evidence_until),
                "since": local_day(f.evidence_from).isoformat(),
                "now": stamp,
            }
            for f in found
        ],
    )
    qualifying = {f.key for f in found}
    lapsed = [key for key in live if key not in qualifying]
    db.executemany(
        "UPDATE inferred_residencies SET until = ?, updated_us = ?"
        " WHERE community = ? AND subject_key = ? AND building = ? AND unit = ?",
        [(local_day(from_micros(live[key])).isoformat(), stamp, *key) for key in lapsed],
    )
    fresh = len(qualifying - live.keys())
    return InferenceReport(inferred=fresh, refreshed=len(found) - fresh, lapsed=len(lapsed))


def _registered(
    db: sqlite3.Connection, person_ids: Sequence[str], today: date
) -> set[tuple[str, str, str]]:
    """(person_id, building, unit) of the persons' registered residencies current today."""
    found: set[tuple[str, str, str]] = set()
    for chunk in _chunks(person_ids):
        marks = ", ".join("?" for _ in chunk)
        sql = (
            "SELECT r.person_id, h.building, h.unit FROM residencies r"
            " JOIN houses h ON h.house_code = r.house_code"
            f" WHERE r.person_id IN ({marks}) AND (r.since IS NULL OR r.since <= ?)"
            " AND (r.until IS NULL OR r.until >= ?)"
        )
        day = today.isoformat()
        found.update((p, b, u or "") for p, b, u in db.execute(sql, [*chunk, day, day]))
    return found


def _single_houses(
    db: sqlite3.Connection, communities: Sequence[str]
) -> dict[tuple[str, str, str], str]:
    """(community, building, unit) -> its house code, for units holding exactly one house."""
    found: dict[tuple[str, str, str], str] = {}
    for chunk in _chunks(communities):
        marks = ", ".join("?" for _ in chunk)
        sql = (
            "SELECT community, building, unit, min(house_code) FROM houses"
            f" WHERE community IN ({marks}) AND unit IS NOT NULL"
            " GROUP BY community, building, unit HAVING count(*) = 1"
        )
        found.update(((c, b, u), code) for c, b, u, code in db.execute(sql, list(chunk)))
    return found


def enforce_retention(
    db: sqlite3.Connection, now: datetime, event_days: int, audit_days: int
) -> RetentionReport:
    """One retention pass (see `ObservationStore.enforce_retention`): range deletes, in the
    caller's transaction."""
    cut = RetentionCutoffs.of(now, event_days, audit_days)
    before, day = to_micros(cut.events_before), cut.day_before.isoformat()

    def delete(sql: str, *params: object) -> int:
        return db.execute(sql, params).rowcount

    return RetentionReport(
        events=delete("DELETE FROM events WHERE occurred_us < ?", before),
        presence=delete("DELETE FROM presence WHERE day < ?", day),
        inferred_residencies=delete(
            "DELETE FROM inferred_residencies WHERE until IS NOT NULL AND until < ?", day
        ),
        vehicles=delete(
            "DELETE FROM vehicles WHERE registered = 0 AND until IS NULL"
            " AND coalesce(last_seen_us, created_us) < ?",
            before,
        ),
        visitors=delete(
            "DELETE FROM persons WHERE population_type = 'visitor' AND visit_until_us < ?",
            before,
        ),
        audit_entries=delete("DELETE FROM audit_log WHERE at_us < ?", to_micros(cut.audit_before)),
    )


class SqliteObservations:
    """The `ObservationStore` methods of `SqliteStore` (which supplies `_run`, `_db`, and
    `_write_tx` from `SqliteMasterData`)."""

    if TYPE_CHECKING:

        async def _run(self, function: Callable[[], R]) -> R: ...

        async def _write_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

        @property
        def _db(self) -> sqlite3.Connection: ...

    async def infer_residencies(self, now: datetime, rule: ResidencyRule) -> InferenceReport:
        return await self._write_tx(lambda db: infer_residencies(db, now, rule))

    async def enforce_retention(
        self, now: datetime, event_days: int, audit_days: int
    ) -> RetentionReport:
        return await self._write_tx(lambda db: enforce_retention(db, now, event_days, audit_days))

    async def resolve_refs(self, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
        if not refs:
            return []
        return await self._run(lambda: resolve_refs(self._db, refs))

    async def resolve_plates(self, plates: Sequence[tuple[str, str]]) -> list[PlateMatch]:
        if not plates:
            return []
        return await self._run(lambda: resolve_plates(self._db, plates))
