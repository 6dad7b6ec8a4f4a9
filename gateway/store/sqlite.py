"""The embedded store: SQLite in WAL mode, so `scgw demo` needs nothing installed.

sqlite3 is blocking, so every call runs on one dedicated worker thread that owns the
connection; the event loop never waits on disk.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

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
from gateway.store.micros import EPOCH, from_micros, maybe_time, to_micros
from gateway.store.migrations import load_migrations
from gateway.store.observations import observe
from gateway.store.scope import scope_clause
from gateway.store.sqlite_eventfacts import SqliteEventFacts
from gateway.store.sqlite_evidence import SqliteEvidence
from gateway.store.sqlite_flow import SqliteFlow, record_flow
from gateway.store.sqlite_keys import SqliteKeys
from gateway.store.sqlite_masterdata import SqliteMasterData
from gateway.store.sqlite_observations import SqliteObservations, record_observations
from gateway.store.sqlite_overview import SqliteOverview
from gateway.store.sqlite_residentfacts import SqliteResidentFacts
from gateway.store.sqlite_rulemarks import SqliteRuleMarks
from gateway.store.sqlite_stream import SqliteStream
from gateway.store.sqlite_tickets import SqliteTickets, record_drafts, record_watermarks
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

logger = logging.getLogger(__name__)
R = TypeVar("R")
_Row = tuple[object, ...]
_DEVICE_COLUMNS = (
    "device_id, kind, dialect, community, building, unit, gate, door, readers, location,"
    " firmware, parent, offline_after_s, status, status_since_us, last_seen_us, ip,"
    " registered_us, updated_us, clock_skew_s, clock_skew_measured_us"
)
# Registration columns are replaced; what was observed stays. `updated_us` moves only when
# the registration really changed, so re-reading an unchanged TOML file changes nothing.
_UPSERT_DEVICE = """
INSERT INTO devices (device_id, kind, dialect, community, building, unit, gate, door, readers,
    location, firmware, parent, offline_after_s, status_since_us, registered_us, updated_us)
VALUES (:device_id, :kind, :dialect, :community, :building, :unit, :gate, :door, :readers,
    :location, :firmware, :parent, :offline_after_s, :now, :now, :now)
ON CONFLICT (device_id) DO UPDATE SET
    kind = excluded.kind, dialect = excluded.dialect, community = excluded.community,
    building = excluded.building, unit = excluded.unit, gate = excluded.gate,
    door = excluded.door, readers = excluded.readers, location = excluded.location,
    firmware = coalesce(excluded.firmware, devices.firmware), parent = excluded.parent,
    offline_after_s = excluded.offline_after_s, updated_us = excluded.updated_us
WHERE (devices.kind, devices.dialect, devices.community, devices.building, devices.unit,
    devices.gate, devices.door, devices.readers, devices.location, devices.firmware,
    devices.parent, devices.offline_after_s)
    IS NOT (excluded.kind, excluded.dialect, excluded.community, excluded.building,
    excluded.unit, excluded.gate, excluded.door, excluded.readers, excluded.location,
    coalesce(excluded.firmware, devices.firmware), excluded.parent, excluded.offline_after_s)
"""
# The rules are `gateway.device_status`'s. A batch moves `last_seen` forward only, to its
# newest event time corrected by the stored clock skew estimate when the clock runs behind
# (capped at arrival); its status applies unless a later word has already been recorded, and
# an `online` word older than `offline_after_s` when it arrived applies not at all. Its clock
# observation replaces the estimate as `gateway.device_status.accepts_skew` says.
_ACCEPT_SKEW = """:skew IS NOT NULL AND (clock_skew_measured_us IS NULL
    OR (:skew_at > clock_skew_measured_us AND (:skew >= clock_skew_s - :tolerance
        OR :skew_at - clock_skew_measured_us > :horizon)))"""
_SEEN = """min(:seen - CAST(min(coalesce(clock_skew_s, 0), 0) * 1000000 AS INTEGER), :arrived)"""
_APPLIES = f"""((last_seen_us IS NULL OR {_SEEN} >= last_seen_us)
    AND (:status = 'offline' OR {_SEEN} + offline_after_s * 1000000 >= :arrived))"""
_RECORD_ACTIVITY = f"""
UPDATE devices SET
    clock_skew_s = CASE WHEN {_ACCEPT_SKEW} THEN :skew ELSE clock_skew_s END,
    clock_skew_measured_us = CASE WHEN {_ACCEPT_SKEW} THEN :skew_at
        ELSE clock_skew_measured_us END,
    status = CASE WHEN {_APPLIES} THEN :status ELSE status END,
    status_since_us = CASE WHEN {_APPLIES} AND status <> :status THEN {_SEEN}
        ELSE status_since_us END,
    last_seen_us = max(coalesce(last_seen_us, {_SEEN}), {_SEEN}),
    firmware = coalesce(:firmware, firmware),
    ip = coalesce(:ip, ip)
WHERE device_id = :device_id AND community = :community
"""
# A retained status replay seeds an unknown device only (`gateway.device_status`).
_SEEDS = """status = 'unknown' AND (:status = 'offline'
    OR (:at IS NOT NULL AND :at + offline_after_s * 1000000 >= :arrived))"""
_RECORD_REPLAYED = f"""
UPDATE devices SET
    status = CASE WHEN {_SEEDS} THEN :status ELSE status END,
    status_since_us = CASE WHEN {_SEEDS} THEN coalesce(:at, :arrived) ELSE status_since_us END,
    last_seen_us = CASE WHEN :at IS NULL THEN last_seen_us
        ELSE max(coalesce(last_seen_us, :at), :at) END
WHERE device_id = :device_id AND community = :community
"""
_MARK_SILENT = """
UPDATE devices SET status = 'offline', status_since_us = :now
WHERE status <> 'offline'
    AND max(coalesce(last_seen_us, registered_us), :since) + offline_after_s * 1000000 < :now
RETURNING device_id
"""
_LONG_OFFLINE = """
SELECT device_id, status_since_us FROM devices
WHERE status = 'offline' AND status_since_us + offline_after_s * 1000000 < :now
ORDER BY device_id
"""
_INSERT_EVENT = "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?, ?)"
_SKEWED_WHERE = "WHERE abs(clock_skew_s) >= ?"
_SKEWED = f"""
SELECT device_id, community, clock_skew_s FROM devices {_SKEWED_WHERE}
ORDER BY abs(clock_skew_s) DESC, device_id LIMIT ?
"""


_PRIVATE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def _make_private(path: Path) -> None:
    """Create the database file 0600 (like `secrets.json`), and make it and its -wal, -shm and
    -journal files 0600 when they exist already (a release before this rule left them 0644).

    Done before SQLite opens the file: it gives new -wal and -shm files the database file's
    permissions. A file this process's user does not own is left alone (an operator who
    shares it through a group decided so) and named in a warning.
    """
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for suffix in _PRIVATE_SUFFIXES:
        part = path.with_name(path.name + suffix)
        try:
            info = part.stat()
            if info.st_mode & 0o077 and info.st_uid == os.geteuid():
                part.chmod(0o600)
            elif info.st_mode & 0o077:
                logger.warning("%s is readable by others and not ours to chmod", part.name)
        except FileNotFoundError:
            continue


class SqliteStore(
    SqliteMasterData,
    SqliteObservations,
    SqliteEventFacts,
    SqliteTickets,
    SqliteEvidence,
    SqliteResidentFacts,
    SqliteRuleMarks,
    SqliteKeys,
    SqliteStream,
    SqliteOverview,
    SqliteFlow,
):
    """`Store` on a single SQLite file.

    `observations=False` skips recording presence, sightings, visitors and the flow rollup on
    write (the ingest benchmark's baseline only).
    """

    def __init__(self, path: str, *, observations: bool = True) -> None:
        self._path = path
        self._observations = observations
        self._executor: ThreadPoolExecutor | None = None
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        await self._run(self._connect)

    def _connect(self) -> None:
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            _make_private(Path(self._path))
        connection = sqlite3.connect(self._path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute("PRAGMA busy_timeout=5000")
        # Residencies and credentials go with their person (erasure), never dangle.
        connection.execute("PRAGMA foreign_keys=ON")
        # What a migration or purge deletes is overwritten, not left in free pages of the file.
        connection.execute("PRAGMA secure_delete=ON")
        self._connection = connection

    async def close(self) -> None:
        if self._executor is None:
            return
        if self._connection is not None:
            await self._run(self._connection.close)
            self._connection = None
        self._executor.shutdown(wait=True)
        self._executor = None

    async def _run(self, function: Callable[[], R]) -> R:
        if self._executor is None:
            raise StoreError("the store is not open", transient=False)
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function)
        except sqlite3.OperationalError as exc:
            raise StoreError(_describe(exc), transient=_is_transient(exc)) from exc
        except sqlite3.DatabaseError as exc:  # constraint, corruption: retrying will not help
            raise StoreError(_describe(exc), transient=False) from exc

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise sqlite3.OperationalError("not connected")
        return self._connection

    async def migrate(self, rules: RowRules | None = None) -> list[str]:
        return await self._run(lambda: self._migrate(rules or RowRules.defaults()))

    def _migrate(self, rules: RowRules) -> list[str]:
        db = self._db
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations"
            " (version TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
        applied = []
        for migration in load_migrations("sqlite"):
            if migration.version in done:
                continue
            report = UpgradeReport()
            db.execute("BEGIN IMMEDIATE")
            try:
                if migration.sql is None:
                    _upgrade_rows(db, rules, report)
                for statement in _statements(migration.sql or ""):
                    db.execute(statement)
                db.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?)",
                    (migration.version, datetime.now(UTC).isoformat()),
                )
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            report.log()
            applied.append(migration.version)
            if migration.sql is None:  # old rows' pages leave the WAL for the (zeroed) file
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return applied

    async def ping(self) -> None:
        await self._run(lambda: self._db.execute("SELECT 1").fetchone())

    async def write_batch(
        self,
        events: Sequence[DeviceEvent],
        dead_letters: Sequence[DeadLetter],
        instant: InstantRules | None = None,
    ) -> WriteResult:
        event_rows = [
            (
                to_micros(e.occurred_at),
                e.event_id,
                e.kind,
                e.community,
                e.device_id,
                to_micros(e.received_at),
                e.model_dump_json(),
            )
            for e in events
        ]
        letter_rows = [
            (
                to_micros(d.received_at),
                d.topic,
                d.reason,
                d.detail,
                d.payload_excerpt,
                d.payload_bytes,
                d.raw_payload,
                None if d.raw_expires_at is None else to_micros(d.raw_expires_at),
                d.community,
            )
            for d in dead_letters
        ]
        activity_rows: list[dict[str, object]] = [
            {
                "device_id": a.device_id,
                "community": a.community,
                "seen": to_micros(a.seen),
                "arrived": to_micros(a.arrived),
                "status": a.status,
                "firmware": a.firmware,
                "ip": a.ip,
                "skew": a.clock.skew_s if a.clock else None,
                "skew_at": to_micros(a.clock.at) if a.clock else None,
                "tolerance": SKEW_TOLERANCE_S,
                "horizon": to_micros(EPOCH + SKEW_HORIZON),
            }
            for a in device_activity(events)
        ]
        return await self._run(
            lambda: self._write(events, event_rows, letter_rows, activity_rows, instant)
        )

    def _write(
        self,
        events: Sequence[DeviceEvent],
        event_rows: Sequence[_Row],
        letter_rows: Sequence[_Row],
        activity_rows: Sequence[dict[str, object]],
        instant: InstantRules | None,
    ) -> WriteResult:
        """One transaction; what the events add (`gateway.store.observations`, the instant
        rules' tickets) is recorded from the newly inserted ones only, so a redelivered batch
        changes nothing."""
        db = self._db
        now = datetime.now(UTC)
        changes = TicketChanges()
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._observations or instant is not None:
                inserted, fresh = self._insert_events(db, event_rows, events)
                if self._observations:
                    record_observations(db, observe(fresh), now)
                    record_flow(db, fresh)
                if instant is not None and fresh:
                    changes = record_drafts(db, instant(fresh), now)
            else:
                before = db.total_changes
                db.executemany(_INSERT_EVENT, event_rows)
                inserted = db.total_changes - before
            db.executemany(
                "INSERT INTO dead_letters (received_us, topic, reason, detail, payload_excerpt,"
                " payload_bytes, raw_payload, raw_expires_us, community)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                letter_rows,
            )
            db.executemany(_RECORD_ACTIVITY, activity_rows)
            record_watermarks(db, events, now)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return WriteResult(
            inserted,
            len(event_rows) - inserted,
            len(letter_rows),
            changes.opened,
            changes.updated,
            changes.opened_rules,
        )

    @staticmethod
    def _insert_events(
        db: sqlite3.Connection, event_rows: Sequence[_Row], events: Sequence[DeviceEvent]
    ) -> tuple[int, list[DeviceEvent]]:
        """Insert row by row, to know which events are new."""
        fresh = [
            event
            for row, event in zip(event_rows, events, strict=True)
            if db.execute(_INSERT_EVENT, row).rowcount
        ]
        return len(fresh), fresh

    async def list_events(self, query: EventQuery) -> Page[DeviceEvent]:
        where, params = event_filter_sql(
            query, time_column="occurred_us", placeholder="?", to_db_time=to_micros
        )
        sql = (
            f"SELECT occurred_us, event_id, body FROM events {where}"
            " ORDER BY occurred_us DESC, event_id DESC LIMIT ?"
        )
        rows = await self._run(lambda: self._db.execute(sql, [*params, query.limit + 1]).fetchall())
        return event_page_of_rows(
            [(from_micros(at), event_id, body) for at, event_id, body in rows],
            query.limit,
            device_event_adapter.validate_json,
        )

    async def list_dead_letters(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> Page[StoredDeadLetter]:
        sql, params = dead_letter_sql(
            cursor,
            time_column="received_us",
            expiry_column="raw_expires_us",
            placeholder="?",
            communities=communities,
        )
        rows = await self._run(lambda: self._db.execute(sql, [*params, limit + 1]).fetchall())
        letters = [
            StoredDeadLetter(
                id=row[0],
                received_at=from_micros(row[1]),
                topic=row[2],
                reason=row[3],
                detail=row[4],
                payload_excerpt=row[5],
                payload_bytes=row[6],
                raw_expires_at=maybe_time(row[7]),
                community=row[8],
            )
            for row in rows
        ]
        return dead_letter_page(letters, limit)

    async def get_dead_letter_raw(
        self, letter_id: int, now: datetime, *, communities: frozenset[str] | None = None
    ) -> bytes | None:
        sql = "SELECT raw_payload FROM dead_letters WHERE id = ? AND raw_expires_us > ?"
        values: list[object] = [letter_id, to_micros(now)]
        scoped = scope_clause("community", communities, "?")
        if scoped is not None:
            sql += f" AND {scoped[0]}"
            values += scoped[1]
        row = await self._run(lambda: self._db.execute(sql, values).fetchone())
        return None if row is None or row[0] is None else bytes(row[0])

    async def purge_expired_raw_payloads(self, now: datetime) -> int:
        sql = (
            "UPDATE dead_letters SET raw_payload = NULL, raw_expires_us = NULL"
            " WHERE raw_payload IS NOT NULL AND raw_expires_us <= ?"
        )
        values = (to_micros(now),)
        return await self._run(lambda: self._in_transaction_count(sql, values))

    def _in_transaction_count(self, sql: str, values: Sequence[object]) -> int:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            changed = db.execute(sql, values).rowcount
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return changed

    async def upsert_devices(self, devices: Sequence[DeviceRegistration]) -> None:
        now = to_micros(datetime.now(UTC))
        rows = [{**_registration_row(device), "now": now} for device in devices]
        await self._run(lambda: self._in_transaction(_UPSERT_DEVICE, rows))

    def _in_transaction(self, sql: str, rows: Sequence[dict[str, object]]) -> None:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(sql, rows)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def get_device(
        self, device_id: str, *, communities: frozenset[str] | None = None
    ) -> Device | None:
        sql = f"SELECT {_DEVICE_COLUMNS} FROM devices WHERE device_id = ?"
        values: list[object] = [device_id]
        scoped = scope_clause("community", communities, "?")
        if scoped is not None:
            sql += f" AND {scoped[0]}"
            values += scoped[1]
        row = await self._run(lambda: self._db.execute(sql, values).fetchone())
        return None if row is None else parsed_device(row, _device)

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
            cursor, community, status, placeholder="?", communities=communities
        )
        sql = f"SELECT {_DEVICE_COLUMNS} FROM devices {where} ORDER BY device_id LIMIT ?"
        rows = await self._run(lambda: self._db.execute(sql, [*params, limit + 1]).fetchall())
        return device_page_of_rows([(row[0], row) for row in rows], limit, _device)

    async def device_registrations_digest(self) -> str:
        sql = f"SELECT {REGISTRATION_COLUMNS} FROM devices ORDER BY device_id"

        def read() -> str:
            digest = hashlib.blake2b(digest_size=16)
            for row in self._db.execute(sql):
                digest.update(repr(row).encode())
            return digest.hexdigest()

        return await self._run(read)

    async def clock_skews(self, min_abs_s: float, limit: int) -> ClockSkewReport:
        def read() -> ClockSkewReport:
            count = f"SELECT count(*) FROM devices {_SKEWED_WHERE}"
            (total,) = self._db.execute(count, (min_abs_s,)).fetchone()
            rows = self._db.execute(_SKEWED, (min_abs_s, limit)).fetchall()
            return ClockSkewReport(total, [ClockSkew(*row) for row in rows])

        return await self._run(read)

    async def record_replayed_status(self, replayed: Sequence[DeviceStatusEvent]) -> None:
        rows: list[dict[str, object]] = [
            {
                "device_id": r.device_id,
                "community": r.community,
                "status": r.status,
                "at": None if r.at is None else to_micros(r.at),
                "arrived": to_micros(r.arrived),
            }
            for r in replayed_status(replayed)
        ]
        if rows:
            await self._run(lambda: self._in_transaction(_RECORD_REPLAYED, rows))

    async def mark_silent_devices_offline(
        self, now: datetime, *, listening_since: datetime | None = None
    ) -> list[str]:
        values = {
            "now": to_micros(now),
            "since": to_micros(listening_since) if listening_since else -(2**62),
        }
        rows = await self._run(lambda: self._db.execute(_MARK_SILENT, values).fetchall())
        return sorted(str(row[0]) for row in rows)

    async def long_offline_devices(self, now: datetime) -> list[tuple[str, datetime]]:
        values = {"now": to_micros(now)}
        rows = await self._run(lambda: self._db.execute(_LONG_OFFLINE, values).fetchall())
        return [(str(row[0]), from_micros(row[1])) for row in rows]


def _registration_row(device: DeviceRegistration) -> dict[str, object]:
    row = device.model_dump(include=set(DeviceRegistration.model_fields))
    row["readers"] = json.dumps(
        {str(number): direction for number, direction in device.readers.items()}, sort_keys=True
    )
    return row


def _device(row: Sequence[Any]) -> Device:
    return Device.model_validate(_device_fields(row))


def _device_fields(row: Sequence[Any]) -> dict[str, Any]:
    """A `devices` row as the fields of `Device` (times and readers decoded)."""
    (
        device_id,
        kind,
        dialect,
        community,
        building,
        unit,
        gate,
        door,
        readers,
        location,
        firmware,
        parent,
        offline_after_s,
        status,
        status_since_us,
        last_seen_us,
        ip,
        registered_us,
        updated_us,
        clock_skew_s,
        clock_skew_measured_us,
    ) = row
    return {
        "device_id": device_id,
        "kind": kind,
        "dialect": dialect,
        "community": community,
        "building": building,
        "unit": unit,
        "gate": gate,
        "door": door,
        "readers": json.loads(readers),
        "location": location,
        "firmware": firmware,
        "parent": parent,
        "offline_after_s": offline_after_s,
        "status": status,
        "status_since": maybe_time(status_since_us),
        "last_seen": maybe_time(last_seen_us),
        "ip": ip,
        "registered_at": maybe_time(registered_us),
        "updated_at": maybe_time(updated_us),
        "clock_skew_s": clock_skew_s,
        "clock_skew_measured_at": maybe_time(clock_skew_measured_us),
    }


def _describe(exc: sqlite3.Error) -> str:
    """SQLite's own message, which names schema objects and never a bound value; an error the
    Python module raises itself (`Could not decode to UTF-8 column ... with text ...`) quotes
    row data, so it is named by its type only. This text reaches logs."""
    name = getattr(exc, "sqlite_errorname", None)
    if name is None:
        return f"sqlite: {type(exc).__name__}"
    return f"sqlite {name}: {exc}"


def _is_transient(exc: sqlite3.OperationalError) -> bool:
    """Locks and busy databases pass; a missing table or unreadable file does not."""
    message = str(exc).lower()
    return "locked" in message or "busy" in message or "disk i/o" in message


def _statements(script: str) -> list[str]:
    """Split a migration into statements (our migrations have no `;` inside literals)."""
    lines = [line for line in script.splitlines() if not line.lstrip().startswith("--")]
    return [part.strip() for part in "\n".join(lines).split(";") if part.strip()]


def _upgrade_rows(db: sqlite3.Connection, rules: RowRules, report: UpgradeReport) -> None:
    """The data migration (`gateway.store.upgrade`), inside the migration's transaction."""
    now = datetime.now(UTC)
    letters: list[DeadLetter] = []
    for letter_id, topic, detail in db.execute(
        "SELECT id, topic, detail FROM dead_letters"
    ).fetchall():
        new = old_letter(topic, detail)
        db.execute(
            "UPDATE dead_letters SET topic = ?, detail = ?, payload_excerpt = ? WHERE id = ?",
            (new.topic, new.detail, new.payload_excerpt, letter_id),
        )
        report.count("dead_letters", "excerpts replaced by a marker")
    after: tuple[str, int] = ("", -(2**62))
    while rows := db.execute(
        "SELECT event_id, occurred_us, body FROM events WHERE (event_id, occurred_us) > (?, ?)"
        " ORDER BY event_id, occurred_us LIMIT ?",
        (*after, CHUNK),
    ).fetchall():
        after = (rows[-1][0], rows[-1][1])
        for event_id, occurred_us, body in rows:
            verdict = screen_event(body, rules)
            if isinstance(verdict, Refusal):
                db.execute(
                    "DELETE FROM events WHERE event_id = ? AND occurred_us = ?",
                    (event_id, occurred_us),
                )
                letters.append(refusal_letter("stored event", verdict, len(body), now))
                report.count("events", f"removed: {verdict.rule}")
            elif verdict != body:
                db.execute(
                    "UPDATE events SET body = ? WHERE event_id = ? AND occurred_us = ?",
                    (verdict, event_id, occurred_us),
                )
                report.count("events", "rewritten under the current rules")
    for row in db.execute(f"SELECT {_DEVICE_COLUMNS} FROM devices").fetchall():
        fields = _device_fields(row)
        outcome = screen_device(fields, rules)
        if isinstance(outcome, Refusal):
            db.execute("DELETE FROM devices WHERE device_id = ?", (row[0],))
            letters.append(refusal_letter("device registration", outcome, 0, now))
            report.count("devices", f"removed: {outcome.rule}")
        elif outcome[1]:
            fixed = outcome[0]
            assignments = ", ".join(f"{name} = :{name}" for name in FIXABLE_DEVICE_FIELDS)
            values = {name: fixed[name] for name in FIXABLE_DEVICE_FIELDS}
            db.execute(
                f"UPDATE devices SET {assignments} WHERE device_id = :device_id",
                {**values, "device_id": row[0]},
            )
            report.count("devices", f"kept without {', '.join(outcome[1])}")
    db.executemany(
        "INSERT INTO dead_letters (received_us, topic, reason, detail, payload_excerpt,"
        " payload_bytes) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (
                to_micros(d.received_at),
                d.topic,
                d.reason,
                d.detail,
                d.payload_excerpt,
                d.payload_bytes,
            )
            for d in letters
        ],
    )
