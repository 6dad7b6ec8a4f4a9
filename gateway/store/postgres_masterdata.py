"""`MasterDataStore` on PostgreSQL: a mixin of `PostgresStore`, on its pooled connections.

Each method is one transaction. What to write is decided in `gateway.store.masterdata_apply`,
the same for both backends; this module only reads the chunk's stored state (`= ANY` of the
chunk's keys) and runs the writes set-based (`executemany`, pipelined by psycopg).
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

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
    HOUSE_ELSEWHERE,
    CredentialValues,
    HouseValues,
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
from schemas.housing import CommunitySummary, Grid, HousePublic, HouseRecord
from schemas.population import (
    CredentialRecord,
    PersonPublic,
    PersonRecord,
    ResidencyEnd,
    ResidentRecord,
)
from schemas.vehicles import VehiclePublic, VehicleRecord

Connection = psycopg.AsyncConnection[tuple[Any, ...]]


def _unnested(sql: str, columns: Mapping[str, str]) -> str:
    """A shared upsert (`INSERT ... VALUES (:a, ...) ON CONFLICT ...`) as one statement for a
    whole chunk: `SELECT ... FROM unnest(:a::type[], ...)`, an array per column that varies by
    row (`columns`: name -> element type), single values for the rest (community, import, now).
    One statement instead of one per row (`executemany`) roughly halves what a row costs the
    importer's process and PostgreSQL; the SQL and its conflict rules stay the shared ones.
    The plans never list one key twice (`ON CONFLICT DO UPDATE` would refuse it)."""
    head, values = sql.split("VALUES (", 1)
    listed, tail = values.split(")", 1)
    selected = re.sub(
        r"(?<!:):(\w+)",
        lambda m: f"u.{m.group(1)}" if m.group(1) in columns else m.group(0),
        listed,
    )
    arrays = ", ".join(f":{name}::{kind}[]" for name, kind in columns.items())
    names = ", ".join(columns)
    # WHERE true: without it `... AS u(...) ON CONFLICT` could parse as a join's ON
    return shared.POSTGRES(
        f"{head}SELECT {selected} FROM unnest({arrays}) AS u({names}) WHERE true{tail}"
    )


_UPSERT_RESIDENCY = _unnested(
    shared.UPSERT_RESIDENCY,
    {"person_id": "text", "house_code": "text", "relation": "text", "since": "date"},
)
_UPSERT_CREDENTIAL = _unnested(
    shared.UPSERT_CREDENTIAL,
    {
        "ref": "text",
        "period": "int4",
        "kind": "text",
        "person_id": "text",
        "since": "date",
        "until": "date",
    },
)
_HOUSE_COLUMNS_TYPED = {
    "house_code": "text",
    "building": "text",
    "unit": "text",
    "floor": "text",
    "room": "text",
    "area_m2": "numeric",
    "usage": "text",
    "grid_code": "text",
    "registered_occupants": "int4",
}
_UPSERT_HOUSE = _unnested(shared.UPSERT_HOUSE, _HOUSE_COLUMNS_TYPED)
_PERSON_COLUMNS_TYPED = {
    "person_id": "text",
    "id_hash": "text",
    "id_type": "text",
    "id_masked": "text",
    "nationality": "text",
    "name_masked": "text",
    "name_ref": "text",
    "name_sealed": "bytea",
    "phone_masked": "text",
    "phone_ref": "text",
    "phone_sealed": "bytea",
    "gender": "text",
    "birth_year": "int4",
    "ethnicity": "text",
    "population_type": "text",
    "tags": "jsonb",
}
_UPSERT_PERSON = _unnested(shared.UPSERT_PERSON, _PERSON_COLUMNS_TYPED)
_VEHICLE_COLUMNS_TYPED = {
    "vehicle_id": "text",
    "plate_no": "text",
    "plate_color": "text",
    "vehicle_type": "text",
    "owner": "text",
    "house_code": "text",
}
_UPSERT_VEHICLE = _unnested(shared.UPSERT_VEHICLE, _VEHICLE_COLUMNS_TYPED)
_END_UNLISTED = {dataset: shared.POSTGRES(sql) for dataset, sql in shared.END_UNLISTED.items()}
_PERSON_FIELDS = (
    "id_type, id_masked, nationality, name_masked, name_ref, phone_masked, phone_ref, gender,"
    " birth_year, ethnicity, population_type, tags"
)


async def _fetch(db: Connection, sql: str, *params: object) -> list[tuple[Any, ...]]:
    cursor = await db.execute(sql.encode(), params)
    return await cursor.fetchall()


async def _owners(db: Connection, community: str, id_hashes: Iterable[str]) -> dict[str, str]:
    rows = await _fetch(
        db,
        "SELECT id_hash, person_id FROM persons WHERE community = %s AND id_hash = ANY(%s)",
        community,
        list(set(id_hashes)),
    )
    return {id_hash: person_id for id_hash, person_id in rows}


async def _house_communities(db: Connection, codes: Iterable[str | None]) -> dict[str, str]:
    rows = await _fetch(
        db,
        "SELECT house_code, community FROM houses WHERE house_code = ANY(%s)",
        list({code for code in codes if code is not None}),
    )
    return {code: community for code, community in rows}


async def _many(db: Connection, sql: str, rows: Sequence[Any]) -> None:
    if rows:
        await db.cursor().executemany(sql.encode(), rows)


async def _columns(
    db: Connection, sql: str, rows: Sequence[Mapping[str, object]], **single: object
) -> None:
    """Run an `_unnested` statement: `rows` turned into one array per column."""
    if rows:
        arrays = {name: [row[name] for row in rows] for name in rows[0]}
        await db.execute(sql.encode(), {**arrays, **single})


def _fields(record: object, columns: Mapping[str, str]) -> dict[str, object]:
    """The record's attributes of those names that it has (the rest its caller adds)."""
    return {name: getattr(record, name) for name in columns if hasattr(record, name)}


_APPLY_LOCK = 0x5C6D_0007  # the advisory lock class of master-data writes (an int4)


async def _serialise(db: Connection, community: str) -> None:
    """Make the transaction's read-plan-write atomic against concurrent imports of the same
    community: they queue on that community's advisory lock (released at commit), so each
    plans from what the other committed (read committed: every statement after the lock sees
    it). Imports of different communities run at once: every plan reads only rows of its own
    community (persons, residencies, vehicles and credentials are keyed by community), except
    house codes, which are unique across communities. Those need no lock: a house the plan did
    not see is written with `ON CONFLICT ... WHERE houses.community = excluded.community`,
    which waits for the other community's transaction and then writes nothing over its row;
    the codes' holders are read back after the upsert and such rows reported `HOUSE_ELSEWHERE`
    (and a resident or vehicle naming another community's house is refused whether or not
    that house has committed yet). The two-key form keeps these locks apart from the
    one-key leases and the migration lock. The ingest path never takes them."""
    await db.execute(b"SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_APPLY_LOCK, community))


async def _written_persons(
    db: Connection, community: str, planned: dict[str, tuple[str, PersonRecord]]
) -> dict[str, str]:
    """planned person_id -> the person_id actually stored for its (community, id_hash): the
    same unless a visitor record of that ID arrived between the plan and the upsert (the
    upsert then updated that record, keyed on (community, id_hash))."""
    rows = await _fetch(
        db,
        "SELECT id_hash, person_id FROM persons WHERE community = %s AND id_hash = ANY(%s)",
        community,
        list(planned),
    )
    stored = {id_hash: person_id for id_hash, person_id in rows}
    return {planned[h][0]: stored[h] for h in planned if h in stored}


class PostgresMasterData:
    """The master-data methods of `PostgresStore`."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def apply_houses(
        self, community: str, rows: Sequence[HouseRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        async with self._connection() as db, db.transaction():
            await _serialise(db, community)
            found = await _fetch(
                db,
                "SELECT house_code, community, building, unit, floor, room, area_m2, usage,"
                " grid_code, registered_occupants FROM houses WHERE house_code = ANY(%s)",
                list({row.house_code for row in rows}),
            )
            stored: dict[str, tuple[str, HouseValues]] = {
                row[0]: (row[1], tuple(row[2:])) for row in found
            }
            plan = plan_houses(community, rows, stored)
            await _columns(
                db,
                _UPSERT_HOUSE,
                [_fields(row, _HOUSE_COLUMNS_TYPED) for row in plan.upserts.values()],
                community=community,
                import_id=import_id,
                now=now,
            )
            await _many(
                db,
                "UPDATE houses SET import_id = %s WHERE house_code = %s",
                [(import_id, code) for code in plan.marks],
            )
            held = await _house_communities(db, (row.house_code for row in rows))
            return [  # the upsert's guard writes nothing over another community's house
                HOUSE_ELSEWHERE
                if isinstance(outcome, str) and held.get(row.house_code) != community
                else outcome
                for row, outcome in zip(rows, plan.outcomes, strict=True)
            ]

    async def apply_residents(
        self, community: str, rows: Sequence[ResidentRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        async with self._connection() as db, db.transaction():
            await _serialise(db, community)
            houses = await _house_communities(db, (row.house_code for row in rows))
            found = await _fetch(
                db,
                f"SELECT id_hash, person_id, {_PERSON_FIELDS} FROM persons"
                " WHERE community = %s AND id_hash = ANY(%s)",
                community,
                list({row.person.id_hash for row in rows}),
            )
            persons = {row[0]: (row[1], (*row[2:13], tuple(row[13]))) for row in found}
            lived = await _fetch(
                db,
                "SELECT person_id, house_code, relation, since, until FROM residencies"
                " WHERE person_id = ANY(%s)",
                [person_id for person_id, _ in persons.values()],
            )
            residencies: dict[tuple[str, str], ResidencyValues] = {
                (p, h): (rel, since, until) for p, h, rel, since, until in lived
            }
            plan = plan_residents(community, rows, houses, persons, residencies)
            await _columns(
                db,
                _UPSERT_PERSON,
                [
                    {
                        **_fields(person, _PERSON_COLUMNS_TYPED),
                        "tags": Jsonb(list(person.tags)),
                        "person_id": person_id,
                    }
                    for person_id, person in plan.persons.values()
                ],
                community=community,
                import_id=import_id,
                now=now,
            )
            actual = await _written_persons(db, community, plan.persons)
            await _columns(
                db,
                _UPSERT_RESIDENCY,
                [
                    {
                        "person_id": actual.get(person_id, person_id),
                        "house_code": house_code,
                        "relation": row.relation,
                        "since": row.since,
                    }
                    for (person_id, house_code), row in plan.residencies.items()
                ],
                import_id=import_id,
                now=now,
            )
            await _many(
                db,
                "UPDATE residencies SET import_id = %s WHERE person_id = %s AND house_code = %s",
                [(import_id, *key) for key in plan.marks],
            )
            return plan.outcomes

    async def apply_vehicles(
        self, community: str, rows: Sequence[VehicleRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        async with self._connection() as db, db.transaction():
            await _serialise(db, community)
            # The gates insert unregistered vehicles too: hold them off for this chunk, so a
            # plate first seen between the plan and the upsert cannot collide with it.
            await db.execute(b"LOCK TABLE vehicles IN SHARE ROW EXCLUSIVE MODE")
            houses = await _house_communities(db, (row.house_code for row in rows))
            owners = await _owners(
                db, community, (r.owner_id_hash for r in rows if r.owner_id_hash)
            )
            found = await _fetch(
                db,
                "SELECT plate_no, plate_color, vehicle_id, vehicle_type, owner_person_id,"
                " house_code, registered, until FROM vehicles"
                " WHERE community = %s AND plate_no = ANY(%s)",
                community,
                list({row.plate_no for row in rows}),
            )
            stored: dict[tuple[str, str], tuple[str, VehicleValues]] = {
                (plate, colour): (vid, (colour, kind, owner, house, reg, until))
                for plate, colour, vid, kind, owner, house, reg, until in found
            }
            plan = plan_vehicles(community, rows, houses, owners, stored)
            await _columns(
                db,
                _UPSERT_VEHICLE,
                [
                    {
                        **_fields(row, _VEHICLE_COLUMNS_TYPED),
                        "vehicle_id": vehicle_id,
                        "owner": owner,
                    }
                    for vehicle_id, (row, owner) in plan.upserts.items()
                ],
                community=community,
                import_id=import_id,
                now=now,
            )
            await _many(
                db,
                "UPDATE vehicles SET import_id = %s WHERE vehicle_id = %s",
                [(import_id, vehicle_id) for vehicle_id in plan.marks],
            )
            return plan.outcomes

    async def apply_credentials(
        self, community: str, rows: Sequence[CredentialRecord], now: datetime, import_id: str
    ) -> list[RowOutcome]:
        async with self._connection() as db, db.transaction():
            await _serialise(db, community)
            owners = await _owners(db, community, (row.owner_id_hash for row in rows))
            found = await _fetch(
                db,
                "SELECT ref, period, kind, person_id, since, until FROM credentials"
                " WHERE community = %s AND ref = ANY(%s) ORDER BY ref, period FOR UPDATE",
                community,
                list({row.ref for row in rows}),
            )
            stored: dict[str, list[tuple[int, CredentialValues]]] = defaultdict(list)
            for ref, period, kind, person_id, since, until in found:
                stored[ref].append((period, (kind, person_id, since, until)))
            plan = plan_credentials(rows, owners, stored, local_day(now))
            await _columns(
                db,
                _UPSERT_CREDENTIAL,
                [
                    {
                        "ref": ref,
                        "period": period,
                        "kind": kind,
                        "person_id": person_id,
                        "since": since,
                        "until": until,
                    }
                    for (ref, period), (kind, (_, person_id, since, until)) in plan.upserts.items()
                ],
                community=community,
                import_id=import_id,
                now=now,
            )
            await _many(
                db,
                "UPDATE credentials SET until = %s, updated_at = %s"
                " WHERE community = %s AND ref = %s AND period = %s",
                [
                    (until, now, community, ref, period)
                    for (ref, period), until in plan.ends.items()
                ],
            )
            await _many(
                db,
                "UPDATE credentials SET import_id = %s"
                " WHERE community = %s AND ref = %s AND period = %s",
                [(import_id, community, ref, period) for ref, period in plan.marks],
            )
            return plan.outcomes

    async def end_unlisted(
        self, community: str, dataset: Dataset, import_id: str, until: date
    ) -> int:
        sql = _END_UNLISTED.get(dataset)
        if sql is None:  # houses are never ended: a flat does not stop existing
            return 0
        values = {
            "community": community,
            "import_id": import_id,
            "until": until,
            "now": datetime.now(UTC),
        }
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(sql.encode(), values)
            return max(cursor.rowcount, 0)

    async def end_residencies(
        self, community: str, items: Sequence[ResidencyEnd], now: datetime
    ) -> list[RowOutcome]:
        async with self._connection() as db, db.transaction():
            await _serialise(db, community)
            owners = await _owners(db, community, (item.id_hash for item in items))
            found = await _fetch(
                db,
                "SELECT person_id, house_code, since, until FROM residencies"
                " WHERE person_id = ANY(%s)",
                list(owners.values()),
            )
            stored = {(p, h): (since, until) for p, h, since, until in found}
            outcomes, ends = plan_residency_ends(items, owners, stored)
            await _many(
                db,
                "UPDATE residencies SET until = %s, updated_at = %s"
                " WHERE person_id = %s AND house_code = %s",
                [(until, now, *key) for key, until in ends.items()],
            )
            return outcomes

    async def list_persons(self, query: PersonQuery) -> Page[PersonPublic]:
        where = person_where(
            query, "%s", "p.tags @> jsonb_build_array(?::text)", local_day(datetime.now(UTC))
        )
        sql = f"SELECT {_PERSON_COLUMNS} FROM persons p {where.sql()} ORDER BY p.person_id LIMIT %s"
        async with self._connection() as db, db.transaction():
            persons = await _persons(db, sql, [*where.params, query.limit + 1])
        return page_of(persons, query.limit, "person", lambda found: found.person_id)

    async def get_person(
        self, person_id: str, *, communities: frozenset[str] | None = None
    ) -> PersonPublic | None:
        where = one_where("p.person_id", person_id, communities, "%s", "p.community")
        sql = f"SELECT {_PERSON_COLUMNS} FROM persons p {where.sql()}"
        async with self._connection() as db, db.transaction():
            persons = await _persons(db, sql, where.params)
        return persons[0] if persons else None

    async def sealed_contacts(self, person_ids: Sequence[str]) -> list[SealedContact]:
        async with self._connection() as db:
            rows = await _fetch(
                db,
                "SELECT person_id, name_sealed, phone_sealed FROM persons"
                " WHERE person_id = ANY(%s) ORDER BY person_id",
                list(person_ids),
            )
        return [SealedContact(*row) for row in rows]

    async def list_houses(self, query: HouseQuery, observed_since: datetime) -> Page[HousePublic]:
        where = house_where(query, "%s")
        sql = f"SELECT {_HOUSE_COLUMNS} FROM houses {where.sql()} ORDER BY house_code LIMIT %s"
        async with self._connection() as db, db.transaction():
            houses = await _houses(db, sql, [*where.params, query.limit + 1], observed_since)
        return page_of(houses, query.limit, "house", lambda found: found.house_code)

    async def get_house(
        self,
        house_code: str,
        observed_since: datetime,
        *,
        communities: frozenset[str] | None = None,
    ) -> HousePublic | None:
        where = one_where("house_code", house_code, communities, "%s", "community")
        sql = f"SELECT {_HOUSE_COLUMNS} FROM houses {where.sql()}"
        async with self._connection() as db, db.transaction():
            houses = await _houses(db, sql, where.params, observed_since)
        return houses[0] if houses else None

    async def list_vehicles(self, query: VehicleQuery) -> Page[VehiclePublic]:
        where = vehicle_where(query, "%s", query.registered)
        sql = f"SELECT {_VEHICLE_COLUMNS} FROM vehicles {where.sql()} ORDER BY vehicle_id LIMIT %s"
        async with self._connection() as db:
            rows = await _dicts(db, sql, [*where.params, query.limit + 1])
        vehicles = [vehicle_public(row) for row in rows]
        return page_of(vehicles, query.limit, "vehicle", lambda found: found.vehicle_id)

    async def get_vehicle(
        self, vehicle_id: str, *, communities: frozenset[str] | None = None
    ) -> VehiclePublic | None:
        where = one_where("vehicle_id", vehicle_id, communities, "%s", "community")
        sql = f"SELECT {_VEHICLE_COLUMNS} FROM vehicles {where.sql()}"
        async with self._connection() as db:
            rows = await _dicts(db, sql, where.params)
        return vehicle_public(rows[0]) if rows else None

    async def community_summary(
        self, community: str, at: datetime, observed_window_days: int, grids: Sequence[Grid]
    ) -> CommunitySummary | None:
        values = {
            "community": community,
            "day": local_day(at),
            "at": at,
            "cutoff": at - timedelta(days=observed_window_days),
        }
        rows: dict[str, list[Any]] = {}
        async with self._connection() as db, db.transaction():
            for part, sql in _SUMMARY.items():
                cursor = await db.execute(sql.encode(), values)
                rows[part] = await cursor.fetchall()
        return assemble_summary(community, at, observed_window_days, grids, figures_of(rows))

    async def write_audit(self, entry: AuditEntry) -> int:
        async with self._connection() as db, db.transaction():
            return await _write_audit(db, entry)

    async def list_audit(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> Page[AuditEntry]:
        filters = audit_where(cursor, communities, "%s")
        where, values = filters.sql(), [*filters.params, limit + 1]
        async with self._connection() as db:
            rows = await _fetch(
                db,
                "SELECT id, at, actor, action, community, records, reason, details FROM audit_log"
                f" {where} ORDER BY id DESC LIMIT %s",
                *values,
            )
        entries = [
            AuditEntry(
                id=entry_id,
                at=at,
                actor=actor,
                action=action,
                community=community,
                records=tuple(records),
                reason=reason,
                details=details,
            )
            for entry_id, at, actor, action, community, records, reason, details in rows
        ]
        return page_of(entries, limit, "audit", lambda entry: str(entry.id))

    async def erase_person(self, person_id: str, audit: AuditEntry) -> bool:
        """See `MasterDataStore.erase_person`. The deleted and rewritten rows stay on disk as
        dead tuples until (auto)VACUUM reclaims them; VACUUM cannot run inside this transaction,
        and no SQL reads dead tuples, so it is left to autovacuum (run `VACUUM` on persons,
        credentials, presence and events to clear them at once)."""
        async with self._connection() as db, db.transaction():
            found = await _fetch(
                db,
                "SELECT community, id_hash FROM persons WHERE person_id = %s FOR UPDATE",
                person_id,
            )
            if not found:
                return False
            community, id_hash = found[0]
            held = await _fetch(
                db, "SELECT ref, since, until FROM credentials WHERE person_id = %s", person_id
            )
            for scope in erasure_scopes(community, id_hash, held):
                key, span = scope.subject_key, (scope.start, scope.end)
                days = (scope.first_day, scope.last_day)
                await db.execute(_ERASE_PRESENCE, (community, scope.ref, key, *days))
                await db.execute(_ERASE_INFERRED, (community, key, *span))
                await db.execute(_STRIP_EVENTS, (community, key, *span))
            await db.execute(b"DELETE FROM persons WHERE person_id = %s", (person_id,))
            await _write_audit(db, audit)
            return True


_PERSON_COLUMNS = (
    "p.person_id, p.community, p.id_type, p.id_masked, p.name_masked, p.phone_masked,"
    " p.nationality, p.gender, p.birth_year, p.ethnicity, p.population_type, p.tags,"
    " p.visit_house, p.visit_from, p.visit_until, p.updated_at"
)
_HOUSE_COLUMNS = (
    "house_code, community, building, unit, floor, room, area_m2::float8 AS area_m2, usage,"
    " grid_code, registered_occupants"
)
_VEHICLE_COLUMNS = (
    "vehicle_id, community, plate_no, plate_color, vehicle_type, owner_person_id, house_code,"
    " registered, first_seen_at, last_seen_at"
)


_SUMMARY = {part: shared.POSTGRES(sql) for part, sql in shared.SUMMARY_SQL.items()}
# Erasure: the events stay, without anything that links them to the person.
_STRIP_EVENTS = b"""
UPDATE events SET body = body - 'credential' - 'matched_person_ref' - 'visitor_ref'
    - 'subject_key'
WHERE community = %s AND body ? 'subject_key' AND body ->> 'subject_key' = %s
    AND occurred_at >= %s AND occurred_at < %s"""
_ERASE_PRESENCE = b"""
DELETE FROM presence WHERE community = %s AND (ref = %s OR subject_key = %s)
    AND day >= %s AND day <= %s"""
_ERASE_INFERRED = b"""
DELETE FROM inferred_residencies WHERE community = %s AND subject_key = %s
    AND evidence_until >= %s AND evidence_from < %s"""


async def _write_audit(db: Connection, entry: AuditEntry) -> int:
    cursor = await db.execute(
        b"INSERT INTO audit_log (at, actor, action, community, records, reason, details)"
        b" VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            entry.at,
            entry.actor,
            entry.action,
            entry.community,
            Jsonb(list(entry.records)),
            entry.reason,
            Jsonb(entry.details),
        ),
    )
    row = await cursor.fetchone()
    assert row is not None  # RETURNING always gives the row
    return int(row[0])


async def _dicts(
    db: Connection, sql: str, params: Sequence[object] | Mapping[str, object]
) -> list[dict[str, Any]]:
    cursor = db.cursor(row_factory=dict_row)
    await cursor.execute(sql.encode(), params)
    return await cursor.fetchall()


async def _persons(db: Connection, sql: str, params: Sequence[object]) -> list[PersonPublic]:
    rows = await _dicts(db, sql, params)
    ids = [row["person_id"] for row in rows]
    if not ids:
        return []
    lived = await _dicts(
        db,
        "SELECT person_id, house_code, relation, since, until FROM residencies"
        " WHERE person_id = ANY(%s)",
        [ids],
    )
    lived += await _dicts(
        db,
        "SELECT person_id, house_code, building, unit, confidence, since, until, evidence_from,"
        " evidence_until FROM inferred_residencies WHERE person_id = ANY(%s)",
        [ids],
    )
    return persons_with_residencies(rows, lived)


async def _houses(
    db: Connection, sql: str, params: Sequence[object], observed_since: datetime
) -> list[HousePublic]:
    rows = await _dicts(db, sql, params)
    codes = [row["house_code"] for row in rows]
    if not codes:
        return []
    today = local_day(datetime.now(UTC))
    occupants = await _dicts(
        db,
        _OCCUPANTS,
        {
            "codes": codes,
            "today": today,
            "communities": list({row["community"] for row in rows}),
        },
    )
    last_seen = {
        str(o["person_id"] if o["confidence"] is None else o["subject_key"]): o["last_seen"]
        for o in occupants
        if o["last_seen"] is not None
    }
    return houses_with_occupants(rows, occupants, last_seen, observed_since)


_OCCUPANTS = """
SELECT r.house_code, r.person_id, NULL AS subject_key, p.name_masked, r.relation,
    NULL::float8 AS confidence, seen.at AS last_seen
FROM residencies r JOIN persons p ON p.person_id = r.person_id
LEFT JOIN LATERAL (
    SELECT max(pr.last_at) AS at FROM (
        SELECT p.id_hash AS ref, NULL::date AS since, NULL::date AS until UNION ALL
        SELECT c.ref, c.since, c.until FROM credentials c WHERE c.person_id = p.person_id
    ) refs JOIN presence pr ON pr.community = p.community AND pr.ref = refs.ref
        AND (refs.since IS NULL OR pr.day >= refs.since)
        AND (refs.until IS NULL OR pr.day <= refs.until)
) seen ON true
WHERE r.house_code = ANY(%(codes)s) AND (r.since IS NULL OR r.since <= %(today)s)
    AND (r.until IS NULL OR r.until >= %(today)s)
UNION ALL
SELECT i.house_code, i.person_id, i.subject_key, p.name_masked, NULL, i.confidence,
    (SELECT max(last_at) FROM presence
        WHERE community = ANY(%(communities)s) AND subject_key = i.subject_key)
FROM inferred_residencies i LEFT JOIN persons p ON p.person_id = i.person_id
WHERE i.house_code = ANY(%(codes)s) AND i.until IS NULL
ORDER BY 1, 6 NULLS FIRST, 2, 3
"""
