"""`EvidenceStore` on PostgreSQL: the primary key (event_id, occurred_at) finds each id."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store.base import event_page_of_rows
from schemas.events import DeviceEvent, device_event_adapter

Connection = psycopg.AsyncConnection[tuple[Any, ...]]


class PostgresEvidence:
    """The `EvidenceStore` method of `PostgresStore` (which supplies `_connection`)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def events_by_id(self, event_ids: Sequence[str]) -> list[DeviceEvent]:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return []
        async with self._connection() as db:
            cursor = await db.execute(
                b"SELECT occurred_at, event_id, body FROM events"
                b" WHERE event_id = ANY(%s) ORDER BY occurred_at, event_id",
                [ids],
            )
            rows = await cursor.fetchall()
        found: list[tuple[datetime, str, object]] = [
            (at, str(event_id), body) for at, event_id, body in rows
        ]
        return event_page_of_rows(found, len(found), device_event_adapter.validate_python).data
