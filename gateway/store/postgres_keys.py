"""`KeyStore` on PostgreSQL."""

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store.base import Page
from gateway.store.keys import KeyCursor, StoredKey
from gateway.store.keys_sql import key_page

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_COLUMNS = (
    "key_id, name, role, communities, pii, secret_hash, created_at, expires_at, revoked_at,"
    " last_used_at"
)
_INSERT = f"""
INSERT INTO api_keys ({_COLUMNS})
VALUES (%(key_id)s, %(name)s, %(role)s, %(communities)s, %(pii)s, %(secret_hash)s,
    %(created_at)s, %(expires_at)s, %(revoked_at)s, %(last_used_at)s)
""".encode()
_SELECT = f"SELECT {_COLUMNS} FROM api_keys"


class PostgresKeys:
    """The `KeyStore` methods of `PostgresStore`."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def create_key(self, key: StoredKey) -> None:
        values = {
            "key_id": key.key_id,
            "name": key.name,
            "role": key.role,
            "communities": None if key.communities is None else list(key.communities),
            "pii": key.pii,
            "secret_hash": key.secret_hash,
            "created_at": key.created_at,
            "expires_at": key.expires_at,
            "revoked_at": key.revoked_at,
            "last_used_at": key.last_used_at,
        }
        async with self._connection() as db:
            await db.execute(_INSERT, values)

    async def get_key(self, key_id: str) -> StoredKey | None:
        async with self._connection() as db:
            cursor = await db.execute(f"{_SELECT} WHERE key_id = %s".encode(), [key_id])
            row = await cursor.fetchone()
        return None if row is None else _key(row)

    async def list_keys(self, limit: int, cursor: str | None) -> Page[StoredKey]:
        after = KeyCursor.decode(cursor) if cursor else None
        where, params = "", list[object]()
        if after is not None:
            where = "WHERE (created_at, key_id) < (%s, %s)"
            params = [after.created_at, after.key_id]
        params.append(limit + 1)
        sql = f"{_SELECT} {where} ORDER BY created_at DESC, key_id DESC LIMIT %s"
        async with self._connection() as db:
            rows = await (await db.execute(sql.encode(), params)).fetchall()
        return key_page([_key(row) for row in rows], limit)

    async def revoke_key(self, key_id: str, now: datetime) -> StoredKey | None:
        sql = (
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, %s) WHERE key_id = %s"
            f" RETURNING {_COLUMNS}"
        )
        async with self._connection() as db:
            row = await (await db.execute(sql.encode(), [now, key_id])).fetchone()
        return None if row is None else _key(row)

    async def touch_key(self, key_id: str, now: datetime) -> None:
        async with self._connection() as db:
            await db.execute(
                b"UPDATE api_keys SET last_used_at = greatest(last_used_at, %(now)s)"
                b" WHERE key_id = %(key_id)s",
                {"now": now, "key_id": key_id},
            )


def _key(row: tuple[Any, ...]) -> StoredKey:
    key_id, name, role, communities, pii, secret_hash, created, expires, revoked, used = row
    return StoredKey(
        key_id=key_id,
        name=name,
        role=role,
        communities=None if communities is None else tuple(communities),
        pii=pii,
        secret_hash=secret_hash,
        created_at=created,
        expires_at=expires,
        revoked_at=revoked,
        last_used_at=used,
    )
