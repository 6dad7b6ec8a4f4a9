"""`StreamStore` on SQLite."""

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store import tickets_sql as shared
from gateway.store.micros import to_micros
from gateway.store.sqlite_tickets import _ticket_row
from gateway.store.stream import TicketPosition
from gateway.store.stream_sql import TICKETS_CHANGED
from schemas.tickets import TicketPublic

R = TypeVar("R")

_CHANGED = shared.SQLITE(TICKETS_CHANGED)


class SqliteStream:
    """The `StreamStore` methods of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _write_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def put_stream_token(self, token_hash: str, key_id: str, expires_at: datetime) -> None:
        values = (token_hash, key_id, to_micros(expires_at))
        await self._write_tx(
            lambda db: db.execute(
                "INSERT INTO stream_tokens (token_hash, key_id, expires_us) VALUES (?, ?, ?)",
                values,
            )
        )

    async def redeem_stream_token(self, token_hash: str, now: datetime) -> str | None:
        at = to_micros(now)

        def redeem(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "DELETE FROM stream_tokens WHERE token_hash = ? AND expires_us > ?"
                " RETURNING key_id",
                (token_hash, at),
            ).fetchone()
            db.execute("DELETE FROM stream_tokens WHERE expires_us <= ?", (at,))
            return None if row is None else str(row[0])

        return await self._write_tx(redeem)

    async def tickets_changed_since(
        self, after: TicketPosition, limit: int, now: datetime
    ) -> list[TicketPublic]:
        values = {
            "after_at": to_micros(after.updated_at),
            "after_id": after.ticket_id,
            "limit": limit,
        }
        rows: list[Any] = await self._read_tx(lambda db: db.execute(_CHANGED, values).fetchall())
        return [shared.ticket_of(_ticket_row(row), now) for row in rows]
