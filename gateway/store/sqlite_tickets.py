"""`TicketStore` on SQLite: a mixin of `SqliteStore`, run on its worker thread.

SQLite has one writer at a time (`BEGIN IMMEDIATE`), so recording reads an open ticket's
evidence, merges it in Python and writes it back within one write transaction; the partial
unique index on open dedup keys still guards the row, as on PostgreSQL. Times are integer
microseconds (UTC), booleans 0/1, JSON as text.
"""

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from gateway.store import tickets_sql as shared
from gateway.store.base import Page
from gateway.store.micros import from_micros, maybe_time, to_micros
from gateway.store.tickets import (
    OutboxRow,
    StatsGroup,
    TicketChanges,
    TicketDraft,
    TicketQuery,
)
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

R = TypeVar("R")
_SQL = shared.SQLITE

_INSERT_OCCURRENCE = (
    "INSERT INTO ticket_occurrences (dedup_key, occurrence_key, at_us) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_OPEN_EVIDENCE = (
    "SELECT event_ids, evidence_count, image_urls FROM tickets WHERE dedup_key = ? AND is_open"
)
# The dedup guarantee is the partial unique index; the stored evidence was merged in Python.
_UPSERT_TICKET = """
INSERT INTO tickets (ticket_id, dedup_key, is_open, rule, category, category_code, severity,
    community, grid_code, location, responsible_units, title, description, summary_en,
    event_ids, evidence_count, first_us, last_us, image_urls, occurrences, detected_us,
    created_us, updated_us, sla_due_us, status, forward, outbox_seq)
VALUES (:ticket_id, :dedup_key, 1, :rule, :category, :category_code, :severity, :community,
    :grid_code, :location, :responsible_units, :title, :description, :summary_en, :event_ids,
    :evidence_count, :first, :last, :image_urls, :occurrences, :detected, :now, :now, :sla_due,
    'detected', :forward, :forward)
ON CONFLICT (dedup_key) WHERE is_open DO UPDATE SET
    occurrences = tickets.occurrences + excluded.occurrences,
    event_ids = :merged_ids, evidence_count = :merged_count, image_urls = :merged_urls,
    first_us = min(tickets.first_us, excluded.first_us),
    last_us = max(tickets.last_us, excluded.last_us),
    updated_us = excluded.updated_us
RETURNING ticket_id, forward
"""
_UNSTARTED_EVIDENCE = (
    "SELECT 1 FROM tickets WHERE ticket_id = ?"
    f" AND EXISTS (SELECT 1 FROM outbox o WHERE {shared.UNSTARTED_EVIDENCE})"
)
_UPSERT_WATERMARK = """
INSERT INTO rule_watermarks (community, newest_us, updated_us) VALUES (?, ?, ?)
ON CONFLICT (community) DO UPDATE SET newest_us = excluded.newest_us,
    updated_us = excluded.updated_us
WHERE excluded.newest_us > rule_watermarks.newest_us
"""
_UNIT_TYPE = (
    "EXISTS (SELECT 1 FROM json_each(responsible_units)"
    " WHERE json_extract(value, '$.type') = :unit_type)"
)
_MONTH = (
    f"(CAST(strftime('%s', created_us / 1000000 + {shared.CST_OFFSET_S}, 'unixepoch',"
    f" 'start of month') AS INTEGER) - {shared.CST_OFFSET_S}) * 1000000"
)
"""The start of the China Standard Time month of `created_us` (shifted +8 h, no DST)."""


def record_drafts(
    db: sqlite3.Connection, drafts: Sequence[TicketDraft], now: datetime
) -> TicketChanges:
    """Record drafts inside the caller's write transaction (`record_tickets` and `write_batch`
    share it): a fresh occurrence opens a ticket or adds to the open one."""
    at = to_micros(now)
    fresh = [
        draft
        for draft in shared.fresh_drafts(drafts)
        if db.execute(_INSERT_OCCURRENCE, (draft.dedup_key, draft.occurrence_key, at)).rowcount
    ]
    opened: list[str] = []
    updated = 0
    for merged in shared.merge_drafts(fresh):
        draft = merged.draft
        new_id = shared.new_ticket_id()
        stored = _one(db, _OPEN_EVIDENCE, (draft.dedup_key,))
        ids: list[str] = json.loads(stored[0]) if stored else []
        urls: list[str] = json.loads(stored[2]) if stored else []
        ticket_id, forward = _one(
            db,
            _UPSERT_TICKET,
            {
                **_draft_row(merged, new_id, now),
                "merged_ids": json.dumps(
                    shared.merged_ids(ids, merged.event_ids, MAX_EVIDENCE_IDS)
                ),
                "merged_count": (
                    shared.added_count(ids, stored[1], merged) if stored else merged.evidence_count
                ),
                "merged_urls": json.dumps(
                    shared.merged_ids(urls, merged.image_urls, shared.MAX_IMAGE_URLS)
                ),
            },
        )
        db.execute(
            "UPDATE ticket_occurrences SET ticket_id = ? WHERE dedup_key = ? AND ticket_id IS NULL",
            (ticket_id, draft.dedup_key),
        )
        if ticket_id == new_id:
            opened.append(draft.rule)
            _history(db, ticket_id, at, None, "detected", shared.CREATED_ACTOR, None)
            if forward:
                _outbox(db, ticket_id, 1, "create", at)
            continue
        updated += 1
        if forward and not _one(db, _UNSTARTED_EVIDENCE, (ticket_id,)):
            _queue(db, ticket_id, "evidence", at)
    return TicketChanges(
        opened=len(opened),
        updated=updated,
        repeated=len(drafts) - len(fresh),
        opened_rules=tuple(opened),
    )


def record_watermarks(db: sqlite3.Connection, events: Sequence[DeviceEvent], now: datetime) -> None:
    """Move each community's watermark to the batch's newest (capped) event time, if later."""
    at = to_micros(now)
    db.executemany(
        _UPSERT_WATERMARK,
        [(c, to_micros(newest), at) for c, newest in shared.batch_watermarks(events).items()],
    )


def _one(db: sqlite3.Connection, sql: str, params: Any) -> Any:
    """The first row, or None; read to the end, so no statement stays in progress (a
    transaction cannot commit while one does)."""
    rows = db.execute(sql, params).fetchall()
    return rows[0] if rows else None


def _draft_row(merged: shared.MergedDraft, ticket_id: str, now: datetime) -> dict[str, object]:
    draft = merged.draft
    return {
        "ticket_id": ticket_id,
        "dedup_key": draft.dedup_key,
        "rule": draft.rule,
        "category": draft.category.model_dump_json(),
        "category_code": draft.category.code,
        "severity": draft.severity,
        "community": draft.community,
        "grid_code": draft.grid_code,
        "location": draft.location.model_dump_json(),
        "responsible_units": json.dumps(
            [unit.model_dump(mode="json") for unit in draft.responsible_units], ensure_ascii=False
        ),
        "title": draft.title,
        "description": draft.description,
        "summary_en": draft.summary_en,
        "event_ids": json.dumps(merged.event_ids),
        "evidence_count": merged.evidence_count,
        "first": to_micros(merged.first_at),
        "last": to_micros(merged.last_at),
        "image_urls": json.dumps(merged.image_urls),
        "occurrences": merged.occurrences,
        "detected": to_micros(merged.detected_at),
        "now": to_micros(now),
        "sla_due": to_micros(shared.sla_due(now, draft)),
        "forward": int(draft.forward),
    }


def _history(
    db: sqlite3.Connection,
    ticket_id: str,
    at: int,
    from_status: str | None,
    to_status: str,
    actor: str,
    comment: str | None,
) -> None:
    db.execute(
        _SQL(shared.INSERT_HISTORY),
        {
            "ticket_id": ticket_id,
            "now": at,
            "from_status": from_status,
            "to_status": to_status,
            "actor": actor,
            "comment": comment,
        },
    )


def _outbox(db: sqlite3.Connection, ticket_id: str, seq: int, kind: str, at: int) -> None:
    db.execute(
        _SQL(shared.INSERT_OUTBOX), {"ticket_id": ticket_id, "seq": seq, "kind": kind, "now": at}
    )


def _queue(db: sqlite3.Connection, ticket_id: str, kind: str, at: int) -> None:
    """The ticket's next outbox row."""
    (seq,) = _one(db, _SQL(shared.NEXT_OUTBOX_SEQ), {"ticket_id": ticket_id})
    _outbox(db, ticket_id, seq, kind, at)


def _queue_newer(db: sqlite3.Connection, row: OutboxRow, sent: int | None, at: int) -> None:
    """A fresh evidence row when the ticket gained evidence after the attempt's message was
    built (`shared.QUEUE_NEWER_EVIDENCE`)."""
    if sent is None or row.kind == "cancelled":
        return
    queued = _one(
        db,
        _SQL(shared.QUEUE_NEWER_EVIDENCE),
        {"ticket_id": row.ticket_id, "sent": sent, "seq": row.seq},
    )
    if queued is not None:
        _outbox(db, row.ticket_id, queued[0], "evidence", at)


def _lite(value: object) -> object:
    if isinstance(value, datetime):
        return to_micros(value)
    if isinstance(value, bool):
        return int(value)
    return value


def _ticket_row(row: Sequence[Any]) -> dict[str, Any]:
    fields = dict(zip(shared.TICKET_KEYS, row, strict=True))
    for key in shared.JSON_KEYS:
        fields[key] = json.loads(fields[key])
    for key in shared.TICKET_KEYS:
        if key.endswith("_at"):
            fields[key] = maybe_time(fields[key])
    return fields


def _outbox_public(row: Sequence[Any]) -> OutboxRowPublic:
    *head, next_attempt, error, created, delivered = row
    return shared.outbox_row_of(
        (*head, maybe_time(next_attempt), error, from_micros(created), maybe_time(delivered))
    )


class SqliteTickets:
    """The ticket methods of `SqliteStore`."""

    if TYPE_CHECKING:

        async def _write_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _read_tx(self, work: Callable[[sqlite3.Connection], R]) -> R: ...

    async def hold_lease(self, name: str) -> bool:
        """One process owns a SQLite file: it always leads."""
        return True

    async def record_tickets(self, drafts: Sequence[TicketDraft], now: datetime) -> TicketChanges:
        if not drafts:
            return TicketChanges()
        return await self._write_tx(lambda db: record_drafts(db, drafts, now))

    async def watermarks(self) -> dict[str, datetime]:
        rows = await self._read_tx(
            lambda db: db.execute("SELECT community, newest_us FROM rule_watermarks").fetchall()
        )
        return {community: from_micros(newest) for community, newest in rows}

    async def get_ticket(
        self,
        ticket_id: str,
        now: datetime,
        *,
        communities: frozenset[str] | None = None,
        property_view: bool = False,
    ) -> TicketPublic | None:
        sql, values = shared.ticket_sql(communities, property_view, _UNIT_TYPE)
        params = {**values, "id": ticket_id}

        def read(db: sqlite3.Connection) -> tuple[Any, list[Any]]:
            row = _one(db, _SQL(sql), params)
            if row is None:
                return None, []
            history = db.execute(
                _SQL(
                    f"SELECT {shared.HISTORY_COLUMNS} FROM ticket_history"
                    " WHERE ticket_id = :id ORDER BY id"
                ),
                {"id": ticket_id},
            ).fetchall()
            return row, history

        row, history = await self._read_tx(read)
        if row is None:
            return None
        steps = [shared.transition_of((from_micros(h[0]), *h[1:])) for h in history]
        return shared.ticket_of(_ticket_row(row), now, steps)

    async def list_tickets(self, query: TicketQuery, now: datetime) -> Page[TicketPublic]:
        sql, values = shared.list_tickets_sql(query, now, _UNIT_TYPE)
        params = {k: _lite(v) for k, v in values.items()}
        sql = _SQL(sql)
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        tickets = [shared.ticket_of(_ticket_row(row), now) for row in rows]
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
        values = {
            k: _lite(v)
            for k, v in shared.transition_values(ticket_id, from_status, to_status, now).items()
        }

        def move(db: sqlite3.Connection) -> bool:
            moved = _one(db, _SQL(shared.TRANSITION), values)
            if moved is None:
                return False
            at = to_micros(now)
            step_from = from_status
            if via is not None:
                _history(db, ticket_id, at, from_status, via, shared.PLATFORM_ACTOR, None)
                step_from = via
            _history(db, ticket_id, at, step_from, to_status, actor, comment)
            if to_status == "cancelled" and moved[0]:
                _queue(db, ticket_id, "cancelled", at)
            return True

        return await self._write_tx(move)

    async def due_outbox(self, now: datetime, limit: int) -> list[OutboxRow]:
        sql = _SQL(shared.DUE_OUTBOX)
        params = {"now": to_micros(now), "limit": limit}
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        return [OutboxRow(*row) for row in rows]

    async def outbox_delivered(
        self,
        row: OutboxRow,
        now: datetime,
        platform_ticket_id: str | None,
        sent_occurrences: int | None = None,
    ) -> None:
        at = to_micros(now)
        key = {"ticket_id": row.ticket_id, "seq": row.seq}

        def deliver(db: sqlite3.Connection) -> None:
            if not db.execute(_SQL(shared.OUTBOX_DELIVERED), {**key, "now": at}).rowcount:
                return
            _queue_newer(db, row, sent_occurrences, at)
            if row.kind != "create":
                return
            if platform_ticket_id is not None:
                db.execute(
                    _SQL(shared.SET_PLATFORM_ID),
                    {"ticket_id": row.ticket_id, "platform_ticket_id": platform_ticket_id},
                )
            if db.execute(
                _SQL(shared.MARK_REPORTED), {"ticket_id": row.ticket_id, "now": at}
            ).rowcount:
                _history(db, row.ticket_id, at, "detected", "reported", shared.PLATFORM_ACTOR, None)

        await self._write_tx(deliver)

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
            "next_attempt": None if next_attempt_at is None else to_micros(next_attempt_at),
            "dead": int(next_attempt_at is None),
        }

        def fail(db: sqlite3.Connection) -> None:
            if db.execute(_SQL(shared.OUTBOX_FAILED), values).rowcount:
                _queue_newer(db, row, sent_occurrences, to_micros(now))

        await self._write_tx(fail)

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
        params = {k: _lite(v) for k, v in {**values, "limit": limit + 1}.items()}
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        return shared.outbox_page([_outbox_public(row) for row in rows], limit)

    async def retry_outbox(self, ticket_id: str, now: datetime) -> int:
        values = {"ticket_id": ticket_id, "now": to_micros(now)}
        return await self._write_tx(
            lambda db: db.execute(_SQL(shared.OUTBOX_RETRY), values).rowcount
        )

    async def outbox_counts(self) -> dict[OutboxState, int]:
        rows = await self._read_tx(
            lambda db: db.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        )
        return shared.outbox_counts_of(rows)

    async def put_watchlist(self, entries: Sequence[WatchlistEntry], now: datetime) -> int:
        rows = [
            {
                **entry.model_dump(),
                "until": None if entry.until is None else to_micros(entry.until),
                "now": to_micros(now),
            }
            for entry in entries
        ]
        await self._write_tx(
            lambda db: db.executemany(_SQL(shared.UPSERT_WATCHLIST), rows).rowcount
        )
        return len(rows)

    async def list_watchlist(self) -> list[WatchlistEntry]:
        rows = await self._read_tx(
            lambda db: db.execute(
                "SELECT plate_no, plate_color, reason, until_us FROM watchlist_vehicles"
                " ORDER BY plate_no"
            ).fetchall()
        )
        return [
            WatchlistEntry(plate_no=p, plate_color=c, reason=r, until=maybe_time(u))
            for p, c, r, u in rows
        ]

    async def delete_watchlist(self, plate_no: str) -> bool:
        return bool(
            await self._write_tx(
                lambda db: (
                    db.execute(
                        "DELETE FROM watchlist_vehicles WHERE plate_no = ?", (plate_no,)
                    ).rowcount
                )
            )
        )

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
        """Months are China Standard Time calendar months (`_MONTH`)."""
        where, values = shared.stats_filter_sql(
            since,
            until,
            communities=communities,
            property_view=property_view,
            unit_type_test=_UNIT_TYPE,
        )
        bucket = _MONTH if monthly else "NULL"
        sql = _SQL(
            "SELECT grid_code, category_code, community, responsible_units, {created},"
            f" {{accepted}}, {{closed}}, status, {{sla_due}}, {bucket} FROM tickets WHERE {where}"
        )
        params = {k: _lite(v) for k, v in values.items()}
        rows = await self._read_tx(lambda db: db.execute(sql, params).fetchall())
        return shared.ticket_stats_rows((_stats_input(group_by, row) for row in rows), now)


def _stats_input(group_by: StatsGroup, row: Sequence[Any]) -> shared.StatsInput:
    grid, category, community, units, created, accepted, closed, status, sla_due, month = row
    groups = {
        "grid_code": grid,
        "category_code": category,
        "community": community,
        "responsible_units": json.loads(units),
    }
    return shared.StatsInput(
        groups=shared.stats_groups(group_by, groups),
        bucket=maybe_time(month),
        created_at=from_micros(created),
        accepted_at=maybe_time(accepted),
        closed_at=maybe_time(closed),
        status=status,
        sla_due_at=from_micros(sla_due),
    )
