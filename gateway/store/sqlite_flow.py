"""The flow rollup on SQLite: `record_flow` in the batch transaction, `flow` to read it.

Hours are `hour_us`, the hour's first microsecond since the epoch (UTC), as every SQLite time.
"""

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Final, TypeVar

from gateway.store.flow import MEASURES, FlowBucket, FlowRow, flow_rows
from gateway.store.micros import from_micros, to_micros
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
_CST_DAY: Final = f"hour_us - (((hour_us + {CST_US}) % {DAY_US}) + {DAY_US}) % {DAY_US}"
"""The China Standard Time day of an hour (its first microsecond); hours before 1970 floor as
later ones do."""


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
    ) -> list[FlowRow]:
        if communities is not None and not communities:
            return []
        params: list[object] = [to_micros(since), to_micros(until)]
        scope = ""
        scoped = scope_clause("community", communities, "?")
        if scoped is not None:
            scope = f" AND {scoped[0]}"
            params += scoped[1]
        where = f"WHERE hour_us >= ? AND hour_us < ?{scope}"
        if bucket == "hour":
            sql = f"SELECT {', '.join(_NAMES)} FROM flow_hourly {where} ORDER BY hour_us, community"
        else:
            sums = ", ".join(f"sum({m})" for m in MEASURES)
            sql = (
                f"SELECT community, {_CST_DAY} AS day, {sums} FROM flow_hourly {where}"
                " GROUP BY day, community ORDER BY day, community"
            )
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        return [
            FlowRow(str(row[0]), from_micros(int(row[1])), tuple(int(n) for n in row[2:]))
            for row in rows
        ]
