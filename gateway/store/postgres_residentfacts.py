"""`ResidentFactStore` on PostgreSQL: the shared queries (`residentfacts_query`), one statement
on a pooled connection each."""

from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store.residentfacts_query import ColumnTypes, ResidentFactQueries
from gateway.store.residentfacts_sql import POSTGRES

Connection = psycopg.AsyncConnection[tuple[object, ...]]


def _decoded(row: tuple[Any, ...], types: ColumnTypes) -> tuple[Any, ...]:
    return tuple(
        value.astimezone(UTC) if kind == "t" and isinstance(value, datetime) else value
        for value, kind in zip(row, types, strict=True)
    )


class PostgresResidentFacts(ResidentFactQueries):
    """The `ResidentFactStore` methods of `PostgresStore` (which supplies `_connection`)."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def _fact_rows(
        self, statement: str, params: Mapping[str, object], types: ColumnTypes
    ) -> list[tuple[Any, ...]]:
        async with self._connection() as db:
            cursor = await db.execute(POSTGRES(statement).encode(), dict(params))
            return [_decoded(row, types) for row in await cursor.fetchall()]
