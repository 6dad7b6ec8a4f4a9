"""The flow rollup on PostgreSQL: `record_flow` in the batch transaction, `flow` to read it.

One `unnest` upsert per batch adds the batch's counts to `flow_hourly`. The read is one
statement on the rollup (23,688 rows for a district's week of hours), never on the events: one
community's range is a primary-key range scan, the district's the `flow_hourly_hour` index
(hour, community), which also gives the answer's order.
"""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg

from gateway.store.flow import MEASURES, FlowBucket, FlowRow, columns, flow_rows
from gateway.store.scope import scope_clause
from schemas.events import DeviceEvent

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_TYPES: Final = ["text", "timestamptz", *(["bigint"] * len(MEASURES))]
_NAMES: Final = ["community", "hour", *MEASURES]
_ADD: Final = f"""
INSERT INTO flow_hourly ({", ".join(_NAMES)})
SELECT * FROM unnest({", ".join(f"%s::{kind}[]" for kind in _TYPES)})
ON CONFLICT (community, hour) DO UPDATE SET
    {", ".join(f"{m} = flow_hourly.{m} + excluded.{m}" for m in MEASURES)}
""".encode()

_CST_DAY: Final = "date_bin('1 day', hour, timestamptz '2000-01-01 00:00:00+08')"
"""The China Standard Time day of an hour, whatever the session's time zone."""


async def record_flow(db: Connection, fresh: Sequence[DeviceEvent]) -> None:
    """Add the batch's newly stored events to the rollup (nothing when none counts)."""
    rows = flow_rows(fresh)
    if rows:
        await db.execute(_ADD, columns(rows))


def flow_sql(bucket: FlowBucket, communities: frozenset[str] | None) -> tuple[bytes, list[object]]:
    """The read: counts per community and bucket over [since, until), within the scope. Hours
    are the rollup's rows as stored (one per community and hour), read in index order."""
    params: list[object] = []
    scope = ""
    scoped = scope_clause("community", communities, "%s")
    if scoped is not None:
        scope = f" AND {scoped[0]}"
        params += scoped[1]
    where = f"WHERE hour >= %s AND hour < %s{scope}"
    if bucket == "hour":
        sql = f"SELECT {', '.join(_NAMES)} FROM flow_hourly {where} ORDER BY hour, community"
    else:
        sums = ", ".join(f"sum({m})::bigint" for m in MEASURES)
        sql = (
            f"SELECT community, {_CST_DAY} AS day, {sums} FROM flow_hourly {where}"
            " GROUP BY day, community ORDER BY day, community"
        )
    return sql.encode(), params


class PostgresFlow:
    """The `FlowStore` method of `PostgresStore`."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def flow(
        self,
        since: datetime,
        until: datetime,
        bucket: FlowBucket,
        communities: frozenset[str] | None,
    ) -> list[FlowRow]:
        if communities is not None and not communities:
            return []
        sql, scope = flow_sql(bucket, communities)
        async with self._connection() as db:
            cursor = await db.execute(sql, [since, until, *scope])
            rows = await cursor.fetchall()
        return [
            FlowRow(str(row[0]), row[1].astimezone(UTC), tuple(int(n) for n in row[2:]))
            for row in rows
        ]
