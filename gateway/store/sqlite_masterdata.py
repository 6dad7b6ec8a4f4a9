"""`MasterDataStore` on SQLite: a mixin of `SqliteStore`, run on its worker thread.

Each method is one transaction (`BEGIN IMMEDIATE` for writes, a deferred one for reads, so
a read's statements see one snapshot). What to write is decided in
`gateway.store.masterdata_apply`, the same for both backends; this module only reads the
chunk's stored state and runs the writes set-based (`executemany`).
"""

import json
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store import masterdata_sql as shared
from gateway.store.base import Page
from gateway.store.erasure import erasure_scopes
from gateway.store.masterdata import (
    AuditEntry,
    Dataset,
    HouseQuery,
    PersonQuery,
    RowOutcome,
    SealedContact,
    VehicleQuery,
)
from gateway.store.masterdata_apply import (
    CredentialValues,
    HouseValues,
    PersonValues,
    ResidencyValues,
    VehicleValues,
    plan_credentials,
    plan_houses,
    plan_residency_ends,
    plan_residents,
    plan_vehicles,
)
from gateway.store.masterdata_read import (
    audit_where,
    house_where,
    houses_with_occupants,
    local_day,
    one_where,
    page_of,
    person_where,
    persons_with_residencies,
    vehicle_public,
    vehicle_where,
)
from gateway.store.masterdata_summary import assemble_summary, figures_of
from gateway.store.micros import from_micros, maybe_time, to_micros
from schemas.housing import CommunitySummary, Grid, HousePublic, HouseRecord
from schemas.population import (
    CredentialRecord,
    PersonPublic,
    ResidencyEnd,
    ResidentRecord,
)
from schemas.vehicles import VehiclePublic, VehicleRecord

R = TypeVar("R")
_UPSERT_HOUSE = shared.SQLITE(shared.UPSERT_HOUSE)
_UPSERT_PERSON = shared.SQLITE(shared.UPSERT_PERSON)
_UPSERT_RESIDENCY = shared.SQLITE(shared.UPSERT_RESIDENCY)
_UPSERT_VEHICLE = shared.SQLITE(shared.UPSERT_VEHICLE)
_UPSERT_CREDENTIAL = shared.SQLITE(shared.UPSERT_CREDENTIAL)
_END_UNLISTED = {dataset: shared.SQLITE(sql) for dataset, sql in shared.END_UNLISTED.items()}

_PERSON_FIELDS = (
    "id_type, id_masked, nationality, name_masked, name_ref, phone_masked, phone_ref, gender,"
    " birth_year, ethnicity, population_type, tags"
)


_SLICE = 900


def _marks(count: int) -> str:
    return ", ".join("?" * count)


def _select_in(
    db: sqlite3.Connection, sql: str, keys: Iterable[object], *before: object
) -> list[Any]:
    """Run `sql` with its `{}` replaced by one placeholder per key (and `before` first), in
    slices that stay under old SQLite builds' limit of 999 parameters."""
    values = list(dict.fromkeys(keys))
    found: list[Any] = []
    for start in range(0, len(values), _SLICE):
        part = values[start : start + _SLICE]
        found += db.execute(sql.format(_marks(len(part))), [*before, *part]).fetchall()
    return found


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _person_values(row: Sequence[Any]) -> PersonValues:
    return (*row[:11], tuple(json.loads(row[11])))


def _owners(db: sqlite3.Connection, community: str, id_hashes: Iterable[str]) -> dict[str, str]:
    rows = _select_in(
        db,
        "SELECT id_hash, person_id FROM persons WHERE community = ? AND id_hash IN ({})",
        id_hashes,
        community,
    )
    return {id_hash: person_id for id_hash, person_id in rows}


def _house_communities(db: sqlite3.Connection, codes: Iterable[str | None]) -> dict[str, str]:
    rows = _select_in(
        db,
        "SELECT house_code, community FROM houses WHERE house_code IN ({})",
        (code for code in codes if code is not None),
    )
    return {code: community for code, community in rows}


def _in_write(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], R]) -> R:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = work(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return result


def _in_read(db: sqlite3.Connection, work: Callable[[sqlite3.Connection], R]) -> R:
    db.execute("BEGIN")
    try:
        return work(db)
    finally:
        db.execute("COMMIT")


class SqliteMasterData:
    """The master-data methods of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _run(self, function: Callable[[], R]) -> R: ...

        @property
        def _db(self) -> sqlite3.Connection: ...

    async def _write_tx(self, work: Callable[[sqlite3.Connection], R]) -> R:
        return await self._run(lambda: _in_write(self._db, work))

    async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R:
        return await self._run(lambda: _in_read(self._db, work))

    async def apply_houses(
        self, community: str, rows: Sequence[HouseRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        def work(db: sqlite3.Connection) -> list[RowOutcome]:
            found = _select_in(
                db,
                "SELECT house_code, community, building, unit, floor, room, area_m2, usage,"
                " grid_code, registered_occupants FROM houses WHERE house_code IN ({})",
                (row.house_code for row in rows),
            )
            stored: dict[str, tuple[str, HouseValues]] = {
                code: (held_by, (b, u, f, r, None if a is None else Decimal(a), us, g, o))
                for code, held_by, b, u, f, r, a, us, g, o in found
            }
            plan = plan_houses(community, rows, stored)
            db.executemany(
                _UPSERT_HOUSE,
                [
                    {
                        **row.model_dump(),
                        "area_m2": None if row.area_m2 is None else str(row.area_m2),
                        "community": community,
                        "import_id": import_id,
                        "now": to_micros(now),
                    }
                    for row in plan.upserts.values()
                ],
            )
            db.executemany(
                "UPDATE houses SET import_id = ? WHERE house_code = ?",
                [(import_id, code) for code in plan.marks],
            )
            return plan.outcomes

        return await self._write_tx(work)

    async def apply_residents(
        self, community: str, rows: Sequence[ResidentRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        def work(db: sqlite3.Connection) -> list[RowOutcome]:
            houses = _house_communities(db, (row.house_code for row in rows))
            found = _select_in(
                db,
                f"SELECT id_hash, person_id, {_PERSON_FIELDS} FROM persons"
                " WHERE community = ? AND id_hash IN ({})",
                (row.person.id_hash for row in rows),
                community,
            )
            persons = {row[0]: (row[1], _person_values(row[2:])) for row in found}
            lived = _select_in(
                db,
                "SELECT person_id, house_code, relation, since, until FROM residencies"
                " WHERE person_id IN ({})",
                (person_id for person_id, _ in persons.values()),
            )
            residencies: dict[tuple[str, str], ResidencyValues] = {
                (p, h): (rel, _day(since), _day(until)) for p, h, rel, since, until in lived
            }
            plan = plan_residents(community, rows, houses, persons, residencies)
            now_us = to_micros(now)
            db.executemany(
                _UPSERT_PERSON,
                [
                    {
                        **person.model_dump(),
                        "tags": json.dumps(list(person.tags), ensure_ascii=False),
                        "person_id": person_id,
                        "community": community,
                        "import_id": import_id,
                        "now": now_us,
                    }
                    for person_id, person in plan.persons.values()
                ],
            )
            db.executemany(
                _UPSERT_RESIDENCY,
                [
                    {
                        "person_id": person_id,
                        "house_code": house_code,
                        "relation": row.relation,
                        "since": _iso(row.since),
                        "import_id": import_id,
                        "now": now_us,
                    }
                    for (person_id, house_code), row in plan.residencies.items()
                ],
            )
            db.executemany(
                "UPDATE residencies SET import_id = ? WHERE person_id = ? AND house_code = ?",
                [(import_id, *key) for key in plan.marks],
            )
            return plan.outcomes

        return await self._write_tx(work)

    async def apply_vehicles(
        self, community: str, rows: Sequence[VehicleRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        def work(db: sqlite3.Connection) -> list[RowOutcome]:
            houses = _house_communities(db, (row.house_code for row in rows))
            owners = _owners(db, community, (r.owner_id_hash for r in rows if r.owner_id_hash))
            found = _select_in(
                db,
                "SELECT plate_no, plate_color, vehicle_id, vehicle_type, owner_person_id,"
                " house_code, registered, until FROM vehicles"
                " WHERE community = ? AND plate_no IN ({})",
                (row.plate_no for row in rows),
                community,
            )
            stored: dict[tuple[str, str], tuple[str, VehicleValues]] = {
                (plate, colour): (vid, (colour, kind, owner, house, bool(reg), _day(until)))
                for plate, colour, vid, kind, owner, house, reg, until in found
            }
            plan = plan_vehicles(community, rows, houses, owners, stored)
            db.executemany(
                _UPSERT_VEHICLE,
                [
                    {
                        **row.model_dump(exclude={"owner_id_hash"}),
                        "vehicle_id": vehicle_id,
                        "community": community,
                        "owner": owner,
                        "import_id": import_id,
                        "now": to_micros(now),
                    }
                    for vehicle_id, (row, owner) in plan.upserts.items()
                ],
            )
            db.executemany(
                "UPDATE vehicles SET import_id = ? WHERE vehicle_id = ?",
                [(import_id, vehicle_id) for vehicle_id in plan.marks],
            )
            return plan.outcomes

        return await self._write_tx(work)

    async def apply_credentials(
        self, community: str, rows: Sequence[CredentialRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        def work(db: sqlite3.Connection) -> list[RowOutcome]:
            owners = _owners(db, community, (row.owner_id_hash for row in rows))
            found = _select_in(
                db,
                "SELECT ref, period, kind, person_id, since, until FROM credentials"
                " WHERE community = ? AND ref IN ({}) ORDER BY ref, period",
                (row.ref for row in rows),
                community,
            )
            stored: dict[str, list[tuple[int, CredentialValues]]] = defaultdict(list)
            for ref, period, kind, person_id, since, until in found:
                stored[ref].append((period, (kind, person_id, _day(since), _day(until))))
            plan = plan_credentials(rows, owners, stored, local_day(now))
            db.executemany(
                _UPSERT_CREDENTIAL,
                [
                    {
                        "community": community,
                        "ref": ref,
                        "period": period,
                        "kind": kind,
                        "person_id": person_id,
                        "since": _iso(since),
                        "until": _iso(until),
                        "import_id": import_id,
                        "now": to_micros(now),
                    }
                    for (ref, period), (kind, (_, person_id, since, until)) in plan.upserts.items()
                ],
            )
            db.executemany(
                "UPDATE credentials SET until = ?, updated_us = ?"
                " WHERE community = ? AND ref = ? AND period = ?",
                [
                    (_iso(until), to_micros(now), community, ref, period)
                    for (ref, period), until in plan.ends.items()
                ],
            )
            db.executemany(
                "UPDATE credentials SET import_id = ?"
                " WHERE community = ? AND ref = ? AND period = ?",
                [(import_id, community, ref, period) for ref, period in plan.marks],
            )
            return plan.outcomes

        return await self._write_tx(work)

    async def end_unlisted(
        self, community: str, dataset: Dataset, import_id: str, until: date
    ) -> int:
        sql = _END_UNLISTED.get(dataset)
        if sql is None:  # houses are never ended: a flat does not stop existing
            return 0
        values = {
            "community": community,
            "import_id": import_id,
            "until": until.isoformat(),
            "now": to_micros(datetime.now(UTC)),
        }
        return await self._write_tx(lambda db: db.execute(sql, values).rowcount)

    async def end_residencies(
        self, community: str, items: Sequence[ResidencyEnd], now: datetime
    ) -> list[RowOutcome]:
        def work(db: sqlite3.Connection) -> list[RowOutcome]:
            owners = _owners(db, community, (item.id_hash for item in items))
            found = _select_in(
                db,
                "SELECT person_id, house_code, since, until FROM residencies"
                " WHERE person_id IN ({})",
                owners.values(),
            )
            stored = {(p, h): (_day(since), _day(until)) for p, h, since, until in found}
            outcomes, ends = plan_residency_ends(items, owners, stored)
            db.executemany(
                "UPDATE residencies SET until = ?, updated_us = ?"
                " WHERE person_id = ? AND house_code = ?",
                [(until.isoformat(), to_micros(now), *key) for key, until in ends.items()],
            )
            return outcomes

        return await self._write_tx(work)

    async def list_persons(self, query: PersonQuery) -> Page[PersonPublic]:
        where = person_where(
            query,
            "?",
            "EXISTS (SELECT 1 FROM json_each(p.tags) WHERE value = ?)",
            local_day(datetime.now(UTC)).isoformat(),
        )
        sql = f"SELECT {_PERSON_COLUMNS} FROM persons p {where.sql()} ORDER BY p.person_id LIMIT ?"
        persons = await self._read_tx(
            lambda db: _persons(db, sql, [*where.params, query.limit + 1])
        )
        return page_of(persons, query.limit, "person", lambda found: found.person_id)

    async def get_person(
        self, person_id: str, *, communities: frozenset[str] | None = None
    ) -> PersonPublic | None:
        where = one_where("p.person_id", person_id, communities, "?", "p.community")
        sql = f"SELECT {_PERSON_COLUMNS} FROM persons p {where.sql()}"
        persons = await self._read_tx(lambda db: _persons(db, sql, where.params))
        return persons[0] if persons else None

    async def sealed_contacts(self, person_ids: Sequence[str]) -> list[SealedContact]:
        def read(db: sqlite3.Connection) -> list[SealedContact]:
            rows = _select_in(
                db,
                "SELECT person_id, name_sealed, phone_sealed FROM persons"
                " WHERE person_id IN ({}) ORDER BY person_id",
                person_ids,
            )
            return [SealedContact(*row) for row in rows]

        return await self._read_tx(read)

    async def list_houses(self, query: HouseQuery, observed_since: datetime) -> Page[HousePublic]:
        where = house_where(query, "?")
        sql = f"SELECT {_HOUSE_COLUMNS} FROM houses {where.sql()} ORDER BY house_code LIMIT ?"
        values = [*where.params, query.limit + 1]
        houses = await self._read_tx(lambda db: _houses(db, sql, values, observed_since))
        return page_of(houses, query.limit, "house", lambda found: found.house_code)

    async def get_house(
        self,
        house_code: str,
        observed_since: datetime,
        *,
        communities: frozenset[str] | None = None,
    ) -> HousePublic | None:
        where = one_where("house_code", house_code, communities, "?", "community")
        sql = f"SELECT {_HOUSE_COLUMNS} FROM houses {where.sql()}"
        houses = await self._read_tx(lambda db: _houses(db, sql, where.params, observed_since))
        return houses[0] if houses else None

    async def list_vehicles(self, query: VehicleQuery) -> Page[VehiclePublic]:
        where = vehicle_where(query, "?", int(bool(query.registered)))
        sql = f"SELECT {_VEHICLE_COLUMNS} FROM vehicles {where.sql()} ORDER BY vehicle_id LIMIT ?"
        values = [*where.params, query.limit + 1]
        rows = await self._run(lambda: self._db.execute(sql, values).fetchall())
        vehicles = [_vehicle(row) for row in rows]
        return page_of(vehicles, query.limit, "vehicle", lambda found: found.vehicle_id)

    async def get_vehicle(
        self, vehicle_id: str, *, communities: frozenset[str] | None = None
    ) -> VehiclePublic | None:
        where = one_where("vehicle_id", vehicle_id, communities, "?", "community")
        sql = f"SELECT {_VEHICLE_COLUMNS} FROM vehicles {where.sql()}"
        row = await self._run(lambda: self._db.execute(sql, where.params).fetchone())
        return None if row is None else _vehicle(row)

    async def community_summary(
        self, community: str, at: datetime, observed_window_days: int, grids: Sequence[Grid]
    ) -> CommunitySummary | None:
        values = {
            "community": community,
            "day": local_day(at).isoformat(),
            "at": to_micros(at),
            "cutoff": to_micros(at - timedelta(days=observed_window_days)),
        }

        def read(db: sqlite3.Connection) -> dict[str, list[Any]]:
            return {part: db.execute(sql, values).fetchall() for part, sql in _SUMMARY.items()}

        rows = await self._read_tx(read)
        return assemble_summary(community, at, observed_window_days, grids, figures_of(rows))

    async def write_audit(self, entry: AuditEntry) -> int:
        return await self._write_tx(lambda db: _write_audit(db, entry))

    async def list_audit(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> Page[AuditEntry]:
        filters = audit_where(cursor, communities, "?")
        where, values = filters.sql(), [*filters.params, limit + 1]
        sql = (
            "SELECT id, at_us, actor, action, community, records, reason, details FROM audit_log"
            f" {where} ORDER BY id DESC LIMIT ?"
        )
        rows = await self._run(lambda: self._db.execute(sql, values).fetchall())
        entries = [
            AuditEntry(
                id=entry_id,
                at=from_micros(at_us),
                actor=actor,
                action=action,
                community=community,
                records=tuple(json.loads(records)),
                reason=reason,
                details=json.loads(details),
            )
            for entry_id, at_us, actor, action, community, records, reason, details in rows
        ]
        return page_of(entries, limit, "audit", lambda entry: str(entry.id))

    async def erase_person(self, person_id: str, audit: AuditEntry) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            found = db.execute(
                "SELECT community, id_hash FROM persons WHERE person_id = ?", (person_id,)
            ).fetchone()
            if found is None:
                return False
            community, id_hash = found
            held = db.execute(
                "SELECT ref, since, until FROM credentials WHERE person_id = ?", (person_id,)
            ).fetchall()
            scopes = erasure_scopes(
                community, id_hash, ((ref, _day(a), _day(b)) for ref, a, b in held)
            )
            for scope in scopes:
                key, start, end = scope.subject_key, to_micros(scope.start), to_micros(scope.end)
                days = (scope.first_day.isoformat(), scope.last_day.isoformat())
                db.execute(_ERASE_PRESENCE, (community, scope.ref, key, *days))
                db.execute(_ERASE_INFERRED, (community, key, start, end))
                db.execute(_STRIP_EVENTS, (community, key, start, end))
            db.execute("DELETE FROM persons WHERE person_id = ?", (person_id,))
            _write_audit(db, audit)
            return True

        erased = await self._write_tx(work)
        if erased:  # secure_delete (set at connect) zeroed the freed cells; the WAL's older
            # frames still hold them until a checkpoint copies the pages back and truncates it
            # The pragma answers with a row: read it, or its statement stays in progress and
            # the connection's next commit fails ("SQL statements in progress").
            await self._run(lambda: self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
        return erased


_PERSON_COLUMNS = (
    "p.person_id, p.community, p.id_type, p.id_masked, p.name_masked, p.phone_masked,"
    " p.nationality, p.gender, p.birth_year, p.ethnicity, p.population_type, p.tags,"
    " p.visit_house, p.visit_from_us, p.visit_until_us, p.updated_us"
)
_HOUSE_COLUMNS = (
    "house_code, community, building, unit, floor, room, area_m2, usage, grid_code,"
    " registered_occupants"
)
_VEHICLE_COLUMNS = (
    "vehicle_id, community, plate_no, plate_color, vehicle_type, owner_person_id, house_code,"
    " registered, first_seen_us, last_seen_us"
)


_SUMMARY = {part: shared.SQLITE(sql) for part, sql in shared.SUMMARY_SQL.items()}
# Erasure: the events stay, without anything that links them to the person.
_STRIP_EVENTS = """
UPDATE events SET body = json_remove(body, '$.credential', '$.matched_person_ref',
    '$.visitor_ref', '$.subject_key')
WHERE community = ? AND json_extract(body, '$.subject_key') IS NOT NULL
    AND json_extract(body, '$.subject_key') = ? AND occurred_us >= ? AND occurred_us < ?"""
_ERASE_PRESENCE = """
DELETE FROM presence WHERE community = ? AND (ref = ? OR subject_key = ?)
    AND day >= ? AND day <= ?"""
_ERASE_INFERRED = """
DELETE FROM inferred_residencies WHERE community = ? AND subject_key = ?
    AND evidence_until_us >= ? AND evidence_from_us < ?"""


def _write_audit(db: sqlite3.Connection, entry: AuditEntry) -> int:
    row = db.execute(
        "INSERT INTO audit_log (at_us, actor, action, community, records, reason, details)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            to_micros(entry.at),
            entry.actor,
            entry.action,
            entry.community,
            json.dumps(list(entry.records), ensure_ascii=False),
            entry.reason,
            json.dumps(entry.details, sort_keys=True),
        ),
    ).fetchone()
    return int(row[0])


def _rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    """Times (`*_us`) as datetimes under their PostgreSQL names, ISO dates as dates."""
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name.endswith("_us"):
            out[_TIME_NAMES.get(name, name.removesuffix("_us"))] = maybe_time(value)
        elif name in ("since", "until"):
            out[name] = _day(value)
        elif name == "tags":
            out[name] = json.loads(value)
        else:
            out[name] = value
    return out


_TIME_NAMES = {
    "updated_us": "updated_at",
    "first_seen_us": "first_seen_at",
    "last_seen_us": "last_seen_at",
    "at_us": "at",
}


def _persons(db: sqlite3.Connection, sql: str, values: Sequence[object]) -> list[PersonPublic]:
    rows = [_decoded(row) for row in _rows(db.execute(sql, values))]
    ids = [row["person_id"] for row in rows]
    if not ids:
        return []
    marks = _marks(len(ids))
    registered = db.execute(
        "SELECT person_id, house_code, relation, since, until FROM residencies"
        f" WHERE person_id IN ({marks})",
        ids,
    )
    inferred = db.execute(
        "SELECT person_id, house_code, building, unit, confidence, since, until,"
        " evidence_from_us, evidence_until_us FROM inferred_residencies"
        f" WHERE person_id IN ({marks})",
        ids,
    )
    lived = [_decoded(row) for row in _rows(registered) + _rows(inferred)]
    return persons_with_residencies(rows, lived)


def _houses(
    db: sqlite3.Connection, sql: str, values: Sequence[object], observed_since: datetime
) -> list[HousePublic]:
    rows = _rows(db.execute(sql, values))
    for row in rows:
        row["area_m2"] = None if row["area_m2"] is None else float(row["area_m2"])
    codes = [row["house_code"] for row in rows]
    if not codes:
        return []
    today = local_day(datetime.now(UTC)).isoformat()
    marks = _marks(len(codes))
    occupants = _rows(
        db.execute(
            "SELECT r.house_code, r.person_id, NULL AS subject_key, p.name_masked, r.relation,"
            " NULL AS confidence FROM residencies r JOIN persons p ON p.person_id = r.person_id"
            f" WHERE r.house_code IN ({marks}) AND (r.since IS NULL OR r.since <= ?)"
            " AND (r.until IS NULL OR r.until >= ?)"
            " UNION ALL SELECT i.house_code, i.person_id, i.subject_key, p.name_masked, NULL,"
            " i.confidence FROM inferred_residencies i"
            " LEFT JOIN persons p ON p.person_id = i.person_id"
            f" WHERE i.house_code IN ({marks}) AND i.until IS NULL"
            " ORDER BY 1, 6, 2, 3",
            [*codes, today, today, *codes],
        )
    )
    last_seen: dict[str, datetime] = {}
    persons = [o["person_id"] for o in occupants if o["confidence"] is None]
    if persons:
        person_marks = _marks(len(persons))
        for person_id, last_us in db.execute(
            "SELECT person_id, max(last_us) FROM ("
            " SELECT p.person_id, pr.last_us FROM persons p JOIN presence pr"
            " ON pr.community = p.community AND pr.ref = p.id_hash"
            f" WHERE p.person_id IN ({person_marks})"
            " UNION ALL SELECT c.person_id, pr.last_us FROM credentials c JOIN presence pr"
            " ON pr.community = c.community AND pr.ref = c.ref"
            " AND (c.since IS NULL OR pr.day >= c.since) AND (c.until IS NULL OR pr.day <= c.until)"
            f" WHERE c.person_id IN ({person_marks})) GROUP BY person_id",
            [*persons, *persons],
        ):
            last_seen[person_id] = from_micros(last_us)
    subjects = [o["subject_key"] for o in occupants if o["confidence"] is not None]
    if subjects:
        communities = list({row["community"] for row in rows})
        for subject, last_us in db.execute(
            "SELECT subject_key, max(last_us) FROM presence"
            f" WHERE community IN ({_marks(len(communities))})"
            f" AND subject_key IN ({_marks(len(subjects))}) GROUP BY subject_key",
            [*communities, *subjects],
        ):
            last_seen[subject] = from_micros(last_us)
    return houses_with_occupants(rows, occupants, last_seen, observed_since)


def _vehicle(row: Sequence[Any]) -> VehiclePublic:
    (vehicle_id, community, plate, colour, kind, owner, house, registered, first, last) = row
    return vehicle_public(
        {
            "vehicle_id": vehicle_id,
            "community": community,
            "plate_no": plate,
            "plate_color": colour,
            "vehicle_type": kind,
            "owner_person_id": owner,
            "house_code": house,
            "registered": registered,
            "first_seen_at": maybe_time(first),
            "last_seen_at": maybe_time(last),
        }
    )
