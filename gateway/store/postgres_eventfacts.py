"""`EventFactStore` on PostgreSQL/TimescaleDB: event-time windows on `occurred_at` (chunk
exclusion on the hypertable), body fields by `->>`."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store.eventfacts import (
    GATE_PASSES,
    DoorStateFact,
    VisitFact,
    door_state_fact,
    visit_fact,
)

Connection = psycopg.AsyncConnection[tuple[object, ...]]

_PLACE = "body ->> 'building', body ->> 'unit', body ->> 'gate'"
_DOOR_STATES = f"""
SELECT event_id, occurred_at, device_id, body ->> 'door', body ->> 'state', {_PLACE}
FROM events
WHERE kind = 'door_state' AND community = %s AND occurred_at >= %s AND occurred_at <= %s
ORDER BY occurred_at, event_id
"""
_VISITS = f"""
SELECT event_id, occurred_at, device_id, body ->> 'visit_id', body ->> 'action',
    body ->> 'valid_until', body ->> 'host_house', {_PLACE}
FROM events
WHERE kind = 'visitor' AND community = %s AND occurred_at >= %s AND occurred_at <= %s
"""
_REGISTRATIONS = f"{_VISITS} AND body ->> 'action' = 'registered'"
_PASSES = f"""{_VISITS} AND body ->> 'action' = ANY(%s) AND body ->> 'visit_id' = ANY(%s)
ORDER BY occurred_at, event_id"""


class PostgresEventFacts:
    """The `EventFactStore` methods of `PostgresStore` (which supplies `_connection`)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def door_states(
        self, community: str, since: datetime, until: datetime
    ) -> list[DoorStateFact]:
        rows = await self._fetch(_DOOR_STATES, (community, since, until))
        return [door_state_fact(*row) for row in rows]

    async def visit_registrations(
        self, community: str, since: datetime, until: datetime
    ) -> list[VisitFact]:
        rows = await self._fetch(_REGISTRATIONS, (community, since, until))
        return [visit_fact(*row) for row in rows]

    async def visit_passes(
        self, community: str, visit_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[VisitFact]:
        if not visit_ids:
            return []
        params = (community, since, until, list(GATE_PASSES), list(visit_ids))
        return [visit_fact(*row) for row in await self._fetch(_PASSES, params)]

    async def _fetch(self, sql: str, params: Sequence[object]) -> list[Any]:
        async with self._connection() as db:
            cursor = await db.execute(sql, params)
            return await cursor.fetchall()
