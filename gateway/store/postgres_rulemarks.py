"""`RuleMarkStore` on PostgreSQL."""

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg

from gateway.store.postgres_tickets import record_drafts
from gateway.store.rulemarks import RuleMark
from gateway.store.tickets import TicketChanges, TicketDraft

Connection = psycopg.AsyncConnection[tuple[Any, ...]]

_UPSERT_MARK = b"""
INSERT INTO rule_marks (community, rule, evaluated_to, updated_at)
VALUES (%(community)s, %(rule)s, %(evaluated_to)s, %(now)s)
ON CONFLICT (community, rule) DO UPDATE SET
    evaluated_to = greatest(rule_marks.evaluated_to, excluded.evaluated_to),
    updated_at = excluded.updated_at
"""


class PostgresRuleMarks:
    """The `RuleMarkStore` methods of `PostgresStore`."""

    if TYPE_CHECKING:

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def rule_marks(self, community: str) -> dict[str, datetime]:
        async with self._connection() as db:
            cursor = await db.execute(
                b"SELECT rule, evaluated_to FROM rule_marks WHERE community = %s", [community]
            )
            rows = await cursor.fetchall()
        return {str(rule): at for rule, at in rows}

    async def record_evaluation(
        self, drafts: Sequence[TicketDraft], mark: RuleMark, now: datetime
    ) -> TicketChanges:
        values = {
            "community": mark.community,
            "rule": mark.rule,
            "evaluated_to": mark.evaluated_to,
            "now": now,
        }
        async with self._connection() as db, db.transaction():
            changes = await record_drafts(db, drafts, now) if drafts else TicketChanges()
            await db.execute(_UPSERT_MARK, values)
        return changes
