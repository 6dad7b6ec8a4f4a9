"""`TicketStore` on PostgreSQL: a mixin of `PostgresStore`, and the advisory-lock leases.

Recording is set-based (one statement per table and call) and safe under concurrency: the
occurrences insert skips what another transaction already recorded, and the tickets upsert on
the partial unique index of open dedup keys (`ON CONFLICT (dedup_key) WHERE is_open DO
UPDATE`) merges evidence in SQL against the row as committed, so two processes recording the
same key at the same instant make one ticket with every occurrence counted.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from gateway.store import tickets_sql as shared
from gateway.store.base import Page
from gateway.store.tickets import OutboxRow, StatsGroup, TicketChanges, TicketDraft, TicketQuery
from schemas.events import DeviceEvent
from schemas.tickets import (
    MAX_EVIDENCE_IDS,
    OutboxRowPublic,
    OutboxState,
    TicketPublic,
    TicketStatsRow,
    TicketStatus,
    WatchlistEntry,
)

logger = logging.getLogger(__name__)
Connection = psycopg.AsyncConnection[tuple[Any, ...]]
_SQL = shared.POSTGRES

_INSERT_OCCURRENCES = """
INSERT INTO ticket_occurrences (dedup_key, occurrence_key, at)
SELECT k, o, %(now)s FROM unnest(%(keys)s::text[], %(occurrences)s::text[]) AS d(k, o)
ON CONFLICT DO NOTHING
RETURNING dedup_key, occurrence_key
"""


def _kept(column: str, limit: int) -> str:
    """The stored JSON array then the new one's elements not in it, the first `limit`."""
    return f"""(SELECT coalesce(jsonb_agg(e.v ORDER BY e.n), '[]'::jsonb) FROM (
        SELECT v, min(n) AS n
        FROM jsonb_array_elements(tickets.{column} || excluded.{column}) WITH ORDINALITY
            AS a(v, n)
        GROUP BY v ORDER BY min(n) LIMIT {limit}) AS e)"""


# Evidence merges as `tickets_sql.merged_ids` / `added_count` do for SQLite.
_UPSERT_TICKETS = f"""
INSERT INTO tickets (ticket_id, dedup_key, is_open, rule, category, category_code, severity,
    community, grid_code, location, responsible_units, title, description, summary_en,
    event_ids, evidence_count, first_at, last_at, image_urls, occurrences, detected_at,
    created_at, updated_at, sla_due_at, status, forward, outbox_seq)
SELECT d.ticket_id, d.dedup_key, true, d.rule, d.category, d.category ->> 'code', d.severity,
    d.community, d.grid_code, d.location, d.responsible_units, d.title, d.description,
    d.summary_en, d.event_ids, d.evidence_count, d.first_at, d.last_at, d.image_urls,
    d.occurrences, d.detected_at, %(now)s, %(now)s, d.sla_due_at, 'detected', d.forward,
    CASE WHEN d.forward THEN 1 ELSE 0 END
FROM jsonb_to_recordset(%(rows)s) AS d(ticket_id text, dedup_key text, rule text,
    category jsonb, severity text, community text, grid_code text, location jsonb,
    responsible_units jsonb, title text, description text, summary_en text, event_ids jsonb,
    evidence_count integer, first_at timestamptz, last_at timestamptz, image_urls jsonb,
    occurrences integer, detected_at timestamptz, sla_due_at timestamptz, forward boolean)
ORDER BY d.dedup_key
ON CONFLICT (dedup_key) WHERE is_open DO UPDATE SET
    occurrences = tickets.occurrences + excluded.occurrences,
    event_ids = {_kept("event_ids", MAX_EVIDENCE_IDS)},
    evidence_count = tickets.evidence_count + excluded.evidence_count - (
        SELECT count(*) FROM jsonb_array_elements(excluded.event_ids) AS x(v)
        WHERE tickets.event_ids @> jsonb_build_array(x.v))::integer,
    image_urls = {_kept("image_urls", shared.MAX_IMAGE_URLS)},
    first_at = least(tickets.first_at, excluded.first_at),
    last_at = greatest(tickets.last_at, excluded.last_at),
    updated_at = excluded.updated_at
RETURNING ticket_id, dedup_key, forward
"""
_LINK_OCCURRENCES = """
UPDATE ticket_occurrences o SET ticket_id = m.ticket_id
FROM unnest(%(keys)s::text[], %(ids)s::text[]) AS m(dedup_key, ticket_id)
WHERE o.dedup_key = m.dedup_key AND o.occurrence_key = ANY(%(occurrences)s::text[])
    AND o.ticket_id IS NULL
"""
_CREATED = """
WITH created AS (
    INSERT INTO ticket_history (ticket_id, at, from_status, to_status, actor)
    SELECT id, %(now)s, NULL, 'detected', %(actor)s FROM unnest(%(ids)s::text[]) AS t(id)
)
INSERT INTO outbox (ticket_id, seq, kind, state, attempts, next_attempt_at, created_at)
SELECT id, 1, 'create', 'pending', 0, %(now)s, %(now)s FROM unnest(%(forwarded)s::text[]) AS t(id)
"""
# A ticket's evidence row that no attempt has started on absorbs later evidence (the
# forwarder sends the evidence as it is at send time; `tickets_sql.UNSTARTED_EVIDENCE`). Two
# transactions adding to one ticket at once may each queue a row (the second's NOT EXISTS
# reads its own snapshot): a repeated evidence update, harmless.
_QUEUE_EVIDENCE = f"""
WITH queued AS (
    UPDATE tickets SET outbox_seq = tickets.outbox_seq + 1
    WHERE tickets.ticket_id = ANY(%(ids)s::text[]) AND tickets.forward AND NOT EXISTS (
        SELECT 1 FROM outbox o WHERE {shared.UNSTARTED_EVIDENCE})
    RETURNING tickets.ticket_id, tickets.outbox_seq
)
INSERT INTO outbox (ticket_id, seq, kind, state, attempts, next_attempt_at, created_at)
SELECT ticket_id, outbox_seq, 'evidence', 'pending', 0, %(now)s, %(now)s FROM queued
"""
_UPSERT_WATERMARKS = """
INSERT INTO rule_watermarks (community, newest_at, updated_at)
SELECT c, n, %(now)s FROM unnest(%(communities)s::text[], %(newest)s::timestamptz[]) AS w(c, n)
ORDER BY c
ON CONFLICT (community) DO UPDATE SET newest_at = excluded.newest_at,
    updated_at = excluded.updated_at
WHERE excluded.newest_at > rule_watermarks.newest_at
"""
_UNIT_TYPE = (
    "responsible_units @> jsonb_build_array(jsonb_build_object('type', CAST(:unit_type AS text)))"
)


async def record_drafts(
    db: Connection, drafts: Sequence[TicketDraft], now: datetime
) -> TicketChanges:
    """Record drafts inside the caller's transaction (`record_tickets` and `write_batch` share
    it): a fresh occurrence opens a ticket or adds to the open one."""
    unique = sorted(shared.fresh_drafts(drafts), key=lambda d: (d.dedup_key, d.occurrence_key))
    if not unique:
        return TicketChanges()
    cursor = await db.execute(
        _INSERT_OCCURRENCES,
        {
            "now": now,
            "keys": [d.dedup_key for d in unique],
            "occurrences": [d.occurrence_key for d in unique],
        },
    )
    recorded = {(str(k), str(o)) for k, o in await cursor.fetchall()}
    fresh = [d for d in unique if (d.dedup_key, d.occurrence_key) in recorded]
    if not fresh:
        return TicketChanges(repeated=len(drafts))
    merged = shared.merge_drafts(fresh)
    rows = [_draft_row(m, shared.new_ticket_id(), now) for m in merged]
    new_ids = {str(row["ticket_id"]) for row in rows}
    cursor = await db.execute(_UPSERT_TICKETS, {"now": now, "rows": Jsonb(rows)})
    written = [(str(i), str(k), bool(f)) for i, k, f in await cursor.fetchall()]
    await db.execute(
        _LINK_OCCURRENCES,
        {
            "keys": [k for _, k, _ in written],
            "ids": [i for i, _, _ in written],
            "occurrences": [d.occurrence_key for d in fresh],
        },
    )
    opened = [(i, f) for i, _, f in written if i in new_ids]
    updated = [i for i, _, f in written if i not in new_ids and f]
    if opened:
        await db.execute(
            _CREATED,
            {
                "now": now,
                "actor": shared.CREATED_ACTOR,
                "ids": [i for i, _ in opened],
                "forwarded": [i for i, f in opened if f],
            },
        )
    if updated:
        await db.execute(_QUEUE_EVIDENCE, {"now": now, "ids": updated})
    rule_of = {m.draft.dedup_key: m.draft.rule for m in merged}
    return TicketChanges(
        opened=len(opened),
        updated=len(written) - len(opened),
        repeated=len(drafts) - len(fresh),
        opened_rules=tuple(rule_of[k] for i, k, _ in written if i in new_ids),
    )


async def record_watermarks(db: Connection, events: Sequence[DeviceEvent], now: datetime) -> None:
    """Move each community's watermark to the batch's newest (capped) event time, if later."""
    newest = shared.batch_watermarks(events)
    if newest:
        await db.execute(
            _UPSERT_WATERMARKS,
            {"now": now, "communities": list(newest), "newest": list(newest.values())},
        )


def _draft_row(merged: shared.MergedDraft, ticket_id: str, now: datetime) -> dict[str, object]:
    draft = merged.draft
    return {
        "ticket_id": ticket_id,
        "dedup_key": draft.dedup_key,
        "rule": draft.rule,
        "category": draft.category.model_dump(mode="json"),
        "severity": draft.severity,
        "community": draft.community,
        "grid_code": draft.grid_code,
        "location": draft.location.model_dump(mode="json"),
        "responsible_units": [unit.model_dump(mode="json") for unit in draft.responsible_units],
        "title": draft.title,
        "description": draft.description,
        "summary_en": draft.summary_en,
        "event_ids": list(merged.event_ids),
        "evidence_count": merged.evidence_count,
        "first_at": merged.first_at.isoformat(),
        "last_at": merged.last_at.isoformat(),
        "image_urls": list(merged.image_urls),
        "occurrences": merged.occurrences,
        "detected_at": merged.detected_at.isoformat(),
        "sla_due_at": shared.sla_due(now, draft).isoformat(),
        "forward": draft.forward,
    }


async def _history(
    db: Connection,
    ticket_id: str,
    now: datetime,
    from_status: str | None,
    to_status: str,
    actor: str,
    comment: str | None,
) -> None:
    await db.execute(
        _SQL(shared.INSERT_HISTORY),
        {
            "ticket_id": ticket_id,
            "now": now,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "comment": comment,
        },
    )


async def _rows(db: Connection, sql: str, values: dict[str, object]) -> list[tuple[Any, ...]]:
    cursor = await db.execute(sql.encode(), values)
    return await cursor.fetchall()


class AdvisoryLeases:
    """Session advisory locks on a connection of their own (never the pool's: a pooled
    connection is shared and reset, and a lock must live exactly as long as its session).

    A lock is lost when the connection breaks (the server restarted, or the network): each
    call checks the connection, and after a break reconnects and tries again, so the answer is
    the truth at the time of the call. Another process takes the lead at its next try after
    this one's connection closes."""

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._connection: psycopg.AsyncConnection[tuple[Any, ...]] | None = None
        self._held: set[str] = set()
        self._lock = asyncio.Lock()

    async def hold(self, name: str) -> bool:
        async with self._lock:
            for attempt in (1, 2):
                try:
                    return await self._try(name)
                except psycopg.Error as exc:
                    await self._drop()
                    if attempt == 2:
                        logger.warning("lease %s not held: %s", name, type(exc).__name__)
            return False

    async def _try(self, name: str) -> bool:
        if self._connection is None or self._connection.closed:
            self._held.clear()
            self._connection = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True
            )
        if name in self._held:
            await self._connection.execute("SELECT 1")  # still alive, so still held
            return True
        cursor = await self._connection.execute(
            "SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", (name,)
        )
        row = await cursor.fetchone()
        if row is not None and row[0]:
            self._held.add(name)
            return True
        return False

    async def _drop(self) -> None:
        self._held.clear()
        if self._connection is not None:
            await self._connection.close()
            self._connection = None

    async def close(self) -> None:
        """Release every lease now: the server frees a closed session's locks only once its
        backend has exited, a moment later, so they are unlocked first."""
        async with self._lock:
            if self._connection is not None and not self._connection.closed:
                with contextlib.suppress(psycopg.Error):
                    await self._connection.execute("SELECT pg_advisory_unlock_all()")
            await self._drop()


class PostgresTickets:
    """The ticket methods of `PostgresStore`."""

    if TYPE_CHECKING:
        _leases: AdvisoryLeases

        def _connection(self) -> AbstractAsyncContextManager[Connection]: ...

    async def hold_lease(self, name: str) -> bool:
        return await self._leases.hold(name)

    async def record_tickets(self, drafts: Sequence[TicketDraft], now: datetime) -> TicketChanges:
        if not drafts:
            return TicketChanges()
        async with self._connection() as db, db.transaction():
            return await record_drafts(db, drafts, now)

    async def watermarks(self) -> dict[str, datetime]:
        async with self._connection() as db:
            rows = await _rows(db, "SELECT community, newest_at FROM rule_watermarks", {})
        return {str(community): newest for community, newest in rows}

    async def get_ticket(
        self,
        ticket_id: str,
        now: datetime,
        *,
        communities: frozenset[str] | None = None,
        property_view: bool = False,
    ) -> TicketPublic | None:
        sql, values = shared.ticket_sql(communities, property_view, _UNIT_TYPE)
        async with self._connection() as db, db.transaction():
            found = await _rows(db, _SQL(sql), {**values, "id": ticket_id})
            if not found:
                return None
            history = await _rows(
                db,
                _SQL(
                    f"SELECT {shared.HISTORY_COLUMNS} FROM ticket_history"
                    " WHERE ticket_id = :id ORDER BY id"
                ),
                {"id": ticket_id},
            )
        steps = [shared.transition_of(row) for row in history]
        return shared.ticket_of(dict(zip(shared.TICKET_KEYS, found[0], strict=True)), now, steps)

    async def list_tickets(self, query: TicketQuery, now: datetime) -> Page[TicketPublic]:
        sql, values = shared.list_tickets_sql(query, now, _UNIT_TYPE)
        async with self._connection() as db:
            rows = await _rows(db, _SQL(sql), values)
        tickets = [
            shared.ticket_of(dict(zip(shared.TICKET_KEYS, row, strict=True)), now) for row in rows
        ]
        return shared.ticket_page(tickets, query.limit)

    async def transition_ticket(
        self,
        ticket_id: str,
        from_status: TicketStatus,
        to_status: TicketStatus,
        actor: str,
        comment: str | None,
        now: datetime,
        via: TicketStatus | None = None,
    ) -> bool:
        values = shared.transition_values(ticket_id, from_status, to_status, now)
        async with self._connection() as db, db.transaction():
            moved = await _rows(db, _SQL(shared.TRANSITION), values)
            if not moved:
                return False
            step_from = from_status
            if via is not None:
                await _history(db, ticket_id, now, from_status, via, shared.PLATFORM_ACTOR, None)
                step_from = via
            await _history(db, ticket_id, now, step_from, to_status, actor, comment)
            if to_status == "cancelled" and moved[0][0]:
                await _queue(db, ticket_id, "cancelled", now)
        return True

    async def due_outbox(self, now: datetime, limit: int) -> list[OutboxRow]:
        async with self._connection() as db:
            rows = await _rows(db, _SQL(shared.DUE_OUTBOX), {"now": now, "limit": limit})
        return [OutboxRow(*row) for row in rows]

    async def outbox_delivered(
        self,
        row: OutboxRow,
        now: datetime,
        platform_ticket_id: str | None,
        sent_occurrences: int | None = None,
    ) -> None:
        key = {"ticket_id": row.ticket_id, "seq": row.seq}
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(_SQL(shared.OUTBOX_DELIVERED).encode(), {**key, "now": now})
            if cursor.rowcount <= 0:
                return
            await _queue_newer(db, row, sent_occurrences, now)
            if row.kind != "create":
                return
            if platform_ticket_id is not None:
                await db.execute(
                    _SQL(shared.SET_PLATFORM_ID).encode(),
                    {"ticket_id": row.ticket_id, "platform_ticket_id": platform_ticket_id},
                )
            cursor = await db.execute(
                _SQL(shared.MARK_REPORTED).encode(), {"ticket_id": row.ticket_id, "now": now}
            )
            if cursor.rowcount > 0:
                await _history(
                    db, row.ticket_id, now, "detected", "reported", shared.PLATFORM_ACTOR, None
                )

    async def outbox_failed(
        self,
        row: OutboxRow,
        now: datetime,
        error: str,
        next_attempt_at: datetime | None,
        sent_occurrences: int | None = None,
    ) -> None:
        values = {
            "ticket_id": row.ticket_id,
            "seq": row.seq,
            "error": shared.short_error(error),
            "next_attempt": next_attempt_at,
            "dead": next_attempt_at is None,
        }
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(_SQL(shared.OUTBOX_FAILED).encode(), values)
            if cursor.rowcount > 0:
                await _queue_newer(db, row, sent_occurrences, now)

    async def list_outbox(
        self,
        state: OutboxState | None,
        limit: int,
        cursor: str | None,
        *,
        communities: frozenset[str] | None = None,
    ) -> Page[OutboxRowPublic]:
        where, values = shared.outbox_filter_sql(state, cursor, communities)
        sql = _SQL(
            f"SELECT {shared.OUTBOX_COLUMNS} FROM outbox WHERE {where}"
            " ORDER BY {created} DESC, ticket_id DESC, seq DESC LIMIT :limit"
        )
        async with self._connection() as db:
            rows = await _rows(db, sql, {**values, "limit": limit + 1})
        return shared.outbox_page([shared.outbox_row_of(row) for row in rows], limit)

    async def retry_outbox(self, ticket_id: str, now: datetime) -> int:
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(
                _SQL(shared.OUTBOX_RETRY).encode(), {"ticket_id": ticket_id, "now": now}
            )
            return max(cursor.rowcount, 0)

    async def outbox_counts(self) -> dict[OutboxState, int]:
        async with self._connection() as db:
            rows = await _rows(db, "SELECT state, count(*) FROM outbox GROUP BY state", {})
        return shared.outbox_counts_of(rows)

    async def put_watchlist(self, entries: Sequence[WatchlistEntry], now: datetime) -> int:
        rows = [{**entry.model_dump(), "now": now} for entry in entries]
        if rows:
            async with self._connection() as db, db.transaction():
                await db.cursor().executemany(_SQL(shared.UPSERT_WATCHLIST).encode(), rows)
        return len(rows)

    async def list_watchlist(self) -> list[WatchlistEntry]:
        async with self._connection() as db:
            rows = await _rows(
                db,
                "SELECT plate_no, plate_color, reason, until FROM watchlist_vehicles"
                " ORDER BY plate_no",
                {},
            )
        return [WatchlistEntry(plate_no=p, plate_color=c, reason=r, until=u) for p, c, r, u in rows]

    async def delete_watchlist(self, plate_no: str) -> bool:
        async with self._connection() as db, db.transaction():
            cursor = await db.execute(
                b"DELETE FROM watchlist_vehicles WHERE plate_no = %s", (plate_no,)
            )
            return cursor.rowcount > 0

    async def ticket_stats(
        self,
        group_by: StatsGroup,
        since: datetime | None,
        until: datetime | None,
        monthly: bool,
        now: datetime,
        *,
        communities: frozenset[str] | None = None,
        property_view: bool = False,
    ) -> list[TicketStatsRow]:
        """Months are China Standard Time calendar months (`time_bucket` told the zone,
        whatever the session's)."""
        where, values = shared.stats_filter_sql(
            since,
            until,
            communities=communities,
            property_view=property_view,
            unit_type_test=_UNIT_TYPE,
        )
        bucket = (
            f"time_bucket('1 month', created_at, '{shared.MONTH_ZONE}')"
            if monthly
            else "NULL::timestamptz"
        )
        sql = _SQL(
            "SELECT grid_code, category_code, community, responsible_units, created_at,"
            f" accepted_at, closed_at, status, sla_due_at, {bucket} FROM tickets WHERE {where}"
        )
        async with self._connection() as db:
            rows = await _rows(db, sql, values)
        return shared.ticket_stats_rows((_stats_input(group_by, row) for row in rows), now)


async def _queue(db: Connection, ticket_id: str, kind: str, now: datetime) -> None:
    """The ticket's next outbox row."""
    (seq,) = (await _rows(db, _SQL(shared.NEXT_OUTBOX_SEQ), {"ticket_id": ticket_id}))[0]
    await db.execute(
        _SQL(shared.INSERT_OUTBOX).encode(),
        {"ticket_id": ticket_id, "seq": seq, "kind": kind, "now": now},
    )


async def _queue_newer(db: Connection, row: OutboxRow, sent: int | None, now: datetime) -> None:
    """A fresh evidence row when the ticket gained evidence after the attempt's message was
    built (`shared.QUEUE_NEWER_EVIDENCE`)."""
    if sent is None or row.kind == "cancelled":
        return
    queued = await _rows(
        db,
        _SQL(shared.QUEUE_NEWER_EVIDENCE),
        {"ticket_id": row.ticket_id, "sent": sent, "seq": row.seq},
    )
    if queued:
        await db.execute(
            _SQL(shared.INSERT_OUTBOX).encode(),
            {"ticket_id": row.ticket_id, "seq": queued[0][0], "kind": "evidence", "now": now},
        )


def _stats_input(group_by: StatsGroup, row: Sequence[Any]) -> shared.StatsInput:
    grid, category, community, units, created, accepted, closed, status, sla_due, month = row
    groups = {
        "grid_code": grid,
        "category_code": category,
        "community": community,
        "responsible_units": units,
    }
    return shared.StatsInput(
        groups=shared.stats_groups(group_by, groups),
        bucket=month,
        created_at=created,
        accepted_at=accepted,
        closed_at=closed,
        status=status,
        sla_due_at=sla_due,
    )
