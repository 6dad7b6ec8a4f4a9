"""`EventFactStore` on SQLite: event-time windows on `occurred_us`, body fields by
`json_extract`."""

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store.eventfacts import (
    GATE_PASSES,
    DoorStateFact,
    VisitFact,
    door_state_fact,
    visit_fact,
)
from gateway.store.micros import from_micros, to_micros

R = TypeVar("R")
_CHUNK = 400  # visit ids per statement: well under SQLite's bound-variable limit
_PLACE = (
    "json_extract(body, '$.building'), json_extract(body, '$.unit'), json_extract(body, '$.gate')"
)
_DOOR_STATES = f"""
SELECT event_id, occurred_us, device_id, json_extract(body, '$.door'),
    json_extract(body, '$.state'), {_PLACE}
FROM events
WHERE kind = 'door_state' AND community = ? AND occurred_us >= ? AND occurred_us <= ?
ORDER BY occurred_us, event_id
"""
_VISITS = f"""
SELECT event_id, occurred_us, device_id, json_extract(body, '$.visit_id'),
    json_extract(body, '$.action'), json_extract(body, '$.valid_until'),
    json_extract(body, '$.host_house'), {_PLACE}
FROM events
WHERE kind = 'visitor' AND community = ? AND occurred_us >= ? AND occurred_us <= ?
"""


class SqliteEventFacts:
    """The `EventFactStore` methods of `SqliteStore` (which supplies `_run` and `_db`)."""

    if TYPE_CHECKING:

        async def _run(self, function: Callable[[], R]) -> R: ...

        @property
        def _db(self) -> sqlite3.Connection: ...

    async def door_states(
        self, community: str, since: datetime, until: datetime
    ) -> list[DoorStateFact]:
        params = (community, to_micros(since), to_micros(until))
        rows = await self._run(lambda: self._db.execute(_DOOR_STATES, params).fetchall())
        return [door_state_fact(row[0], from_micros(row[1]), *row[2:]) for row in rows]

    async def visit_registrations(
        self, community: str, since: datetime, until: datetime
    ) -> list[VisitFact]:
        sql = f"{_VISITS} AND json_extract(body, '$.action') = 'registered'"
        params = (community, to_micros(since), to_micros(until))
        rows = await self._run(lambda: self._db.execute(sql, params).fetchall())
        return [visit_fact(row[0], from_micros(row[1]), *row[2:]) for row in rows]

    async def visit_passes(
        self, community: str, visit_ids: Sequence[str], since: datetime, until: datetime
    ) -> list[VisitFact]:
        if not visit_ids:
            return []
        actions = ", ".join(f"'{action}'" for action in GATE_PASSES)
        window = [community, to_micros(since), to_micros(until)]

        def read() -> list[Any]:
            rows: list[Any] = []
            for start in range(0, len(visit_ids), _CHUNK):
                chunk = list(visit_ids[start : start + _CHUNK])
                marks = ", ".join("?" for _ in chunk)
                sql = (
                    f"{_VISITS} AND json_extract(body, '$.action') IN ({actions})"
                    f" AND json_extract(body, '$.visit_id') IN ({marks})"
                )
                rows.extend(self._db.execute(sql, [*window, *chunk]).fetchall())
            return rows

        facts = [visit_fact(row[0], from_micros(row[1]), *row[2:]) for row in await self._run(read)]
        return sorted(facts, key=lambda fact: (fact.at, fact.event_id))
