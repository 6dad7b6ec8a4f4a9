"""`StreamStore` on PostgreSQL."""

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store import tickets_sql as shared
from gateway.store.stream import TicketPosition
from gateway.store.stream_sql import TICKETS_CHANGED
from schemas.tickets import TicketPublic

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_CHANGED = shared.POSTGRES(TICKETS_CHANGED).encode()
_PUT = b"""
INSERT INTO stream_tokens (token_hash, key_id, expires_at) VALUES (%s, %s, %s)
"""
_REDEEM = b"""
DELETE FROM stream_tokens WHERE token_hash = %s AND expires_at > %s RETURNING key_id
"""
_PURGE = b"DELETE FROM stream_tokens WHERE expires_at <= %s"


class PostgresStream:
    """The `StreamStore` methods of `PostgresStore`."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def put_stream_token(self, token_hash: str, key_id: str, expires_at: datetime) -> None:
        async with self._connection() as db:
            await db.execute(_PUT, (token_hash, key_id, expires_at))

    async def redeem_stream_token(self, token_hash: str, now: datetime) -> str | None:
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(_REDEEM, (token_hash, now))
            row = await cursor.fetchone()
            await db.execute(_PURGE, (now,))
        return None if row is None else str(row[0])

    async def tickets_changed_since(
        self, after: TicketPosition, limit: int, now: datetime
    ) -> list[TicketPublic]:
        values = {"after_at": after.updated_at, "after_id": after.ticket_id, "limit": limit}
        async with self._connection() as db:
            cursor = await db.execute(_CHANGED, values)
            rows = await cursor.fetchall()
        return [
            shared.ticket_of(dict(zip(shared.TICKET_KEYS, row, strict=True)), now) for row in rows
        ]
