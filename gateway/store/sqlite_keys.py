"""`KeyStore` on SQLite."""

import json
import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from gateway.store.base import Page
from gateway.store.keys import KeyCursor, StoredKey
from gateway.store.keys_sql import key_page
from gateway.store.micros import from_micros, maybe_time, to_micros

R = TypeVar("R")

_COLUMNS = (
    "key_id, name, role, communities, pii, secret_hash, created_us, expires_us, revoked_us,"
    " last_used_us"
)


class SqliteKeys:
    """The `KeyStore` methods of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _write_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def create_key(self, key: StoredKey) -> None:
        values = (
            key.key_id,
            key.name,
            key.role,
            None if key.communities is None else json.dumps(list(key.communities)),
            int(key.pii),
            key.secret_hash,
            to_micros(key.created_at),
            None if key.expires_at is None else to_micros(key.expires_at),
            None if key.revoked_at is None else to_micros(key.revoked_at),
            None if key.last_used_at is None else to_micros(key.last_used_at),
        )
        await self._write_tx(
            lambda db: db.execute(f"INSERT INTO api_keys ({_COLUMNS}) VALUES ({_MARKS})", values)
        )

    async def get_key(self, key_id: str) -> StoredKey | None:
        row = await self._read_tx(
            lambda db: db.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        )
        return None if row is None else _key(row)

    async def list_keys(self, limit: int, cursor: str | None) -> Page[StoredKey]:
        after = KeyCursor.decode(cursor) if cursor else None
        where, params = "", list[object]()
        if after is not None:
            where = "WHERE created_us < ? OR (created_us = ? AND key_id < ?)"
            at = to_micros(after.created_at)
            params = [at, at, after.key_id]
        params.append(limit + 1)
        sql = (
            f"SELECT {_COLUMNS} FROM api_keys {where} ORDER BY created_us DESC, key_id DESC LIMIT ?"
        )
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        return key_page([_key(row) for row in rows], limit)

    async def revoke_key(self, key_id: str, now: datetime) -> StoredKey | None:
        def revoke(db: sqlite3.Connection) -> StoredKey | None:
            db.execute(
                "UPDATE api_keys SET revoked_us = coalesce(revoked_us, ?) WHERE key_id = ?",
                (to_micros(now), key_id),
            )
            row = db.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,))
            found = row.fetchone()
            return None if found is None else _key(found)

        return await self._write_tx(revoke)

    async def touch_key(self, key_id: str, now: datetime) -> None:
        at = to_micros(now)
        await self._write_tx(
            lambda db: db.execute(
                "UPDATE api_keys SET last_used_us = max(coalesce(last_used_us, ?), ?)"
                " WHERE key_id = ?",
                (at, at, key_id),
            )
        )


_MARKS = ", ".join("?" * len(_COLUMNS.split(",")))


def _key(row: tuple[object, ...]) -> StoredKey:
    key_id, name, role, communities, pii, secret_hash, created, expires, revoked, used = row
    assert isinstance(created, int)
    times = [value if isinstance(value, int) else None for value in (expires, revoked, used)]
    return StoredKey(
        key_id=str(key_id),
        name=str(name),
        role=str(role),
        communities=None if communities is None else tuple(json.loads(str(communities))),
        pii=bool(pii),
        secret_hash=str(secret_hash),
        created_at=from_micros(created),
        expires_at=maybe_time(times[0]),
        revoked_at=maybe_time(times[1]),
        last_used_at=maybe_time(times[2]),
    )
