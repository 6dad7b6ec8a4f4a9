"""The flow rollup on SQLite: `record_flow` in the batch transaction, `flow` to read it.

Hours are `hour_us`, the hour's first microsecond since the epoch (UTC), as every SQLite time.
"""

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Final, TypeVar

from gateway.store.flow import MEASURES, CommunityFlow, FlowBucket, flow_rows, step_of
from gateway.store.micros import to_micros
from gateway.store.scope import scope_clause
from schemas.events import DeviceEvent

R = TypeVar("R")

HOUR_US: Final = 3_600_000_000
DAY_US: Final = 24 * HOUR_US
CST_US: Final = 8 * HOUR_US
"""China Standard Time's offset: its days start at 16:00 UTC."""

_NAMES: Final = ["community", "hour_us", *MEASURES]
_ADD: Final = (
    f"INSERT INTO flow_hourly ({', '.join(_NAMES)}) VALUES ({', '.join('?' for _ in _NAMES)})"
    " ON CONFLICT (community, hour_us) DO UPDATE SET "
    + ", ".join(f"{m} = {m} + excluded.{m}" for m in MEASURES)
)
_BUCKET: Final = {
    "hour": "hour_us",
    # The CST day's first microsecond; hours before 1970 floor as later ones do.
    "day": f"hour_us - (((hour_us + {CST_US}) % {DAY_US}) + {DAY_US}) % {DAY_US}",
}
MICROSECOND: Final = timedelta(microseconds=1)


def record_flow(db: sqlite3.Connection, fresh: Sequence[DeviceEvent]) -> None:
    """Add the batch's newly stored events to the rollup, in the caller's transaction."""
    db.executemany(
        _ADD,
        [(row.community, to_micros(row.bucket), *row.counts) for row in flow_rows(fresh)],
    )


class SqliteFlow:
    """The `FlowStore` method of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def flow(
        self,
        since: datetime,
        until: datetime,
        bucket: FlowBucket,
        communities: frozenset[str] | None,
    ) -> list[CommunityFlow]:
        if communities is not None and not communities:
            return []
        params: list[object] = [to_micros(since), to_micros(until)]
        scope = ""
        scoped = scope_clause("community", communities, "?")
        if scoped is not None:
            scope = f" AND {scoped[0]}"
            params += scoped[1]
        where = f"WHERE hour_us >= ? AND hour_us < ?{scope}"
        sums = ", ".join(f"sum({m})" for m in MEASURES)
        sql = (
            f"SELECT community, {_BUCKET[bucket]} AS at, {sums} FROM flow_hourly {where}"
            " GROUP BY community, at ORDER BY community, at"
        )
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        start, step = to_micros(since), step_of(bucket) // MICROSECOND
        size = (until - since) // step_of(bucket)
        found: dict[str, tuple[list[int], ...]] = {}
        for community, at, *counts in rows:
            series = found.get(community)
            if series is None:
                series = found[community] = tuple([0] * size for _ in MEASURES)
            for measure, count in enumerate(counts):
                series[measure][(at - start) // step] = count
        return [CommunityFlow(community, series) for community, series in found.items()]
