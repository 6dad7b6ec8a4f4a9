"""`ResidentFactStore` on SQLite: the shared queries (`residentfacts_query`) run on the store's
worker thread, in one read transaction each. Times go in and come out as integer microseconds,
days as ISO text."""

import sqlite3
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store.micros import from_micros, to_micros
from gateway.store.residentfacts_query import ColumnTypes, ResidentFactQueries
from gateway.store.residentfacts_sql import SQLITE

R = TypeVar("R")


def _param(value: object) -> object:
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _decoded(row: tuple[Any, ...], types: ColumnTypes) -> tuple[Any, ...]:
    out: list[Any] = []
    for value, kind in zip(row, types, strict=True):
        if value is None:
            out.append(None)
        elif kind == "t":
            out.append(from_micros(int(value)))
        elif kind == "d":
            out.append(date.fromisoformat(value))
        elif kind == "i":
            out.append(int(value))
        else:
            out.append(value)
    return tuple(out)


class SqliteResidentFacts(ResidentFactQueries):
    """The `ResidentFactStore` methods of `SqliteStore` (which supplies `_read_tx`)."""

    if TYPE_CHECKING:

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def _fact_rows(
        self, statement: str, params: Mapping[str, object], types: ColumnTypes
    ) -> list[tuple[Any, ...]]:
        text = SQLITE(statement)
        values = {name: _param(value) for name, value in params.items()}
        rows = await self._read_tx(lambda db: db.execute(text, values).fetchall())
        return [_decoded(row, types) for row in rows]
