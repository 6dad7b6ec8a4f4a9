"""`RuleMarkStore` on SQLite."""

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from gateway.store.micros import from_micros, to_micros
from gateway.store.rulemarks import RuleMark
from gateway.store.sqlite_tickets import record_drafts
from gateway.store.tickets import TicketChanges, TicketDraft

R = TypeVar("R")

_UPSERT_MARK = """
INSERT INTO rule_marks (community, rule, evaluated_to_us, updated_us) VALUES (?, ?, ?, ?)
ON CONFLICT (community, rule) DO UPDATE SET
    evaluated_to_us = max(rule_marks.evaluated_to_us, excluded.evaluated_to_us),
    updated_us = excluded.updated_us
"""


class SqliteRuleMarks:
    """The `RuleMarkStore` methods of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _write_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def rule_marks(self, community: str) -> dict[str, datetime]:
        rows = await self._read_tx(
            lambda db: db.execute(
                "SELECT rule, evaluated_to_us FROM rule_marks WHERE community = ?", (community,)
            ).fetchall()
        )
        return {rule: from_micros(at) for rule, at in rows}

    async def record_evaluation(
        self, drafts: Sequence[TicketDraft], mark: RuleMark, now: datetime
    ) -> TicketChanges:
        def record(db: sqlite3.Connection) -> TicketChanges:
            changes = record_drafts(db, drafts, now) if drafts else TicketChanges()
            values = (mark.community, mark.rule, to_micros(mark.evaluated_to), to_micros(now))
            db.execute(_UPSERT_MARK, values)
            return changes

        return await self._write_tx(record)
