"""The flow rollup on PostgreSQL: `record_flow` in the batch transaction, `flow` to read it.

One `unnest` upsert per batch adds the batch's counts to `flow_hourly`. The read is one
statement on the rollup (23,688 rows for a district's week of hours), never on the events: one
community's range is a primary-key range scan, the district's the `flow_hourly_hour` index
(hour, community), which also gives the answer's order.
"""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import psycopg

from gateway.store.flow import (
    MEASURES,
    CommunityFlow,
    FlowBucket,
    columns,
    dense,
    flow_rows,
    step_of,
)
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


def flow_sql(bucket: FlowBucket, communities: frozenset[str] | None) -> bytes:
    """The read: per community in the scope, the buckets of [since, until) that counted
    something, as offsets from `since` in buckets, and each measure's counts there, as arrays
    (141 rows for a district's week, not 23,688). Parameters: `since`,
    `until` and, for a scope, `communities`."""
    scope = "" if communities is None else " AND community = ANY(%(communities)s)"
    where = f"WHERE hour >= %(since)s AND hour < %(until)s{scope}"
    seconds = 3600 if bucket == "hour" else 86400
    # No ORDER BY, inside the aggregates or before them (on PostgreSQL 15 each aggregate would
    # sort every group again: most of the district's read): the arrays pair up position by
    # position, as they aggregate the same rows in the same order, and `dense` places each
    # count by its offset. Rows come in the table's order, hours in time order as written.
    arrays = ", ".join(f"array_agg({m})" for m in MEASURES)
    offsets = f"array_agg((extract(epoch FROM at - %(since)s) / {seconds})::int)"
    if bucket == "hour":
        source = f"(SELECT community, hour AS at, {', '.join(MEASURES)} FROM flow_hourly {where})"
    else:
        sums = ", ".join(f"sum({m})::bigint AS {m}" for m in MEASURES)
        source = (
            f"(SELECT community, {_CST_DAY} AS at, {sums} FROM flow_hourly {where}"
            " GROUP BY community, at)"
        )
    sql = (
        f"SELECT community, {offsets}, {arrays} FROM {source} AS buckets"
        " GROUP BY community ORDER BY community"
    )
    return sql.encode()


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
    ) -> list[CommunityFlow]:
        if communities is not None and not communities:
            return []
        values: dict[str, object] = {"since": since, "until": until}
        if communities is not None:
            values["communities"] = sorted(communities)
        async with self._connection() as db:
            cursor = await db.execute(flow_sql(bucket, communities), values)
            rows = await cursor.fetchall()
        size = (until - since) // step_of(bucket)
        return [
            CommunityFlow(str(row[0]), tuple(dense(size, row[1], counts) for counts in row[2:]))
            for row in rows
        ]
