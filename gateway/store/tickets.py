"""The `TicketStore` protocol: tickets, their history, the outbox, watermarks and the watch-list.

Dedup is the database's: a partial unique index holds one open ticket per dedup key, and
`ticket_occurrences` holds one row per (dedup key, occurrence), so two processes recording the
same trigger at the same instant make one ticket, and evaluating the same evidence twice adds
nothing. A ticket change and its outbox row commit in one transaction (transactional outbox).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from schemas.events import DeviceEvent
from schemas.tickets import (
    Category,
    OutboxRowPublic,
    OutboxState,
    ResponsibleUnit,
    Severity,
    TicketLocation,
    TicketPublic,
    TicketStatsRow,
    TicketStatus,
    WatchlistEntry,
)

if TYPE_CHECKING:  # avoids an import cycle at run time
    from gateway.store.base import Page


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """A finding made ready for the store by `gateway.tickets.TicketDrafter`: categorised,
    routed and worded. The store opens a ticket from it, or adds it to the open one."""

    dedup_key: str
    occurrence_key: str
    rule: str
    category: Category
    severity: Severity
    community: str
    grid_code: str | None
    location: TicketLocation
    responsible_units: tuple[ResponsibleUnit, ...]
    title: str
    description: str
    summary_en: str
    event_ids: tuple[str, ...]
    image_urls: tuple[str, ...]
    first_at: datetime
    last_at: datetime
    detected_at: datetime
    sla_hours: float
    forward: bool


InstantRules = Callable[[Sequence[DeviceEvent]], Sequence[TicketDraft]]
"""What `write_batch` calls with the events it newly inserted (never a redelivered one), inside
its transaction: the instant rules' drafts, recorded in that same transaction."""


@dataclass(frozen=True, slots=True)
class TicketChanges:
    """What recording drafts changed: tickets opened, open tickets given new evidence, drafts
    whose occurrence was already recorded."""

    opened: int = 0
    updated: int = 0
    repeated: int = 0
    opened_rules: tuple[str, ...] = ()
    """The rule of each ticket opened (for the per-rule metric)."""


@dataclass(frozen=True, slots=True)
class TicketQuery:
    status: TicketStatus | None = None
    rule: str | None = None
    category: str | None = None
    grid_code: str | None = None
    community: str | None = None
    overdue: bool | None = None
    since: datetime | None = None
    """Tickets detected at or after this instant."""
    unit_type: str | None = None
    """Tickets one of whose responsible units is of this type (the property side's view)."""
    limit: int = 100
    cursor: str | None = None
    communities: frozenset[str] | None = None
    """The caller's scope (`gateway.access.Caller.scope`): only these communities' records;
    None for every community, an empty set for none."""
    property_view: bool = False
    """Only the tickets a property company sees (`gateway.access.Caller.sees_ticket`): one of
    the responsible units is the property, and the rule is not government-only."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A message for the platform client: `seq` numbers a ticket's rows from 1, and
    `{ticket_id}:{seq}` is its `Idempotency-Key` on every attempt."""

    ticket_id: str
    seq: int
    kind: Literal["create", "evidence", "cancelled"]
    attempts: int
    platform_ticket_id: str | None

    @property
    def idempotency_key(self) -> str:
        return f"{self.ticket_id}:{self.seq}"


StatsGroup = Literal["grid", "unit", "category", "community"]


class TicketStore(Protocol):
    """Tickets and everything that follows them; every method is one transaction."""

    async def hold_lease(self, name: str) -> bool:
        """Whether this process leads for `name` (one community's watermark rules, the
        forwarder), taking the lead if nobody holds it. PostgreSQL: a session advisory lock on
        a connection kept for leases, so the lead passes to another process when this one dies
        (its connection closes) at that process's next try; SQLite has one process: True."""

    async def record_tickets(self, drafts: Sequence[TicketDraft], now: datetime) -> TicketChanges:
        """Open a ticket per new dedup key (status `detected`, history row, and an outbox
        `create` row when `forward`), or add evidence to the open one (`occurrences` + 1,
        evidence merged, an outbox `evidence` row unless one no attempt has started on is
        pending, which then carries the new evidence too); a draft whose
        (dedup key, occurrence key) is recorded already changes nothing."""

    async def watermarks(self) -> dict[str, datetime]:
        """Per community, the newest event time stored (each event's time capped at its
        arrival, so a clock running ahead cannot drag it forward); without lateness."""

    async def get_ticket(
        self,
        ticket_id: str,
        now: datetime,
        *,
        communities: frozenset[str] | None = None,
        property_view: bool = False,
    ) -> TicketPublic | None:
        """One ticket with its history (`overdue` judged at `now`); None when there is none or
        it is outside the caller's view: `communities` and `property_view` as in
        `TicketQuery`. The view is part of the query, so a ticket the caller may not know of
        costs what a missing one does."""

    async def list_tickets(self, query: TicketQuery, now: datetime) -> "Page[TicketPublic]":
        """Newest first (created_at, ticket_id), without history."""

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
        """Move a ticket from `from_status` to `to_status` if it is still in `from_status`
        (False otherwise: someone moved it first), keep the step in its history (first the
        implied step to `via`, actor `platform`, when given), and queue an outbox `cancelled`
        row when a forwarded ticket is cancelled. Legality is `gateway.lifecycle`'s, checked
        before."""

    async def due_outbox(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Rows to send now: per ticket only its first undelivered row, when it is pending and
        due (`next_attempt_at` <= now); a ticket with a dead row sends nothing after it."""

    async def outbox_delivered(
        self,
        row: OutboxRow,
        now: datetime,
        platform_ticket_id: str | None,
        sent_occurrences: int | None = None,
    ) -> None:
        """Mark a row delivered; a `create` also records the platform's id and moves the
        ticket `detected` → `reported` (actor `platform`), in the same transaction.
        `sent_occurrences`: the ticket's occurrences in the message sent (create, evidence);
        if the ticket has more now and no unstarted evidence row follows, a fresh evidence row
        is queued in the same transaction (evidence recorded while the row was in flight)."""

    async def outbox_failed(
        self,
        row: OutboxRow,
        now: datetime,
        error: str,
        next_attempt_at: datetime | None,
        sent_occurrences: int | None = None,
    ) -> None:
        """Count a failed attempt; `next_attempt_at` None makes the row dead. A row tried once
        absorbs no later evidence (the platform may have stored the attempt and will answer
        its key from a cache), so newer evidence than `sent_occurrences` gets a fresh row as in
        `outbox_delivered`."""

    async def list_outbox(
        self,
        state: OutboxState | None,
        limit: int,
        cursor: str | None,
        *,
        communities: frozenset[str] | None = None,
    ) -> "Page[OutboxRowPublic]":
        """Outbox rows, newest first; `communities` is the caller's scope (their tickets')."""

    async def retry_outbox(self, ticket_id: str, now: datetime) -> int:
        """Make a ticket's dead rows pending again, due now, attempts from 0; how many."""

    async def outbox_counts(self) -> dict[OutboxState, int]: ...

    async def put_watchlist(self, entries: Sequence[WatchlistEntry], now: datetime) -> int:
        """Add or replace plates on the watch-list (keyed by plate number); how many."""

    async def list_watchlist(self) -> list[WatchlistEntry]: ...

    async def delete_watchlist(self, plate_no: str) -> bool: ...

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
        """The grid-management indicators per group (and per China Standard Time month when
        `monthly`: PostgreSQL buckets with `time_bucket` in Asia/Shanghai) of the tickets
        created in [since, until); open tickets past due at `now` count as late
        (`tickets_sql.ticket_stats_rows`). `communities` and `property_view` are the caller's
        view, as in `TicketQuery`."""
