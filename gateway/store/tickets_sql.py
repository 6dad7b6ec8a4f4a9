"""What both ticket stores share: ticket ids, merging drafts' evidence, the SQL that reads the
same on both backends (`Dialect`: SQLite keeps times as `*_us` microseconds), rows to models,
cursors, and the grid-management indicators computed from ticket rows."""

import math
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from gateway.access import GOVERNMENT_ONLY_RULES, PROPERTY_UNIT
from gateway.errors import PayloadError
from gateway.store.base import Page
from gateway.store.cursors import cursor_instant, decode_tagged, encode_tagged
from gateway.store.masterdata_sql import Dialect
from gateway.store.tickets import StatsGroup, TicketDraft, TicketQuery
from schemas.events import DeviceEvent
from schemas.tickets import (
    MAX_EVIDENCE_IDS,
    OPEN_STATUSES,
    Evidence,
    OutboxRowPublic,
    OutboxState,
    TicketPublic,
    TicketStatsRow,
    TicketTransition,
)

MAX_IMAGE_URLS: Final = 10
ERROR_CHARS: Final = 200
"""`last_error` is cut to this: a status line and a reason, never a payload."""
NO_GROUP: Final = "none"
"""The group of tickets without a grid code (the map did not place them)."""
MONTH_ZONE: Final = "Asia/Shanghai"
"""`bucket=month` counts China Standard Time calendar months (the district's year)."""
CST_OFFSET_S: Final = 8 * 3600
"""China Standard Time is UTC+8 all year (no daylight saving since 1991)."""
CREATED_ACTOR: Final = "gateway"
PLATFORM_ACTOR: Final = "platform"

_TIMES = (
    "first",
    "last",
    "detected",
    "created",
    "updated",
    "sla_due",
    "accepted",
    "closed",
    "at",
    "next_attempt",
    "delivered",
    "until",
    "added",
)
SQLITE: Final = Dialect({name: f"{name}_us" for name in _TIMES}, ":{}")
POSTGRES: Final = Dialect(
    {name: name if name in ("at", "until") else f"{name}_at" for name in _TIMES}, "%({})s"
)

TICKET_KEYS: Final = (
    "ticket_id",
    "dedup_key",
    "rule",
    "category",
    "severity",
    "community",
    "grid_code",
    "location",
    "responsible_units",
    "title",
    "description",
    "summary_en",
    "event_ids",
    "evidence_count",
    "first_at",
    "last_at",
    "image_urls",
    "occurrences",
    "detected_at",
    "created_at",
    "updated_at",
    "sla_due_at",
    "status",
    "forward",
    "platform_ticket_id",
    "is_open",
)
"""What `ticket_of` reads from a row, in `TICKET_COLUMNS` order."""
TICKET_COLUMNS: Final = ", ".join(
    "{" + key.removesuffix("_at") + "}" if key.endswith("_at") else key for key in TICKET_KEYS
)
JSON_KEYS: Final = ("category", "location", "responsible_units", "event_ids", "image_urls")
HISTORY_COLUMNS: Final = "{at}, from_status, to_status, actor, comment"
OUTBOX_COLUMNS: Final = (
    "ticket_id, seq, kind, state, attempts, {next_attempt}, last_error, {created}, {delivered}"
)

INSERT_HISTORY: Final = """
INSERT INTO ticket_history (ticket_id, {at}, from_status, to_status, actor, comment)
VALUES (:ticket_id, :now, :from_status, :to_status, :actor, :comment)
"""
# A row's state is checked so a late answer about a row an admin made pending again (or one
# already delivered) changes nothing.
OUTBOX_DELIVERED: Final = """
UPDATE outbox SET state = 'delivered', attempts = attempts + 1, {delivered} = :now,
    {next_attempt} = NULL
WHERE ticket_id = :ticket_id AND seq = :seq AND state = 'pending'
"""
OUTBOX_FAILED: Final = """
UPDATE outbox SET attempts = attempts + 1, last_error = :error,
    {next_attempt} = coalesce(:next_attempt, {next_attempt}),
    state = CASE WHEN :dead THEN 'dead' ELSE state END
WHERE ticket_id = :ticket_id AND seq = :seq AND state = 'pending'
"""
OUTBOX_RETRY: Final = """
UPDATE outbox SET state = 'pending', attempts = 0, {next_attempt} = :now
WHERE ticket_id = :ticket_id AND state = 'dead'
"""
# Per ticket only its first undelivered row, and only when that row is pending and due: rows
# go out in order, and a dead row holds back the ticket's later ones.
DUE_OUTBOX: Final = """
SELECT o.ticket_id, o.seq, o.kind, o.attempts, t.platform_ticket_id
FROM outbox o JOIN tickets t ON t.ticket_id = o.ticket_id
WHERE o.state = 'pending' AND o.{next_attempt} <= :now
    AND NOT EXISTS (SELECT 1 FROM outbox p
        WHERE p.ticket_id = o.ticket_id AND p.seq < o.seq AND p.state <> 'delivered')
ORDER BY o.{next_attempt}, o.ticket_id, o.seq
LIMIT :limit
"""
MARK_REPORTED: Final = """
UPDATE tickets SET status = 'reported', {updated} = :now
WHERE ticket_id = :ticket_id AND status = 'detected'
"""
SET_PLATFORM_ID: Final = """
UPDATE tickets SET platform_ticket_id = :platform_ticket_id WHERE ticket_id = :ticket_id
"""
# Compare-and-set: only from the status the caller saw.
TRANSITION: Final = """
UPDATE tickets SET status = :to_status, is_open = :is_open, {updated} = :now,
    {accepted} = coalesce(:accepted, {accepted}), {closed} = coalesce(:closed, {closed})
WHERE ticket_id = :ticket_id AND status = :from_status
RETURNING forward
"""
NEXT_OUTBOX_SEQ: Final = """
UPDATE tickets SET outbox_seq = outbox_seq + 1 WHERE ticket_id = :ticket_id
RETURNING outbox_seq
"""
INSERT_OUTBOX: Final = """
INSERT INTO outbox (ticket_id, seq, kind, state, attempts, {next_attempt}, {created})
VALUES (:ticket_id, :seq, :kind, 'pending', 0, :now, :now)
"""
UNSTARTED_EVIDENCE: Final = (
    "o.ticket_id = tickets.ticket_id AND o.kind = 'evidence' AND o.state = 'pending'"
    " AND o.attempts = 0 AND o.last_error IS NULL"
)
"""A ticket's evidence row that no attempt has started on (an admin's retry resets
`attempts` but keeps `last_error`): the only kind of row that may absorb later evidence. A row
sent once must not: a platform answering a repeated `Idempotency-Key` from its cache would
drop whatever the row absorbed since."""
# After an attempt ended (delivered or failed): if the ticket gained evidence since the
# attempt's message was built (`:sent` occurrences), and no unstarted evidence row follows
# to carry it, the ticket gets a fresh evidence row (next seq, so a new key). Run after the
# outbox row's own update, in the same transaction: on PostgreSQL the row lock on the ticket
# waits for a concurrent recording and re-checks `occurrences` against its commit.
QUEUE_NEWER_EVIDENCE: Final = f"""
UPDATE tickets SET outbox_seq = outbox_seq + 1
WHERE ticket_id = :ticket_id AND forward AND is_open AND occurrences > :sent
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE {UNSTARTED_EVIDENCE} AND o.seq > :seq)
RETURNING outbox_seq
"""
UPSERT_WATCHLIST: Final = """
INSERT INTO watchlist_vehicles (plate_no, plate_color, reason, {until}, {added})
VALUES (:plate_no, :plate_color, :reason, :until, :now)
ON CONFLICT (plate_no) DO UPDATE SET plate_color = excluded.plate_color,
    reason = excluded.reason, {until} = excluded.{until}, {added} = excluded.{added}
"""


def new_ticket_id() -> str:
    """`t-` and 24 random hex digits: unguessable, and saying nothing about the ticket."""
    return "t-" + secrets.token_hex(12)


def is_open(status: str) -> bool:
    return status in OPEN_STATUSES


def short_error(error: str) -> str:
    """The first line of an error, cut to `ERROR_CHARS` (the forwarder passes no payload)."""
    first = error.strip().splitlines()[0] if error.strip() else "error"
    return first[:ERROR_CHARS]


def merged_ids(old: Iterable[str], new: Iterable[str], limit: int) -> tuple[str, ...]:
    """`old` then the `new` ids not in it, without repeats, the first `limit` of them."""
    return tuple(dict.fromkeys([*old, *new]))[:limit]


@dataclass(frozen=True, slots=True)
class MergedDraft:
    """The drafts of one dedup key in one call, as one ticket row's worth of evidence: the
    first draft's texts and routing, every draft's evidence, `occurrences` drafts."""

    draft: TicketDraft
    event_ids: tuple[str, ...]
    evidence_count: int
    image_urls: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    detected_at: datetime
    occurrences: int


def merge_drafts(drafts: Sequence[TicketDraft]) -> list[MergedDraft]:
    """One `MergedDraft` per dedup key, in key order (concurrent writers lock rows in the same
    order). The drafts must be fresh occurrences: each counts as one."""
    by_key: dict[str, list[TicketDraft]] = defaultdict(list)
    for draft in drafts:
        by_key[draft.dedup_key].append(draft)
    merged = []
    for key in sorted(by_key):
        group = by_key[key]
        ids = tuple(dict.fromkeys(i for d in group for i in d.event_ids))
        merged.append(
            MergedDraft(
                draft=group[0],
                event_ids=ids[:MAX_EVIDENCE_IDS],
                evidence_count=len(ids),
                image_urls=merged_ids((), (u for d in group for u in d.image_urls), MAX_IMAGE_URLS),
                first_at=min(d.first_at for d in group),
                last_at=max(d.last_at for d in group),
                detected_at=min(d.detected_at for d in group),
                occurrences=len(group),
            )
        )
    return merged


def fresh_drafts(drafts: Sequence[TicketDraft]) -> list[TicketDraft]:
    """The drafts without repeats of a (dedup key, occurrence key) within the call."""
    return list({(d.dedup_key, d.occurrence_key): d for d in reversed(drafts)}.values())[::-1]


def added_count(stored_ids: Sequence[str], stored_count: int, new: MergedDraft) -> int:
    """The evidence count after adding `new`: the listed ids already on the ticket are not
    counted twice (ids beyond the listed ones cannot be compared and are counted)."""
    repeated = len(set(stored_ids) & set(new.event_ids))
    return stored_count + new.evidence_count - repeated


def batch_watermarks(events: Iterable[DeviceEvent]) -> dict[str, datetime]:
    """Per community, the newest event time of a batch, each event's time capped at its
    arrival (a device clock running ahead cannot drag the watermark past arrival)."""
    newest: dict[str, datetime] = {}
    for event in events:
        at = min(event.occurred_at, event.received_at)
        if event.community not in newest or at > newest[event.community]:
            newest[event.community] = at
    return newest


def sla_due(now: datetime, draft: TicketDraft) -> datetime:
    """The handling deadline: `sla_hours` from when the gateway raises the ticket (a person's
    working time, unlike detection, which is on event time)."""
    return now + timedelta(hours=draft.sla_hours)


def ticket_of(
    row: Mapping[str, Any], now: datetime, history: Sequence[TicketTransition] | None = None
) -> TicketPublic:
    """A ticket from its row (JSON decoded, times as aware datetimes; keys as in
    `TICKET_COLUMNS` with `_at` times)."""
    return TicketPublic(
        ticket_id=row["ticket_id"],
        dedup_key=row["dedup_key"],
        rule=row["rule"],
        category=row["category"],
        severity=row["severity"],
        community=row["community"],
        grid_code=row["grid_code"],
        location=row["location"],
        responsible_units=tuple(row["responsible_units"]),
        title=row["title"],
        description=row["description"],
        summary_en=row["summary_en"],
        evidence=Evidence(
            event_ids=tuple(row["event_ids"]),
            count=row["evidence_count"],
            first_at=row["first_at"],
            last_at=row["last_at"],
            image_urls=tuple(row["image_urls"]),
        ),
        occurrences=row["occurrences"],
        detected_at=row["detected_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        sla_due_at=row["sla_due_at"],
        overdue=bool(row["is_open"]) and now > row["sla_due_at"],
        status=row["status"],
        forward=bool(row["forward"]),
        platform_ticket_id=row["platform_ticket_id"],
        history=None if history is None else tuple(history),
    )


def transition_of(row: Sequence[Any]) -> TicketTransition:
    at, from_status, to_status, actor, comment = row
    return TicketTransition(
        at=at, from_status=from_status, to_status=to_status, actor=actor, comment=comment
    )


def outbox_row_of(row: Sequence[Any]) -> OutboxRowPublic:
    ticket_id, seq, kind, state, attempts, next_attempt_at, last_error, created, delivered = row
    return OutboxRowPublic(
        ticket_id=ticket_id,
        seq=seq,
        kind=kind,
        state=state,
        attempts=attempts,
        next_attempt_at=next_attempt_at,
        last_error=last_error,
        created_at=created,
        delivered_at=delivered,
    )


def ticket_sql(
    communities: frozenset[str] | None, property_view: bool, unit_type_test: str
) -> tuple[str, dict[str, object]]:
    """One ticket's statement (`:id`, `{time}` columns) and values: the ticket only when it is
    in the caller's view (`ticket_scope_sql`). The view is in the query, so a ticket the caller
    may not know of costs what a missing one does (its history is then not read either)."""
    clauses, values = ticket_scope_sql(communities, property_view, unit_type_test)
    where = " AND ".join(["ticket_id = :id", *clauses])
    return f"SELECT {TICKET_COLUMNS} FROM tickets WHERE {where}", values


def list_tickets_sql(
    query: TicketQuery, now: datetime, unit_type_test: str
) -> tuple[str, dict[str, object]]:
    """A ticket list's statement (`:name` parameters, `{time}` columns) and values (times as
    datetimes; the backend converts them). `unit_type_test` is the backend's JSON test that one
    of `responsible_units` has type `:unit_type`."""
    clauses: list[str] = []
    values: dict[str, object] = {"now": now, "limit": query.limit + 1}
    for column, value in (
        ("status", query.status),
        ("rule", query.rule),
        ("category_code", query.category),
        ("grid_code", query.grid_code),
        ("community", query.community),
        ("unit_type", query.unit_type),
    ):
        if value is not None:
            clauses.append(unit_type_test if column == "unit_type" else f"{column} = :{column}")
            values[column] = value
    if query.overdue is not None:
        test = "is_open AND {sla_due} < :now"
        clauses.append(test if query.overdue else f"NOT ({test})")
    if query.since is not None:
        clauses.append("{detected} >= :since")
        values["since"] = query.since
    scope, scope_values = ticket_scope_sql(query.communities, query.property_view, unit_type_test)
    clauses += scope
    values.update(scope_values)
    if query.cursor is not None:
        created_at, ticket_id = decode_ticket_cursor(query.cursor)
        clauses.append(
            "({created} < :after_created OR ({created} = :after_created AND ticket_id < :after_id))"
        )
        values.update(after_created=created_at, after_id=ticket_id)
    where = " AND ".join(clauses) or "1 = 1"
    sql = (
        f"SELECT {TICKET_COLUMNS} FROM tickets WHERE {where}"
        " ORDER BY {created} DESC, ticket_id DESC LIMIT :limit"
    )
    return sql, values


def encode_ticket_cursor(created_at: datetime, ticket_id: str) -> str:
    """Position after a ticket in newest-first order (created_at, ticket_id)."""
    return encode_tagged("tk", created_at.isoformat(), ticket_id)


def decode_ticket_cursor(token: str) -> tuple[datetime, str]:
    created, ticket_id = decode_tagged(token, "tk", 2)
    return cursor_instant(created), _ticket_id(ticket_id)


def encode_outbox_cursor(row: OutboxRowPublic) -> str:
    """Position after an outbox row in newest-first order (created_at, ticket_id, seq)."""
    return encode_tagged("ob", row.created_at.isoformat(), row.ticket_id, str(row.seq))


def decode_outbox_cursor(token: str) -> tuple[datetime, str, int]:
    created, ticket_id, seq = decode_tagged(token, "ob", 3)
    if not _SEQ.fullmatch(seq):
        raise PayloadError("bad_cursor", "the cursor is not one this API issued")
    return cursor_instant(created), _ticket_id(ticket_id), int(seq)


_SEQ: Final = re.compile(r"[1-9][0-9]{0,8}")
"""An outbox seq as a cursor may carry it: ASCII digits, ≥ 1, small enough for any integer
column (`str.isdigit` takes `²` and an overflowing number would reach the database)."""
_TICKET_ID: Final = re.compile(r"t-[0-9a-f]{24}")
"""`schemas.tickets.TicketId`: a cursor's ticket id is a real one, never text for the query."""


def _ticket_id(text: str) -> str:
    if not _TICKET_ID.fullmatch(text):
        raise PayloadError("bad_cursor", "the cursor is not one this API issued")
    return text


@dataclass(frozen=True, slots=True)
class StatsInput:
    """One ticket as the indicators see it; `groups` the groups it counts in (several unit
    types for `unit`, each once)."""

    groups: tuple[str, ...]
    bucket: datetime | None
    created_at: datetime
    accepted_at: datetime | None
    closed_at: datetime | None
    status: str
    sla_due_at: datetime


def stats_groups(group_by: StatsGroup, row: Mapping[str, Any]) -> tuple[str, ...]:
    """The groups of one ticket row (keys `grid_code`, `category_code`, `community`,
    `responsible_units` decoded)."""
    if group_by == "grid":
        return (row["grid_code"] or NO_GROUP,)
    if group_by == "category":
        return (row["category_code"],)
    if group_by == "community":
        return (row["community"],)
    return tuple(sorted({unit["type"] for unit in row["responsible_units"]}))


def ticket_stats_rows(tickets: Iterable[StatsInput], now: datetime) -> list[TicketStatsRow]:
    """The indicators per (bucket, group), in that order: raised, accepted (ever accepted),
    closed (status `closed`), closure rate closed/raised, on-time rate: of the tickets whose
    time is up (closed, or still open past `sla_due_at` at `now`: already late, however they
    end), the share closed by `sla_due_at` (so leaving tickets open never flatters it), mean
    and p90 hours to close (created → closed, closed tickets; p90
    interpolated between ranks like PostgreSQL's `percentile_cont`), false-alarm rate
    false_alarm/raised. A rate whose denominator is 0 is None."""
    groups: dict[tuple[datetime | None, str], list[StatsInput]] = defaultdict(list)
    for ticket in tickets:
        for group in ticket.groups:
            groups[(ticket.bucket, group)].append(ticket)
    rows = []
    for (bucket, group), members in sorted(
        groups.items(),
        key=lambda item: (item[0][0] or datetime.min.replace(tzinfo=UTC), item[0][1]),
    ):
        closed = [t for t in members if t.status == "closed" and t.closed_at is not None]
        hours = sorted((t.closed_at - t.created_at).total_seconds() / 3600 for t in closed)  # type: ignore[operator]
        raised = len(members)
        rows.append(
            TicketStatsRow(
                group=group,
                bucket=bucket,
                raised=raised,
                accepted=sum(t.accepted_at is not None for t in members),
                closed=len(closed),
                closure_rate=_rate(len(closed), raised),
                on_time_rate=_rate(
                    sum(t.closed_at <= t.sla_due_at for t in closed),  # type: ignore[operator]
                    len(closed) + sum(is_open(t.status) and now > t.sla_due_at for t in members),
                ),
                mean_hours_to_close=sum(hours) / len(hours) if hours else None,
                p90_hours_to_close=_percentile(hours, 0.9),
                false_alarm_rate=_rate(sum(t.status == "false_alarm" for t in members), raised),
            )
        )
    return rows


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (`percentile_cont`)."""
    if not ordered:
        return None
    position = fraction * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def transition_values(
    ticket_id: str, from_status: str, to_status: str, now: datetime
) -> dict[str, object]:
    """`TRANSITION`'s values: `accepted_at` set on acceptance, `closed_at` (and `is_open`
    false) on leaving the open statuses."""
    still_open = is_open(to_status)
    return {
        "ticket_id": ticket_id,
        "from_status": from_status,
        "to_status": to_status,
        "is_open": still_open,
        "now": now,
        "accepted": now if to_status == "accepted" else None,
        "closed": None if still_open else now,
    }


def ticket_page(tickets: list[TicketPublic], limit: int) -> "Page[TicketPublic]":
    """Cut a `limit + 1` fetch into a page."""
    if len(tickets) <= limit:
        return Page[TicketPublic](data=tickets, next_cursor=None)
    last = tickets[limit - 1]
    cursor = encode_ticket_cursor(last.created_at, last.ticket_id)
    return Page[TicketPublic](data=tickets[:limit], next_cursor=cursor)


def outbox_filter_sql(
    state: str | None, cursor: str | None, communities: frozenset[str] | None = None
) -> tuple[str, dict[str, object]]:
    """The `WHERE` of an outbox list (newest first: created_at, ticket_id, seq), keeping to the
    tickets of `communities` (the caller's scope)."""
    clauses: list[str] = []
    values: dict[str, object] = {}
    scope, scope_values = ticket_scope_sql(communities, False, "")
    if scope:
        clauses.append(f"ticket_id IN (SELECT ticket_id FROM tickets WHERE {scope[0]})")
        values.update(scope_values)
    if state is not None:
        clauses.append("state = :state")
        values["state"] = state
    if cursor is not None:
        created_at, ticket_id, seq = decode_outbox_cursor(cursor)
        clauses.append(
            "({created} < :after_created OR ({created} = :after_created AND (ticket_id < :after_id"
            " OR (ticket_id = :after_id AND seq < :after_seq))))"
        )
        values.update(after_created=created_at, after_id=ticket_id, after_seq=seq)
    return " AND ".join(clauses) or "1 = 1", values


def outbox_page(rows: list[OutboxRowPublic], limit: int) -> "Page[OutboxRowPublic]":
    if len(rows) <= limit:
        return Page[OutboxRowPublic](data=rows, next_cursor=None)
    return Page[OutboxRowPublic](
        data=rows[:limit], next_cursor=encode_outbox_cursor(rows[limit - 1])
    )


def outbox_counts_of(rows: Iterable[Sequence[Any]]) -> dict[OutboxState, int]:
    """Rows per state, every state present (0 when none)."""
    counts: dict[OutboxState, int] = {"pending": 0, "delivered": 0, "dead": 0}
    for state, count in rows:
        counts[state] = int(count)
    return counts


def ticket_scope_sql(
    communities: frozenset[str] | None, property_view: bool, unit_type_test: str
) -> tuple[list[str], dict[str, object]]:
    """The conditions keeping a ticket query to the caller's view: its community scope
    (`gateway.access.Caller.scope`; empty: no ticket) and, for a property company, the
    tickets `gateway.access.Caller.sees_ticket` admits (a responsible unit of the property's
    type, and no government-only rule). `unit_type_test` is the backend's JSON test of
    `:unit_type` (see `list_tickets_sql`)."""
    clauses: list[str] = []
    values: dict[str, object] = {}
    if communities is not None:
        names = [f"scope_{index}" for index in range(len(communities))]
        values.update(zip(names, sorted(communities), strict=True))
        clauses.append(f"community IN ({', '.join(':' + n for n in names)})" if names else "1 = 0")
    if property_view:
        clauses.append(unit_type_test.replace(":unit_type", ":property_unit"))
        values["property_unit"] = PROPERTY_UNIT
        names = [f"government_rule_{index}" for index in range(len(GOVERNMENT_ONLY_RULES))]
        values.update(zip(names, sorted(GOVERNMENT_ONLY_RULES), strict=True))
        if names:
            clauses.append(f"rule NOT IN ({', '.join(':' + n for n in names)})")
    return clauses, values


def stats_filter_sql(
    since: datetime | None,
    until: datetime | None,
    *,
    communities: frozenset[str] | None = None,
    property_view: bool = False,
    unit_type_test: str = "",
) -> tuple[str, dict[str, object]]:
    """Tickets created in [since, until), within the caller's view (`ticket_scope_sql`)."""
    clauses, values = ticket_scope_sql(communities, property_view, unit_type_test)
    if since is not None:
        clauses.append("{created} >= :since")
        values["since"] = since
    if until is not None:
        clauses.append("{created} < :until")
        values["until"] = until
    return " AND ".join(clauses) or "1 = 1", values
