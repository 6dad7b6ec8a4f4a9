"""`EvidenceStore` on SQLite."""

import sqlite3
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from gateway.store.base import event_page_of_rows
from gateway.store.micros import from_micros
from schemas.events import DeviceEvent, device_event_adapter

R = TypeVar("R")


class SqliteEvidence:
    """The `EvidenceStore` method of `SqliteStore` (which supplies `_run` and `_db`)."""

    if TYPE_CHECKING:

        async def _run(self, function: Callable[[], R]) -> R: ...

        @property
        def _db(self) -> sqlite3.Connection: ...

    async def events_by_id(self, event_ids: Sequence[str]) -> list[DeviceEvent]:
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return []
        sql = (
            "SELECT occurred_us, event_id, body FROM events"
            f" WHERE event_id IN ({', '.join('?' * len(ids))}) ORDER BY occurred_us, event_id"
        )
        rows = await self._run(lambda: self._db.execute(sql, ids).fetchall())
        found = [(from_micros(at), event_id, body) for at, event_id, body in rows]
        return event_page_of_rows(found, len(found), device_event_adapter.validate_json).data
