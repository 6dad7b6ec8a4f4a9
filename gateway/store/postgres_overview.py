"""`OverviewStore` on PostgreSQL: each figure one aggregate statement on a pooled connection.

The event queries bound `occurred_at`, so TimescaleDB excludes every chunk outside the window:
EXPLAIN shows the hour of the event rate read by an index scan of the one or two chunks' time
index (`create_hypertable`'s own `occurred_at` index; a scope is a filter on those rows), and
the passages and vehicles by `events_kind_newest`; no index of their own is needed.
"""

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store.overview import KindMinute, Passages
from schemas.overview import DeviceHealth, OfflineDevice

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_DIRECTION = "(body ->> 'direction')"
_PLATE = "(body ->> 'plate_no')"

EVENT_RATE = """
SELECT date_bin('1 minute', occurred_at, %(since)s) AS minute, kind, count(*) FROM events
WHERE occurred_at >= %(since)s AND occurred_at < %(until)s{scope}
GROUP BY minute, kind
"""

PASSAGES = f"""
SELECT {_DIRECTION} AS direction, count(*) FROM events
WHERE kind = 'access' AND occurred_at >= %(since)s AND occurred_at < %(until)s
    AND (body ->> 'result') = 'granted' AND {_DIRECTION} IN ('in', 'out'){{scope}}
GROUP BY direction
"""

VEHICLES_PRESENT = f"""
WITH passes AS (
    SELECT {_DIRECTION} AS direction, row_number() OVER (
        PARTITION BY community, {_PLATE} ORDER BY occurred_at DESC, event_id DESC
    ) AS n
    FROM events
    WHERE kind = 'vehicle_pass' AND occurred_at >= %(since)s AND occurred_at <= %(at)s
        AND {_PLATE} IS NOT NULL AND {_DIRECTION} IN ('in', 'out'){{scope}}
)
SELECT count(*) FROM passes WHERE n = 1 AND direction = 'in'
"""

DEVICE_COUNTS = "SELECT status, count(*) FROM devices WHERE true{scope} GROUP BY status"

OFFLINE_DEVICES = """
SELECT device_id, kind, community, status_since FROM devices
WHERE status = 'offline'{scope} ORDER BY device_id LIMIT %(limit)s
"""


def _scoped(sql: str, communities: frozenset[str] | None) -> bytes:
    scope = "" if communities is None else " AND community = ANY(%(communities)s)"
    return sql.format(scope=scope).encode()


def _params(communities: frozenset[str] | None, **values: object) -> dict[str, object]:
    if communities is not None:
        values["communities"] = sorted(communities)
    return values


class PostgresOverview:
    """The `OverviewStore` methods of `PostgresStore`."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def event_rate(
        self, since: datetime, until: datetime, communities: frozenset[str] | None
    ) -> list[KindMinute]:
        if communities is not None and not communities:
            return []
        params = _params(communities, since=since, until=until)
        async with self._connection() as db:
            cursor = await db.execute(_scoped(EVENT_RATE, communities), params)
            rows = await cursor.fetchall()
        return [
            KindMinute(minute.astimezone(UTC), str(kind), int(count))
            for minute, kind, count in rows
        ]

    async def passages(
        self, since: datetime, until: datetime, communities: frozenset[str] | None
    ) -> Passages:
        if communities is not None and not communities:
            return Passages()
        params = _params(communities, since=since, until=until)
        async with self._connection() as db:
            cursor = await db.execute(_scoped(PASSAGES, communities), params)
            rows = await cursor.fetchall()
        counts = {str(direction): int(count) for direction, count in rows}
        return Passages(entered=counts.get("in", 0), exited=counts.get("out", 0))

    async def vehicles_present(
        self, since: datetime, at: datetime, communities: frozenset[str] | None
    ) -> int:
        if communities is not None and not communities:
            return 0
        params = _params(communities, since=since, at=at)
        async with self._connection() as db:
            cursor = await db.execute(_scoped(VEHICLES_PRESENT, communities), params)
            row = await cursor.fetchone()
        return int(row[0]) if row else 0

    async def device_health(self, communities: frozenset[str] | None, limit: int) -> DeviceHealth:
        if communities is not None and not communities:
            return DeviceHealth(online=0, offline=0, unknown=0, offline_devices=[], offline_total=0)
        params = _params(communities, limit=limit)
        async with self._connection() as db:
            counts = await (
                await db.execute(_scoped(DEVICE_COUNTS, communities), params)
            ).fetchall()
            offline = await (
                await db.execute(_scoped(OFFLINE_DEVICES, communities), params)
            ).fetchall()
        by_status = {str(status): int(count) for status, count in counts}
        return DeviceHealth(
            online=by_status.get("online", 0),
            offline=by_status.get("offline", 0),
            unknown=by_status.get("unknown", 0),
            offline_devices=[
                OfflineDevice.model_validate(
                    {
                        "device_id": device_id,
                        "kind": kind,
                        "community": community,
                        "since": None if since is None else since.astimezone(UTC),
                    }
                )
                for device_id, kind, community, since in offline
            ],
            offline_total=by_status.get("offline", 0),
        )
