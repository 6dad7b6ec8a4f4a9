"""The production store: PostgreSQL with TimescaleDB, through psycopg 3's async pool.

A batch is COPYed into a per-connection staging table and moved into the hypertable with
`INSERT ... ON CONFLICT DO NOTHING` in the same transaction: COPY's speed, and redelivered
events cost nothing. Errors are classified by SQLSTATE class so only the transient ones
are retried.
"""

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import psycopg
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gateway.device_status import SKEW_HORIZON, SKEW_TOLERANCE_S, device_activity, replayed_status
from gateway.errors import StoreError
from gateway.messages import DeadLetter
from gateway.store.base import (
    REGISTRATION_COLUMNS,
    ClockSkew,
    ClockSkewReport,
    EventQuery,
    Page,
    StoredDeadLetter,
    WriteResult,
    dead_letter_page,
    dead_letter_sql,
    device_filter_sql,
    device_page_of_rows,
    event_filter_sql,
    event_page_of_rows,
    parsed_device,
)
from gateway.store.migrations import load_migrations
from gateway.store.observations import observe
from gateway.store.postgres_eventfacts import PostgresEventFacts
from gateway.store.postgres_evidence import PostgresEvidence
from gateway.store.postgres_flow import PostgresFlow, record_flow
from gateway.store.postgres_keys import PostgresKeys
from gateway.store.postgres_masterdata import PostgresMasterData
from gateway.store.postgres_observations import PostgresObservations, record_observations
from gateway.store.postgres_overview import PostgresOverview
from gateway.store.postgres_residentfacts import PostgresResidentFacts
from gateway.store.postgres_rulemarks import PostgresRuleMarks
from gateway.store.postgres_stream import PostgresStream
from gateway.store.postgres_tickets import (
    AdvisoryLeases,
    PostgresTickets,
    record_drafts,
    record_watermarks,
)
from gateway.store.scope import scope_clause
from gateway.store.tickets import InstantRules, TicketChanges
from gateway.store.upgrade import (
    CHUNK,
    FIXABLE_DEVICE_FIELDS,
    Refusal,
    RowRules,
    UpgradeReport,
    old_letter,
    refusal_letter,
    screen_device,
    screen_event,
)
from schemas.devices import Device, DeviceRegistration, DeviceState
from schemas.events import DeviceEvent, DeviceStatusEvent, device_event_adapter

_MIGRATION_LOCK_ID = 0x5C6A_0001  # pg_advisory_lock key: one migrator at a time
# connection exception, transaction rollback (serialisation, deadlock), insufficient
# resources, object not in prerequisite state (lock not available, database not accepting
# connections), operator intervention (shutdown, terminated backend), system error.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53", "55", "57", "58")
_EVENT_COLUMNS = "occurred_at, event_id, kind, community, device_id, received_at, body"
_STAGE_DDL = (
    "CREATE TEMP TABLE IF NOT EXISTS events_stage (occurred_at timestamptz, event_id text,"
    " kind text, community text, device_id text, received_at timestamptz, body jsonb)"
    " ON COMMIT DELETE ROWS"
)
# In key order: two processes inserting the same events at once (a copy of a message on each)
# in different orders would deadlock on each other's uncommitted rows.
_INSERT_EVENTS = (
    f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS}"
    " FROM events_stage ORDER BY event_id, occurred_at ON CONFLICT DO NOTHING"
)
_DEVICE_COLUMNS = (
    "device_id, kind, dialect, community, building, unit, gate, door, readers, location,"
    " firmware, parent, offline_after_s, status, status_since, last_seen, ip, registered_at,"
    " updated_at, clock_skew_s, clock_skew_measured_at"
)
# Registration columns are replaced; what was observed stays. `updated_at` moves only when
# the registration really changed, so re-reading an unchanged TOML file changes nothing.
_UPSERT_DEVICE = """
INSERT INTO devices (device_id, kind, dialect, community, building, unit, gate, door, readers,
    location, firmware, parent, offline_after_s, status_since, registered_at, updated_at)
VALUES (%(device_id)s, %(kind)s, %(dialect)s, %(community)s, %(building)s, %(unit)s, %(gate)s,
    %(door)s, %(readers)s, %(location)s, %(firmware)s, %(parent)s, %(offline_after_s)s, %(now)s,
    %(now)s, %(now)s)
ON CONFLICT (device_id) DO UPDATE SET
    kind = excluded.kind, dialect = excluded.dialect, community = excluded.community,
    building = excluded.building, unit = excluded.unit, gate = excluded.gate,
    door = excluded.door, readers = excluded.readers, location = excluded.location,
    firmware = coalesce(excluded.firmware, devices.firmware), parent = excluded.parent,
    offline_after_s = excluded.offline_after_s, updated_at = excluded.updated_at
WHERE (devices.kind, devices.dialect, devices.community, devices.building, devices.unit,
    devices.gate, devices.door, devices.readers, devices.location, devices.firmware,
    devices.parent, devices.offline_after_s)
    IS DISTINCT FROM (excluded.kind, excluded.dialect, excluded.community, excluded.building,
    excluded.unit, excluded.gate, excluded.door, excluded.readers, excluded.location,
    coalesce(excluded.firmware, devices.firmware), excluded.parent, excluded.offline_after_s)
"""
# One statement per batch for every device in it; the rules are `gateway.device_status`'s.
# `last_seen` only moves forward, to the batch's newest event time corrected by the stored
# clock skew estimate when the clock runs behind (capped at arrival); the batch's status
# applies unless a later word has already been recorded, and an `online` word older than
# `offline_after_s` when it arrived applies not at all. Its clock observation replaces the
# estimate as `gateway.device_status.accepts_skew` says.
_ACCEPT_SKEW = """a.skew IS NOT NULL AND (d.clock_skew_measured_at IS NULL
    OR (a.skew_at > d.clock_skew_measured_at AND (a.skew >= d.clock_skew_s - %(tolerance)s
        OR a.skew_at - d.clock_skew_measured_at > %(horizon)s)))"""
_SEEN = """least(a.seen - least(coalesce(d.clock_skew_s, 0), 0) * interval '1 second',
    a.arrived)"""
_APPLIES = f"""((d.last_seen IS NULL OR {_SEEN} >= d.last_seen)
    AND (a.status = 'offline' OR {_SEEN} + d.offline_after_s * interval '1 second' >= a.arrived))"""
_RECORD_ACTIVITY = f"""
UPDATE devices AS d SET
    clock_skew_s = CASE WHEN {_ACCEPT_SKEW} THEN a.skew ELSE d.clock_skew_s END,
    clock_skew_measured_at = CASE WHEN {_ACCEPT_SKEW} THEN a.skew_at
        ELSE d.clock_skew_measured_at END,
    status = CASE WHEN {_APPLIES} THEN a.status ELSE d.status END,
    status_since = CASE WHEN {_APPLIES} AND d.status <> a.status THEN {_SEEN}
        ELSE d.status_since END,
    last_seen = greatest(d.last_seen, {_SEEN}),
    firmware = coalesce(a.firmware, d.firmware),
    ip = coalesce(a.ip, d.ip)
FROM unnest(%(device_id)s::text[], %(community)s::text[], %(seen)s::timestamptz[],
    %(arrived)s::timestamptz[], %(status)s::text[], %(firmware)s::text[], %(ip)s::text[],
    %(skew)s::double precision[], %(skew_at)s::timestamptz[])
    AS a (device_id, community, seen, arrived, status, firmware, ip, skew, skew_at)
WHERE d.device_id = a.device_id AND d.community = a.community
"""
# The registry's change detector: the table hashed row by row inside PostgreSQL (~10 ms for a
# district's 21,673 devices), so an unchanged registry costs no rows sent and no models built.
_REGISTRATIONS_DIGEST = f"""
SELECT count(*), coalesce(sum(hashtextextended(row({REGISTRATION_COLUMNS})::text, 0)), 0)
FROM devices"""
# A retained status replay seeds an unknown device only (`gateway.device_status`).
_SEEDS = """d.status = 'unknown' AND (a.status = 'offline'
    OR a.at + d.offline_after_s * interval '1 second' >= a.arrived)"""
_RECORD_REPLAYED = f"""
UPDATE devices AS d SET
    status = CASE WHEN {_SEEDS} THEN a.status ELSE d.status END,
    status_since = CASE WHEN {_SEEDS} THEN coalesce(a.at, a.arrived) ELSE d.status_since END,
    last_seen = greatest(d.last_seen, a.at)
FROM unnest(%(device_id)s::text[], %(community)s::text[], %(status)s::text[],
    %(at)s::timestamptz[], %(arrived)s::timestamptz[])
    AS a (device_id, community, status, at, arrived)
WHERE d.device_id = a.device_id AND d.community = a.community
"""
_MARK_SILENT = """
UPDATE devices SET status = 'offline', status_since = %(now)s
WHERE status <> 'offline'
    AND greatest(coalesce(last_seen, registered_at), %(since)s::timestamptz)
        + offline_after_s * interval '1 second' < %(now)s
RETURNING device_id
"""
_LONG_OFFLINE = """
SELECT device_id, status_since FROM devices
WHERE status = 'offline' AND status_since + offline_after_s * interval '1 second' < %(now)s
ORDER BY device_id
"""
_SKEWED_WHERE = "WHERE abs(clock_skew_s) >= %(min_abs_s)s"
_SKEWED = f"""
SELECT device_id, community, clock_skew_s FROM devices {_SKEWED_WHERE}
ORDER BY abs(clock_skew_s) DESC, device_id LIMIT %(limit)s
"""


def _is_transient(exc: psycopg.Error) -> bool:
    """Connection loss, serialisation failures, resource exhaustion, shutdowns: retry later."""
    if exc.sqlstate is None:
        return isinstance(exc, psycopg.OperationalError)
    return exc.sqlstate.startswith(_TRANSIENT_SQLSTATE_CLASSES)


def _describe(exc: psycopg.Error) -> str:
    """The SQLSTATE and its condition name (`UniqueViolation`), never the server's text.

    Server messages quote values (`invalid input syntax for type integer: "..."`, a
    constraint's failing row); this text reaches logs, so it names the condition only.
    A failure to connect has no SQLSTATE: its text names the server, not any row.
    """
    if exc.sqlstate is None and isinstance(exc, psycopg.OperationalError):
        return f"postgresql connection: {exc}"
    return f"postgresql {exc.sqlstate or 'client'}: {type(exc).__name__}"


class PostgresStore(
    PostgresMasterData,
    PostgresObservations,
    PostgresEventFacts,
    PostgresTickets,
    PostgresEvidence,
    PostgresResidentFacts,
    PostgresRuleMarks,
    PostgresKeys,
    PostgresStream,
    PostgresOverview,
    PostgresFlow,
):
    """`Store` on PostgreSQL + TimescaleDB.

    `observations=False` skips recording presence, sightings, visitors and the flow rollup on
    write (the ingest benchmark's baseline only).
    """

    def __init__(self, conninfo: str, *, pool_size: int = 4, observations: bool = True) -> None:
        self._conninfo = conninfo
        self._observations = observations
        self._pool_size = pool_size
        self._pool: AsyncConnectionPool | None = None
        self._leases = AdvisoryLeases(conninfo)

    async def open(self) -> None:
        pool = AsyncConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._pool_size,
            open=False,
            configure=self._configure,
            name="scgw",
        )
        try:
            await pool.open(wait=True, timeout=30)
        except PoolTimeout as exc:
            await pool.close()
            raise StoreError(f"cannot connect to PostgreSQL: {exc}", transient=True) from exc
        self._pool = pool

    @staticmethod
    async def _configure(connection: psycopg.AsyncConnection[tuple[object, ...]]) -> None:
        await connection.execute(_STAGE_DDL)
        await connection.commit()

    async def close(self) -> None:
        await self._leases.close()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[tuple[object, ...]]]:
        """A pooled connection, with psycopg's errors wrapped into `StoreError`."""
        if self._pool is None:
            raise StoreError("the store is not open", transient=False)
        try:
            async with self._pool.connection() as connection:
                yield connection
        except PoolTimeout as exc:
            raise StoreError(f"no database connection: {exc}", transient=True) from exc
        except psycopg.Error as exc:
            raise StoreError(_describe(exc), transient=_is_transient(exc)) from exc

    async def migrate(self, rules: RowRules | None = None) -> list[str]:
        applied = []
        async with self._connection() as db:
            await db.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK_ID,))
            try:
                await db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations"
                    " (version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
                )
                await db.commit()
                cursor = await db.execute("SELECT version FROM schema_migrations")
                done = {row[0] for row in await cursor.fetchall()}
                # Ends the transaction that read: each migration below is then a transaction of
                # its own (not a savepoint of this one), committed before the lock is released,
                # so a process waiting for the lock reads every version applied.
                await db.commit()
                for migration in load_migrations("postgres"):
                    if migration.version in done:
                        continue
                    report = UpgradeReport()
                    async with db.transaction():
                        if migration.sql is None:
                            await _upgrade_rows(db, rules or RowRules.defaults(), report)
                        else:
                            await db.execute(migration.sql.encode())
                        await db.execute(
                            "INSERT INTO schema_migrations (version) VALUES (%s)",
                            (migration.version,),
                        )
                    report.log()
                    applied.append(migration.version)
            finally:
                await db.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK_ID,))
                await db.commit()
        return applied

    async def ping(self) -> None:
        async with self._connection() as db:
            await db.execute("SELECT 1")

    async def write_batch(
        self,
        events: Sequence[DeviceEvent],
        dead_letters: Sequence[DeadLetter],
        instant: InstantRules | None = None,
    ) -> WriteResult:
        now = datetime.now(UTC)
        changes = TicketChanges()
        fresh: list[DeviceEvent] = []
        async with self._connection() as db, db.transaction():
            inserted = 0
            if events:
                cursor = db.cursor()
                async with cursor.copy(f"COPY events_stage ({_EVENT_COLUMNS}) FROM STDIN") as copy:
                    for event in events:
                        await copy.write_row(
                            (
                                event.occurred_at,
                                event.event_id,
                                event.kind,
                                event.community,
                                event.device_id,
                                event.received_at,
                                event.model_dump_json(),
                            )
                        )
                if self._observations or instant is not None:
                    # What the events add (`gateway.store.observations`, the instant rules'
                    # tickets) is recorded from the newly inserted ones only, so a redelivered
                    # batch changes nothing.
                    await cursor.execute(_INSERT_EVENTS + " RETURNING event_id")
                    fresh_ids = {row[0] for row in await cursor.fetchall()}
                    inserted = len(fresh_ids)
                    fresh = [e for e in events if e.event_id in fresh_ids]
                    seen = observe(fresh) if self._observations else None
                    if seen:
                        await record_observations(db, seen, now)
                    if instant is not None and fresh:
                        changes = await record_drafts(db, instant(fresh), now)
                else:
                    await cursor.execute(_INSERT_EVENTS)
                    inserted = max(cursor.rowcount, 0)
            if dead_letters:
                cursor = db.cursor()
                async with cursor.copy(
                    "COPY dead_letters (received_at, topic, reason, detail, payload_excerpt,"
                    " payload_bytes, raw_payload, raw_expires_at, community) FROM STDIN"
                ) as copy:
                    for letter in dead_letters:
                        await copy.write_row(
                            (
                                letter.received_at,
                                letter.topic,
                                letter.reason,
                                letter.detail,
                                letter.payload_excerpt,
                                letter.payload_bytes,
                                letter.raw_payload,
                                letter.raw_expires_at,
                                letter.community,
                            )
                        )
            activity = device_activity(events)
            if activity:
                await db.execute(
                    _RECORD_ACTIVITY,
                    {
                        "device_id": [a.device_id for a in activity],
                        "community": [a.community for a in activity],
                        "seen": [a.seen for a in activity],
                        "arrived": [a.arrived for a in activity],
                        "status": [a.status for a in activity],
                        "firmware": [a.firmware for a in activity],
                        "ip": [a.ip for a in activity],
                        "skew": [a.clock.skew_s if a.clock else None for a in activity],
                        "skew_at": [a.clock.at if a.clock else None for a in activity],
                        "tolerance": SKEW_TOLERANCE_S,
                        "horizon": SKEW_HORIZON,
                    },
                )
            # Last: the rows per community that concurrent writers share are held briefly.
            if self._observations:
                await record_flow(db, fresh)
            await record_watermarks(db, events, now)
        return WriteResult(
            inserted,
            len(events) - inserted,
            len(dead_letters),
            changes.opened,
            changes.updated,
            changes.opened_rules,
        )

    async def list_events(self, query: EventQuery) -> Page[DeviceEvent]:
        where, params = event_filter_sql(
            query, time_column="occurred_at", placeholder="%s", to_db_time=lambda value: value
        )
        sql = (
            f"SELECT occurred_at, event_id, body FROM events {where}"
            " ORDER BY occurred_at DESC, event_id DESC LIMIT %s"
        )
        async with self._connection() as db:
            cursor = await db.execute(sql.encode(), [*params, query.limit + 1])
            rows = await cursor.fetchall()
        return event_page_of_rows(
            [(at, str(event_id), body) for at, event_id, body in rows],  # type: ignore[misc]
            query.limit,
            device_event_adapter.validate_python,
        )

    async def list_dead_letters(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> Page[StoredDeadLetter]:
        sql, params = dead_letter_sql(
            cursor,
            time_column="received_at",
            expiry_column="raw_expires_at",
            placeholder="%s",
            communities=communities,
        )
        async with self._connection() as db:
            rows = db.cursor(row_factory=class_row(StoredDeadLetter))
            await rows.execute(sql.encode(), [*params, limit + 1])
            letters = await rows.fetchall()
        return dead_letter_page(letters, limit)

    async def get_dead_letter_raw(
        self, letter_id: int, now: datetime, *, communities: frozenset[str] | None = None
    ) -> bytes | None:
        sql = "SELECT raw_payload FROM dead_letters WHERE id = %s AND raw_expires_at > %s"
        params: list[object] = [letter_id, now]
        scoped = scope_clause("community", communities, "%s")
        if scoped is not None:
            sql += f" AND {scoped[0]}"
            params += scoped[1]
        async with self._connection() as db:
            cursor = await db.execute(sql.encode(), params)
            row = await cursor.fetchone()
        if row is None or not isinstance(row[0], bytes | memoryview):
            return None
        return bytes(row[0])

    async def purge_expired_raw_payloads(self, now: datetime) -> int:
        sql = (
            b"UPDATE dead_letters SET raw_payload = NULL, raw_expires_at = NULL"
            b" WHERE raw_payload IS NOT NULL AND raw_expires_at <= %s"
        )
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(sql, (now,))
            return max(cursor.rowcount, 0)

    async def upsert_devices(self, devices: Sequence[DeviceRegistration]) -> None:
        if not devices:
            return
        now = datetime.now(UTC)
        rows = [{**_registration_row(device), "now": now} for device in devices]
        async with self._connection() as db, db.transaction():
            await db.cursor().executemany(_UPSERT_DEVICE, rows)

    async def get_device(
        self, device_id: str, *, communities: frozenset[str] | None = None
    ) -> Device | None:
        sql = f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = %s"
        params: list[object] = [device_id]
        scoped = scope_clause("community", communities, "%s")
        if scoped is not None:
            sql += f" AND {scoped[0]}"
            params += scoped[1]
        async with self._connection() as db:
            rows = db.cursor(row_factory=dict_row)
            await rows.execute(sql.encode(), params)
            row = await rows.fetchone()
        return None if row is None else parsed_device(row, Device.model_validate)

    async def list_devices(
        self,
        limit: int,
        cursor: str | None,
        *,
        community: str | None = None,
        status: DeviceState | None = None,
        communities: frozenset[str] | None = None,
    ) -> Page[Device]:
        where, params = device_filter_sql(
            cursor, community, status, placeholder="%s", communities=communities
        )
        sql = f"SELECT {_DEVICE_COLUMNS} FROM devices {where} ORDER BY device_id LIMIT %s"
        async with self._connection() as db:
            rows = db.cursor(row_factory=dict_row)
            await rows.execute(sql.encode(), [*params, limit + 1])
            found = await rows.fetchall()
        return device_page_of_rows(
            [(str(row["device_id"]), row) for row in found], limit, Device.model_validate
        )

    async def device_registrations_digest(self) -> str:
        async with self._connection() as db:
            cursor = await db.execute(_REGISTRATIONS_DIGEST)
            count, total = await cursor.fetchone() or (0, 0)
        return f"{count}:{total}"

    async def clock_skews(self, min_abs_s: float, limit: int) -> ClockSkewReport:
        params = {"min_abs_s": min_abs_s, "limit": limit}
        async with self._connection() as db:
            count = await db.execute(f"SELECT count(*) FROM devices {_SKEWED_WHERE}", params)
            (total,) = await count.fetchone() or (0,)
            cursor = await db.execute(_SKEWED, params)
            rows = await cursor.fetchall()
        worst = [ClockSkew(str(row[0]), str(row[1]), float(str(row[2]))) for row in rows]
        return ClockSkewReport(int(str(total)), worst)

    async def record_replayed_status(self, replayed: Sequence[DeviceStatusEvent]) -> None:
        seeds = replayed_status(replayed)
        if not seeds:
            return
        async with self._connection() as db, db.transaction():
            await db.execute(
                _RECORD_REPLAYED,
                {
                    "device_id": [r.device_id for r in seeds],
                    "community": [r.community for r in seeds],
                    "status": [r.status for r in seeds],
                    "at": [r.at for r in seeds],
                    "arrived": [r.arrived for r in seeds],
                },
            )

    async def mark_silent_devices_offline(
        self, now: datetime, *, listening_since: datetime | None = None
    ) -> list[str]:
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(_MARK_SILENT, {"now": now, "since": listening_since})
            rows = await cursor.fetchall()
        return sorted(str(row[0]) for row in rows)

    async def long_offline_devices(self, now: datetime) -> list[tuple[str, datetime]]:
        async with self._connection() as db:
            cursor = await db.execute(_LONG_OFFLINE, {"now": now})
            rows = await cursor.fetchall()
        return [(str(device), since) for device, since in rows if isinstance(since, datetime)]


def _registration_row(device: DeviceRegistration) -> dict[str, object]:
    row = device.model_dump(include=set(DeviceRegistration.model_fields))
    row["readers"] = Jsonb({str(number): direction for number, direction in device.readers.items()})
    return row


async def _upgrade_rows(
    db: psycopg.AsyncConnection[tuple[object, ...]], rules: RowRules, report: UpgradeReport
) -> None:
    """The data migration (`gateway.store.upgrade`), inside the migration's transaction."""
    now = datetime.now(UTC)
    letters: list[DeadLetter] = []
    cursor = await db.execute("SELECT id, topic, detail FROM dead_letters")
    for letter_id, topic, detail in await cursor.fetchall():
        new = old_letter(str(topic), str(detail))
        await db.execute(
            "UPDATE dead_letters SET topic = %s, detail = %s, payload_excerpt = %s WHERE id = %s",
            (new.topic, new.detail, new.payload_excerpt, letter_id),
        )
        report.count("dead_letters", "excerpts replaced by a marker")
    after: tuple[object, object] = ("", datetime(1, 1, 1, tzinfo=UTC))
    while True:
        cursor = await db.execute(
            "SELECT event_id, occurred_at, body FROM events WHERE (event_id, occurred_at) >"
            " (%s, %s) ORDER BY event_id, occurred_at LIMIT %s",
            (*after, CHUNK),
        )
        rows = await cursor.fetchall()
        if not rows:
            break
        after = (rows[-1][0], rows[-1][1])
        for event_id, occurred_at, body in rows:
            verdict = screen_event(body, rules)
            key = (event_id, occurred_at)
            if isinstance(verdict, Refusal):
                await db.execute("DELETE FROM events WHERE event_id = %s AND occurred_at = %s", key)
                size = len(json.dumps(body, ensure_ascii=False).encode())
                letters.append(refusal_letter("stored event", verdict, size, now))
                report.count("events", f"removed: {verdict.rule}")
            elif _changed(body, verdict):
                await db.execute(
                    "UPDATE events SET body = %s::jsonb WHERE event_id = %s AND occurred_at = %s",
                    (verdict, *key),
                )
                report.count("events", "rewritten under the current rules")
    devices = db.cursor(row_factory=dict_row)
    await devices.execute(f"SELECT {_DEVICE_COLUMNS} FROM devices")
    for fields in await devices.fetchall():
        outcome = screen_device(fields, rules)
        if isinstance(outcome, Refusal):
            await db.execute("DELETE FROM devices WHERE device_id = %s", (fields["device_id"],))
            letters.append(refusal_letter("device registration", outcome, 0, now))
            report.count("devices", f"removed: {outcome.rule}")
        elif outcome[1]:
            assignments = ", ".join(f"{name} = %({name})s" for name in FIXABLE_DEVICE_FIELDS)
            values = {name: outcome[0][name] for name in FIXABLE_DEVICE_FIELDS}
            await db.execute(
                f"UPDATE devices SET {assignments} WHERE device_id = %(device_id)s".encode(),
                {**values, "device_id": fields["device_id"]},
            )
            report.count("devices", f"kept without {', '.join(outcome[1])}")
    if letters:
        await db.cursor().executemany(
            "INSERT INTO dead_letters (received_at, topic, reason, detail, payload_excerpt,"
            " payload_bytes) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (d.received_at, d.topic, d.reason, d.detail, d.payload_excerpt, d.payload_bytes)
                for d in letters
            ],
        )


def _changed(body: object, rewritten: str) -> bool:
    """Whether the rewritten body differs from the stored jsonb (compared as values)."""
    return bool(body != json.loads(rewritten))
