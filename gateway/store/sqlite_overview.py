"""`OverviewStore` on SQLite: each figure one aggregate statement in a read transaction."""

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

from gateway.store.micros import maybe_time, to_micros
from gateway.store.overview import KindMinute, Passages
from schemas.overview import DeviceHealth, OfflineDevice

R = TypeVar("R")

MINUTE_US: Final = 60_000_000

_DIRECTION = "json_extract(body, '$.direction')"
_PLATE = "json_extract(body, '$.plate_no')"


def _scope(communities: frozenset[str] | None) -> tuple[str, list[str]]:
    """An `AND community IN (...)` clause for a scope (empty for every community)."""
    if communities is None:
        return "", []
    marks = ", ".join("?" for _ in communities)
    return f" AND community IN ({marks})", sorted(communities)


class SqliteOverview:
    """The `OverviewStore` methods of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def event_rate(
        self, since: datetime, until: datetime, communities: frozenset[str] | None
    ) -> list[KindMinute]:
        if communities is not None and not communities:
            return []
        scope, params = _scope(communities)
        start = to_micros(since)
        sql = (
            "SELECT (occurred_us - ?) / ? AS minute, kind, count(*) FROM events"
            f" WHERE occurred_us >= ? AND occurred_us < ?{scope} GROUP BY minute, kind"
        )
        values = [start, MINUTE_US, start, to_micros(until), *params]
        rows = await self._read_tx(lambda db: db.execute(sql, values).fetchall())
        return [
            KindMinute(since + timedelta(minutes=int(minute)), str(kind), int(count))
            for minute, kind, count in rows
        ]

    async def passages(
        self, since: datetime, until: datetime, communities: frozenset[str] | None
    ) -> Passages:
        if communities is not None and not communities:
            return Passages()
        scope, params = _scope(communities)
        sql = (
            f"SELECT {_DIRECTION} AS direction, count(*) FROM events"
            " WHERE kind = 'access' AND occurred_us >= ? AND occurred_us < ?"
            f" AND json_extract(body, '$.result') = 'granted' AND {_DIRECTION} IN ('in', 'out')"
            f"{scope} GROUP BY direction"
        )
        values = [to_micros(since), to_micros(until), *params]
        rows = await self._read_tx(lambda db: db.execute(sql, values).fetchall())
        counts = {str(direction): int(count) for direction, count in rows}
        return Passages(entered=counts.get("in", 0), exited=counts.get("out", 0))

    async def vehicles_present(
        self, since: datetime, at: datetime, communities: frozenset[str] | None
    ) -> int:
        if communities is not None and not communities:
            return 0
        scope, params = _scope(communities)
        sql = f"""
            WITH passes AS (
                SELECT {_DIRECTION} AS direction, row_number() OVER (
                    PARTITION BY community, {_PLATE} ORDER BY occurred_us DESC, event_id DESC
                ) AS n
                FROM events
                WHERE kind = 'vehicle_pass' AND occurred_us >= ? AND occurred_us <= ?
                    AND {_PLATE} IS NOT NULL AND {_DIRECTION} IN ('in', 'out'){scope}
            )
            SELECT count(*) FROM passes WHERE n = 1 AND direction = 'in'
        """
        values = [to_micros(since), to_micros(at), *params]
        row = await self._read_tx(lambda db: db.execute(sql, values).fetchone())
        return int(row[0]) if row else 0

    async def device_health(self, communities: frozenset[str] | None, limit: int) -> DeviceHealth:
        if communities is not None and not communities:
            return DeviceHealth(online=0, offline=0, unknown=0, offline_devices=[], offline_total=0)
        scope, params = _scope(communities)
        where = f"WHERE 1 = 1{scope}"

        def read(
            db: sqlite3.Connection,
        ) -> tuple[list[tuple[str, int]], list[tuple[str, str, str, int | None]]]:
            counts = db.execute(
                f"SELECT status, count(*) FROM devices {where} GROUP BY status", params
            ).fetchall()
            offline = db.execute(
                "SELECT device_id, kind, community, status_since_us FROM devices"
                f" {where} AND status = 'offline' ORDER BY device_id LIMIT ?",
                [*params, limit],
            ).fetchall()
            return counts, offline

        counts, offline = await self._read_tx(read)
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
                        "since": maybe_time(since),
                    }
                )
                for device_id, kind, community, since in offline
            ],
            offline_total=by_status.get("offline", 0),
        )
