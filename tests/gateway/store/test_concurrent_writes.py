"""Batches written at once by several gateway processes take their row locks in one order.

Processes on one shared subscription receive a device's, a person's or a repeated event's
messages in whatever order the broker dealt them, so two batches committing at the same time
can name the same rows in opposite orders: the same presence rows (one person passing two
doors), the same event ids (a device repeating a publish to another process). Rows locked in
arrival order then deadlock, and PostgreSQL aborts one batch after `deadlock_timeout` (the
committer retries it: nothing is lost, but the whole batch stalls and is written twice). Rows
locked in key order cannot deadlock: these tests hold one row with a third connection, let both
batches queue up behind it in the order that would deadlock, release it, and require both
batches to commit.
"""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from gateway.store import open_store
from gateway.store.observations import observe
from gateway.store.postgres import PostgresStore
from schemas.events import AccessEvent, DeviceEvent
from tests.gateway.observed_events import access, local, vehicle

NOW = datetime.now(UTC)
WAIT_S = 30
CARDS = tuple(f"h1:{letter * 32}" for letter in "abcdef")


def subject(event: DeviceEvent) -> str:
    assert isinstance(event, AccessEvent) and event.subject_key is not None
    return event.subject_key


@pytest.fixture
async def pg_store(pg_dsn: str) -> AsyncIterator[PostgresStore]:
    store = open_store(pg_dsn)
    assert isinstance(store, PostgresStore)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


async def lock_waits(db: psycopg.AsyncConnection[tuple[object, ...]], count: int) -> None:
    """Wait until `count` sessions of this database wait for a lock (`db` in autocommit: a
    transaction would see one snapshot of `pg_stat_activity` throughout)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        cursor = await db.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND wait_event_type = 'Lock'"
        )
        row = await cursor.fetchone()
        if row is not None and row[0] == count:
            return
        if asyncio.get_running_loop().time() > deadline:
            cursor = await db.execute(
                "SELECT state, wait_event_type, wait_event, left(query, 40)"
                " FROM pg_stat_activity WHERE datname = current_database()"
            )
            sessions = await cursor.fetchall()
            raise AssertionError(f"not {count} sessions waiting for a lock: {sessions}")
        await asyncio.sleep(0.02)


async def write_both_behind(
    store: PostgresStore,
    pg_dsn: str,
    hold: tuple[str, Sequence[object]],
    first: Sequence[DeviceEvent],
    second: Sequence[DeviceEvent],
) -> None:
    """Hold a row (`hold`: a statement that locks it, and its parameters), start `first` and
    wait until it waits, start `second` and wait until it waits too, release the row; both
    must commit."""
    async with (
        await psycopg.AsyncConnection.connect(pg_dsn) as holder,
        await psycopg.AsyncConnection.connect(pg_dsn, autocommit=True) as watcher,
    ):
        await holder.execute(*hold)
        one = asyncio.create_task(store.write_batch(first, []))
        await lock_waits(watcher, 1)
        two = asyncio.create_task(store.write_batch(second, []))
        await lock_waits(watcher, 2)
        await holder.rollback()
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(one, two)  # a deadlock raises StoreError in one of them


class TestPresenceRowsAreLockedInKeyOrder:
    """Two batches naming the same people in opposite orders both commit."""

    async def test_opposite_orders_do_not_deadlock(
        self, pg_store: PostgresStore, pg_dsn: str
    ) -> None:
        day = [access(n, local(NOW, 1, 10, n), credential=card) for n, card in enumerate(CARDS[:3])]
        await pg_store.write_batch(day, [])  # the day's presence rows of three people exist
        low, middle, high = sorted(day, key=subject)
        later = timedelta(hours=2)

        def again(event: DeviceEvent, number: int) -> DeviceEvent:
            return event.model_copy(
                update={"event_id": f"again-{number}", "occurred_at": event.occurred_at + later}
            )

        await write_both_behind(
            pg_store,
            pg_dsn,
            ("SELECT 1 FROM presence WHERE subject_key = %s FOR UPDATE", [subject(high)]),
            [again(low, 1), again(high, 2), again(middle, 3)],
            [again(middle, 4), again(low, 5)],
        )


class TestEventsAreInsertedInKeyOrder:
    """Two batches carrying the same events in opposite orders (each a copy the other's
    process also received) both commit, and each event is stored once."""

    async def test_opposite_orders_do_not_deadlock(
        self, pg_store: PostgresStore, pg_dsn: str
    ) -> None:
        low, middle, high = (vehicle(n, local(NOW, 1, 10, n)) for n in range(3))
        assert low.event_id < middle.event_id < high.event_id
        other = vehicle(9, local(NOW, 1, 11))
        await pg_store.write_batch([other], [])  # the day's chunk exists before the test
        # Another process's uncommitted insert of `high`.
        hold = (
            "INSERT INTO events (occurred_at, event_id, kind, community, device_id, received_at,"
            " body) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [
                high.occurred_at,
                high.event_id,
                high.kind,
                high.community,
                high.device_id,
                high.received_at,
                high.model_dump_json(),
            ],
        )
        await write_both_behind(pg_store, pg_dsn, hold, [low, high, middle], [middle, low])
        async with await psycopg.AsyncConnection.connect(pg_dsn) as db:
            cursor = await db.execute("SELECT event_id, count(*) FROM events GROUP BY event_id")
            stored = sorted(await cursor.fetchall())
        assert stored == [(e.event_id, 1) for e in (low, middle, high, other)]


class TestObservationsAreInKeyOrder:
    """`observe` lists each table's rows in key order, whatever order the events came in."""

    def test_presence_rows_are_sorted_by_key(self) -> None:
        events = [access(n, local(NOW, 1, 10, n), credential=c) for n, c in enumerate(CARDS)]
        for arrival in (events, events[::-1], events[1::2] + events[::2]):
            keys = [
                (p.community, p.subject_key, p.building, p.unit, p.day)
                for p in observe(arrival).presence
            ]
            assert keys == sorted(keys)


class _Watched:
    """A store connection that, as it releases the migration lock, asks a connection of its
    own which migrations are committed (what a process waiting for the lock will read)."""

    def __init__(self, db: psycopg.AsyncConnection[tuple[object, ...]], dsn: str) -> None:
        self._db = db
        self._dsn = dsn
        self.committed_at_unlock: set[str] | None = None

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)

    async def execute(self, query: Any, params: Any = None) -> Any:
        if "pg_advisory_unlock" in str(query):
            async with await psycopg.AsyncConnection.connect(self._dsn) as other:
                cursor = await other.execute("SELECT version FROM schema_migrations")
                self.committed_at_unlock = {str(row[0]) for row in await cursor.fetchall()}
        return await self._db.execute(query, params)


class _WatchedStore(PostgresStore):
    watched: _Watched | None = None

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        async with super()._connection() as db:
            self.watched = _Watched(db, self._conninfo)
            yield self.watched


class TestMigrationsAreCommittedBeforeTheLockIsReleased:
    """Processes starting at once migrate one at a time: the next one to take the lock reads
    every migration the last one applied (they were savepoints of one transaction committed
    after the unlock, and a process reading in between applied them again and failed with
    `DuplicateTable`)."""

    async def test_every_applied_migration_is_visible_at_the_unlock(self, pg_dsn: str) -> None:
        store = _WatchedStore(pg_dsn)
        await store.open()
        try:
            applied = await store.migrate()
        finally:
            await store.close()
        assert applied and store.watched is not None
        assert store.watched.committed_at_unlock == set(applied)
