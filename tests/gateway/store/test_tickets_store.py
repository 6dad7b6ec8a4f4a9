"""The `TicketStore` contract on both stores: dedup by the database, recording from
`write_batch`'s new events, watermarks, the outbox, transitions, lists, indicators, the
watch-list and leases. Times are relative to the real now, injected."""

import asyncio
import base64
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from gateway.errors import PayloadError
from gateway.store import Store, open_store
from gateway.store.tickets import OutboxRow, TicketDraft, TicketQuery
from schemas.events import DeviceEvent
from schemas.tickets import (
    MAX_EVIDENCE_IDS,
    TicketStatsRow,
    TicketStatus,
    UnitType,
    WatchlistEntry,
)
from tests.gateway.observed_events import YIDA, access
from tests.gateway.store.ticket_drafts import GRID, JIAXIN, OTHER_GRID, draft


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC)


async def only_ticket_id(store: Store, now: datetime) -> str:
    page = await store.list_tickets(TicketQuery(), now)
    assert len(page.data) == 1
    return page.data[0].ticket_id


class TestRecordTickets:
    """One open ticket per dedup key; one count per (dedup key, occurrence)."""

    async def test_a_repeat_of_a_dedup_key_adds_to_the_open_ticket(
        self, store: Store, now: datetime
    ) -> None:
        """Two occurrences of one key make one ticket with both counted and evidence merged."""
        first = await store.record_tickets([draft(at=now - timedelta(minutes=5))], now)
        second = await store.record_tickets(
            [draft(occurrence="o2", at=now, event_ids=("e1", "e2"), images=("http://i/1",))],
            now + timedelta(seconds=1),
        )
        assert (first.opened, first.updated, first.opened_rules) == (1, 0, ("safety.door_forced",))
        assert (second.opened, second.updated) == (0, 1)
        ticket = (await store.list_tickets(TicketQuery(), now)).data[0]
        assert ticket.occurrences == 2
        assert ticket.evidence.event_ids == ("e1", "e2")
        assert ticket.evidence.count == 2
        assert ticket.evidence.first_at == now - timedelta(minutes=5)
        assert ticket.evidence.last_at == now
        assert ticket.evidence.image_urls == ("http://i/1",)
        assert ticket.status == "detected"
        assert ticket.ticket_id.startswith("t-") and len(ticket.ticket_id) == 26

    async def test_the_same_occurrence_twice_counts_once(self, store: Store, now: datetime) -> None:
        """Recording an occurrence again, in one call or a later one, changes nothing."""
        same = draft(at=now)
        first = await store.record_tickets([same, same], now)
        again = await store.record_tickets([same], now)
        assert (first.opened, first.repeated) == (1, 1)
        assert (again.opened, again.updated, again.repeated) == (0, 0, 1)
        ticket = (await store.list_tickets(TicketQuery(), now)).data[0]
        assert ticket.occurrences == 1

    async def test_drafts_of_one_key_in_one_call_make_one_ticket(
        self, store: Store, now: datetime
    ) -> None:
        """Several fresh occurrences of a new key in one call open one ticket counting all."""
        drafts = [draft(occurrence=f"o{n}", at=now, event_ids=(f"e{n}",)) for n in range(3)]
        changes = await store.record_tickets(drafts, now)
        assert (changes.opened, changes.updated) == (1, 0)
        ticket = (await store.list_tickets(TicketQuery(), now)).data[0]
        assert (ticket.occurrences, ticket.evidence.count) == (3, 3)

    async def test_evidence_lists_at_most_fifty_ids_and_counts_all(
        self, store: Store, now: datetime
    ) -> None:
        """Ids past the fiftieth are counted, not listed; an id already listed is not recounted;
        image URLs stop at ten."""
        ids = [f"e{n:03d}" for n in range(40)]
        more = [f"e{n:03d}" for n in range(30, 70)]
        images = [f"http://i/{n}" for n in range(8)]
        await store.record_tickets([draft(at=now, event_ids=ids, images=images)], now)
        await store.record_tickets(
            [
                draft(
                    occurrence="o2",
                    at=now,
                    event_ids=more,
                    images=["http://i/0", "http://i/9", "http://i/10", "http://i/11"],
                )
            ],
            now,
        )
        ticket = (await store.list_tickets(TicketQuery(), now)).data[0]
        assert ticket.evidence.event_ids == tuple(f"e{n:03d}" for n in range(MAX_EVIDENCE_IDS))
        assert ticket.evidence.count == 70
        assert ticket.evidence.image_urls == (*images, "http://i/9", "http://i/10")

    async def test_a_closed_ticket_lets_a_new_one_open(self, store: Store, now: datetime) -> None:
        """After its ticket closed, a new occurrence of the key opens another ticket; an old
        occurrence is still a repeat."""
        await store.record_tickets([draft(at=now)], now)
        ticket_id = await only_ticket_id(store, now)
        assert await store.transition_ticket(ticket_id, "detected", "false_alarm", "gov", None, now)
        repeat = await store.record_tickets([draft(at=now)], now)
        fresh = await store.record_tickets([draft(occurrence="o2", at=now)], now)
        assert (repeat.opened, repeat.repeated) == (0, 1)
        assert fresh.opened == 1
        page = await store.list_tickets(TicketQuery(), now)
        assert sorted(t.status for t in page.data) == ["detected", "false_alarm"]


class TestConcurrentRecording:
    """Dedup holds between processes: it is the database's, not a check in memory."""

    async def test_two_stores_recording_one_key_at_once_make_one_ticket(
        self, pg_dsn: str, now: datetime
    ) -> None:
        """Two store objects on one PostgreSQL database recording the same key concurrently,
        round after round, leave one open ticket counting every distinct occurrence."""
        stores = [open_store(pg_dsn), open_store(pg_dsn)]
        for opened in stores:
            await opened.open()
        await stores[0].migrate()
        try:
            rounds = 15
            for n in range(rounds):
                shared = draft(occurrence=f"both-{n}", at=now, event_ids=(f"b{n}",))
                await asyncio.gather(
                    stores[0].record_tickets([draft(occurrence=f"a-{n}", at=now), shared], now),
                    stores[1].record_tickets([draft(occurrence=f"b-{n}", at=now), shared], now),
                )
            page = await stores[0].list_tickets(TicketQuery(), now)
        finally:
            for opened in stores:
                await opened.close()
        assert len(page.data) == 1
        assert page.data[0].occurrences == 3 * rounds


def clock_ahead(event: DeviceEvent, ahead: timedelta) -> DeviceEvent:
    """The event as a device whose clock runs `ahead` would stamp it."""
    return event.model_copy(update={"occurred_at": event.received_at + ahead})


class TestWriteBatch:
    """Instant rules run on a batch's new events inside its transaction; watermarks move."""

    async def test_instant_rules_see_only_new_events(self, store: Store, now: datetime) -> None:
        """The hook drafts from new events; a redelivered batch calls it with nothing and
        records nothing."""
        seen: list[list[str]] = []

        def instant(events: Sequence[DeviceEvent]) -> list[TicketDraft]:
            seen.append([e.event_id for e in events])
            return [draft(occurrence=e.event_id, at=now, event_ids=(e.event_id,)) for e in events]

        batch = [access(1, now - timedelta(minutes=2)), access(2, now - timedelta(minutes=1))]
        first = await store.write_batch(batch, [], instant)
        again = await store.write_batch(batch, [], instant)
        assert (first.inserted, first.tickets_opened, first.tickets_updated) == (2, 1, 0)
        assert first.opened_rules == ("safety.door_forced",)
        assert (again.duplicates, again.tickets_opened, again.tickets_updated) == (2, 0, 0)
        assert seen == [["acc-000001", "acc-000002"]]
        ticket = (await store.list_tickets(TicketQuery(), now)).data[0]
        assert ticket.occurrences == 2

    async def test_without_the_hook_no_ticket_is_recorded(
        self, store: Store, now: datetime
    ) -> None:
        """A batch written without instant rules stores its events and no ticket."""
        result = await store.write_batch([access(1, now)], [])
        assert (result.inserted, result.tickets_opened) == (1, 0)
        assert (await store.list_tickets(TicketQuery(), now)).data == []

    async def test_watermarks_follow_the_newest_event_capped_at_arrival(
        self, store: Store, now: datetime
    ) -> None:
        """Each community's watermark is its newest event time, a clock running ahead counts
        at its arrival, and an older batch never moves it back."""
        newest = access(1, now - timedelta(minutes=3))
        ahead = clock_ahead(access(2, now - timedelta(minutes=10)), timedelta(hours=2))
        elsewhere = access(3, now - timedelta(minutes=20), community=JIAXIN)
        await store.write_batch([newest, ahead, elsewhere], [])
        await store.write_batch([access(4, now - timedelta(hours=1))], [])
        marks = await store.watermarks()
        assert marks == {YIDA: newest.occurred_at, JIAXIN: elsewhere.occurred_at}
        ahead_only = clock_ahead(access(5, now - timedelta(seconds=30)), timedelta(hours=2))
        await store.write_batch([ahead_only], [])
        assert (await store.watermarks())[YIDA] == ahead_only.received_at


class TestOutbox:
    """Rows per ticket in order, evidence coalesced, dead rows visible and retryable."""

    async def test_a_forwarded_ticket_queues_its_create_and_delivery_reports_it(
        self, store: Store, now: datetime
    ) -> None:
        """The create row is due at once; delivered, it records the platform id and moves the
        ticket to `reported` with a history step by the platform."""
        await store.record_tickets([draft(at=now)], now)
        ticket_id = await only_ticket_id(store, now)
        due = await store.due_outbox(now, 10)
        assert due == [OutboxRow(ticket_id, 1, "create", 0, None)]
        assert due[0].idempotency_key == f"{ticket_id}:1"
        later = now + timedelta(seconds=2)
        await store.outbox_delivered(due[0], later, "P-1")
        ticket = await store.get_ticket(ticket_id, later)
        assert ticket is not None and ticket.history is not None
        assert (ticket.status, ticket.platform_ticket_id) == ("reported", "P-1")
        assert [(h.from_status, h.to_status, h.actor) for h in ticket.history] == [
            (None, "detected", "gateway"),
            ("detected", "reported", "platform"),
        ]
        assert await store.due_outbox(later, 10) == []
        assert await store.outbox_counts() == {"pending": 0, "delivered": 1, "dead": 0}

    async def test_a_local_ticket_queues_nothing(self, store: Store, now: datetime) -> None:
        """A ticket kept with the property company has no outbox row, even on repeats."""
        await store.record_tickets([draft(at=now, forward=False)], now)
        await store.record_tickets([draft(occurrence="o2", at=now, forward=False)], now)
        assert await store.outbox_counts() == {"pending": 0, "delivered": 0, "dead": 0}

    async def test_rows_go_in_order_and_a_pending_evidence_row_absorbs_more(
        self, store: Store, now: datetime
    ) -> None:
        """Evidence waits behind the create; later evidence joins the pending evidence row;
        once that is delivered, new evidence queues a new row."""
        await store.record_tickets([draft(at=now)], now)
        await store.record_tickets([draft(occurrence="o2", at=now)], now)
        await store.record_tickets([draft(occurrence="o3", at=now)], now)
        ticket_id = await only_ticket_id(store, now)
        [create] = await store.due_outbox(now, 10)
        assert (create.seq, create.kind) == (1, "create")
        await store.outbox_delivered(create, now, "P-1")
        [evidence] = await store.due_outbox(now, 10)
        assert (evidence.seq, evidence.kind, evidence.platform_ticket_id) == (2, "evidence", "P-1")
        await store.outbox_delivered(evidence, now, None)
        await store.record_tickets([draft(occurrence="o4", at=now)], now)
        [again] = await store.due_outbox(now, 10)
        assert (again.ticket_id, again.seq, again.kind) == (ticket_id, 3, "evidence")

    async def test_failures_back_off_then_die_and_an_admin_retries(
        self, store: Store, now: datetime
    ) -> None:
        """A failed row waits until its next attempt; a dead row blocks the ticket's later
        rows and shows in the counts; a retry makes it pending and due again."""
        await store.record_tickets([draft(at=now)], now)
        await store.record_tickets([draft(occurrence="o2", at=now)], now)
        ticket_id = await only_ticket_id(store, now)
        [create] = await store.due_outbox(now, 10)
        await store.outbox_failed(create, now, "HTTP 503\nbody", now + timedelta(seconds=30))
        assert await store.due_outbox(now + timedelta(seconds=29), 10) == []
        [retried] = await store.due_outbox(now + timedelta(seconds=30), 10)
        assert (retried.seq, retried.attempts) == (1, 1)
        await store.outbox_failed(retried, now, "HTTP 401", None)
        assert await store.due_outbox(now + timedelta(days=1), 10) == []
        assert await store.outbox_counts() == {"pending": 1, "delivered": 0, "dead": 1}
        dead = (await store.list_outbox("dead", 10, None)).data
        assert [(r.seq, r.attempts, r.last_error) for r in dead] == [(1, 2, "HTTP 401")]
        assert await store.retry_outbox(ticket_id, now) == 1
        [back] = await store.due_outbox(now, 10)
        assert (back.seq, back.attempts) == (1, 0)

    async def test_a_row_tried_once_absorbs_no_more_evidence(
        self, store: Store, now: datetime
    ) -> None:
        """Evidence after a failed attempt gets its own row (a new key) behind the retried
        one, which a platform answering from its cache would otherwise swallow."""
        await store.record_tickets([draft(at=now)], now)
        [create] = await store.due_outbox(now, 10)
        await store.outbox_delivered(create, now, "P-1", 1)
        await store.record_tickets([draft(occurrence="o2", at=now)], now)
        [evidence] = await store.due_outbox(now, 10)
        await store.outbox_failed(evidence, now, "no answer", now, 2)
        await store.record_tickets([draft(occurrence="o3", at=now)], now)
        pending = (await store.list_outbox("pending", 10, None)).data
        assert sorted((r.seq, r.kind) for r in pending) == [(2, "evidence"), (3, "evidence")]

    async def test_evidence_recorded_during_an_attempt_gets_a_fresh_row(
        self, store: Store, now: datetime
    ) -> None:
        """An attempt that carried fewer occurrences than the ticket has when it ends
        (delivered or failed) queues one fresh evidence row; one that carried them all
        queues nothing."""
        await store.record_tickets([draft(at=now)], now)
        [create] = await store.due_outbox(now, 10)
        await store.outbox_delivered(create, now, "P-1", 1)
        await store.record_tickets([draft(occurrence="o2", at=now)], now)
        [evidence] = await store.due_outbox(now, 10)
        await store.record_tickets([draft(occurrence="o3", at=now)], now)  # while in flight
        await store.outbox_delivered(evidence, now, None, 2)
        [fresh] = await store.due_outbox(now, 10)
        assert (fresh.seq, fresh.kind) == (3, "evidence")
        await store.record_tickets([draft(occurrence="o4", at=now)], now)  # in flight again
        await store.outbox_failed(fresh, now, "no answer", now, 3)
        [retried, newer] = sorted(
            (await store.list_outbox("pending", 10, None)).data, key=lambda r: r.seq
        )
        assert (retried.seq, newer.seq, newer.kind) == (3, 4, "evidence")
        [again] = await store.due_outbox(now, 10)
        await store.outbox_delivered(again, now, None, 4)
        [last] = await store.due_outbox(now, 10)
        await store.outbox_delivered(last, now, None, 4)
        assert await store.outbox_counts() == {"pending": 0, "delivered": 4, "dead": 0}

    @pytest.mark.parametrize(
        "parts",
        [
            ("ob", "{at}", "{id}", "99999999999999999999999"),
            ("ob", "{at}", "{id}", "²"),
            ("ob", "{at}", "{id}", "0"),
            ("ob", "{at}", "t-\x00", "1"),
            ("ob", "0001-01-01T00:00:00+14:00", "{id}", "1"),
            ("tk", "{at}", "t-\x00"),
            ("tk", "0001-01-01T00:00:00+14:00", "{id}"),
        ],
    )
    async def test_a_forged_cursor_is_refused(
        self, store: Store, now: datetime, parts: tuple[str, ...]
    ) -> None:
        """A well-encoded cursor with an overflowing, non-ASCII or zero seq, a ticket id that
        is not one, or an instant beyond the calendar is `bad_cursor`, never a database
        error."""
        fields = [p.format(at=now.isoformat(), id="t-" + "a" * 24) for p in parts]
        token = base64.urlsafe_b64encode("|".join(fields).encode()).decode().rstrip("=")
        with pytest.raises(PayloadError) as info:
            if parts[0] == "ob":
                await store.list_outbox(None, 2, token)
            else:
                await store.list_tickets(TicketQuery(cursor=token), now)
        assert info.value.reason == "bad_cursor"

    async def test_outbox_lists_page_newest_first(self, store: Store, now: datetime) -> None:
        """The outbox list pages by a cursor without repeats or gaps; a forged cursor is
        refused."""
        for n in range(5):
            at = now + timedelta(seconds=n)
            await store.record_tickets([draft(key=f"k{n}", at=at)], at)
        first = await store.list_outbox(None, 2, None)
        assert first.next_cursor is not None
        second = await store.list_outbox("pending", 2, first.next_cursor)
        third = await store.list_outbox(None, 2, second.next_cursor)
        rows = [*first.data, *second.data, *third.data]
        assert third.next_cursor is None
        assert [r.created_at for r in rows] == [
            now + timedelta(seconds=n) for n in range(4, -1, -1)
        ]
        with pytest.raises(PayloadError):
            await store.list_outbox(None, 2, "bm90IG91cnM")


class TestTransitions:
    """Compare-and-set on the status, every step kept."""

    async def test_a_transition_from_a_stale_status_is_refused(
        self, store: Store, now: datetime
    ) -> None:
        """Only the first of two moves from the same status wins; the loser changes nothing."""
        await store.record_tickets([draft(at=now)], now)
        ticket_id = await only_ticket_id(store, now)
        assert await store.transition_ticket(ticket_id, "detected", "dispatched", "pm", "去看", now)
        assert not await store.transition_ticket(
            ticket_id, "detected", "false_alarm", "pm", None, now
        )
        assert not await store.transition_ticket(
            "t-" + "0" * 24, "detected", "closed", "x", None, now
        )
        ticket = await store.get_ticket(ticket_id, now)
        assert ticket is not None and ticket.history is not None
        assert ticket.status == "dispatched"
        assert [(h.to_status, h.actor, h.comment) for h in ticket.history] == [
            ("detected", "gateway", None),
            ("dispatched", "pm", "去看"),
        ]

    async def test_closing_leaves_the_open_set_and_is_not_overdue(
        self, store: Store, now: datetime
    ) -> None:
        """An open ticket past its SLA is overdue; once closed it is not."""
        await store.record_tickets([draft(at=now, sla_hours=1)], now)
        ticket_id = await only_ticket_id(store, now)
        late = now + timedelta(hours=2)
        ticket = await store.get_ticket(ticket_id, late)
        assert ticket is not None and ticket.overdue
        for step in (("detected", "reported"), ("reported", "accepted"), ("accepted", "closed")):
            assert await store.transition_ticket(ticket_id, *step, "gov", None, late)
        ticket = await store.get_ticket(ticket_id, late)
        assert ticket is not None and not ticket.overdue and ticket.status == "closed"

    async def test_cancelling_a_forwarded_ticket_queues_a_cancelled_row(
        self, store: Store, now: datetime
    ) -> None:
        """Cancelling sends the platform a `cancelled` update after the create; a local
        ticket's cancellation queues nothing."""
        await store.record_tickets([draft(at=now)], now)
        await store.record_tickets([draft(key="local", at=now, forward=False)], now)
        page = await store.list_tickets(TicketQuery(), now)
        for ticket in page.data:
            assert await store.transition_ticket(
                ticket.ticket_id, "detected", "cancelled", "admin", None, now
            )
        forwarded = next(t.ticket_id for t in page.data if t.forward)
        [create] = await store.due_outbox(now, 10)
        await store.outbox_delivered(create, now, "P-9")
        [cancelled] = await store.due_outbox(now, 10)
        assert (cancelled.ticket_id, cancelled.seq, cancelled.kind) == (forwarded, 2, "cancelled")
        assert cancelled.platform_ticket_id == "P-9"
        stored = await store.get_ticket(forwarded, now)
        assert stored is not None and stored.status == "cancelled"


class TestListTickets:
    """Filters and keyset paging, newest first."""

    async def test_filters_select_the_matching_tickets(self, store: Store, now: datetime) -> None:
        """Each filter keeps exactly the tickets it names."""
        early = now - timedelta(hours=3)
        await store.record_tickets([draft(key="a", at=early, sla_hours=1)], early)
        await store.record_tickets(
            [
                draft(
                    key="b",
                    at=now,
                    rule="fire.lane_occupied",
                    category="fire_safety",
                    community=JIAXIN,
                    grid=OTHER_GRID,
                    units=("property", "grid"),
                )
            ],
            now,
        )
        await store.record_tickets([draft(key="c", at=now, units=("police_station",))], now)

        async def keys(**filters: object) -> list[str]:
            page = await store.list_tickets(TicketQuery(**filters), now)  # type: ignore[arg-type]
            return sorted(t.dedup_key for t in page.data)

        assert await keys() == ["a", "b", "c"]
        assert await keys(rule="fire.lane_occupied") == ["b"]
        assert await keys(category="safety") == ["a", "c"]
        assert await keys(community=JIAXIN) == ["b"]
        assert await keys(grid_code=GRID) == ["a", "c"]
        assert await keys(overdue=True) == ["a"]
        assert await keys(overdue=False) == ["b", "c"]
        assert await keys(since=now - timedelta(minutes=1)) == ["b", "c"]
        assert await keys(unit_type="grid") == ["b"]
        assert await keys(unit_type="property") == ["a", "b"]
        assert await keys(status="detected", unit_type="police_station") == ["c"]

    async def test_pages_follow_the_cursor(self, store: Store, now: datetime) -> None:
        """Pages of two cover every ticket once, newest first; a forged cursor is refused."""
        for n in range(5):
            at = now - timedelta(minutes=n)
            await store.record_tickets([draft(key=f"k{n}", at=at)], at)
        seen: list[str] = []
        cursor = None
        while True:
            page = await store.list_tickets(TicketQuery(limit=2, cursor=cursor), now)
            seen += [t.dedup_key for t in page.data]
            assert all(t.history is None for t in page.data)
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        assert seen == ["k0", "k1", "k2", "k3", "k4"]
        with pytest.raises(PayloadError) as refused:
            await store.list_tickets(TicketQuery(cursor="garbage!"), now)
        assert refused.value.reason == "bad_cursor"


CST = timezone(timedelta(hours=8))
"""China Standard Time: UTC+8 all year."""


def month_of(at: datetime) -> datetime:
    """The start of `at`'s China Standard Time calendar month, in UTC."""
    local = at.astimezone(CST).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


class TestTicketStats:
    """The grid-management indicators match a hand-computed fixture."""

    @pytest.fixture
    async def fixture_tickets(self, store: Store, now: datetime) -> datetime:
        """Five tickets raised 40 days ago (one month) and 1 day ago (another):

        - A (grid 1, property): raised -40d, accepted, closed after 10 h, SLA 24 h: on time;
        - B (grid 1, property+grid): raised -40d, accepted, closed after 30 h, SLA 24 h: late;
        - C (grid 2, grid): raised -40d, false alarm;
        - D (grid 2, property): raised -1d, closed after 2 h, SLA 24 h: on time (not accepted);
        - E (grid 1, police): raised -1d, open."""
        old, recent = now - timedelta(days=40), now - timedelta(days=1)
        specs: list[tuple[str, datetime, str, tuple[UnitType, ...], float | None, bool]] = [
            ("A", old, GRID, ("property",), 10.0, True),
            ("B", old, GRID, ("property", "grid"), 30.0, True),
            ("C", old, OTHER_GRID, ("grid",), None, False),
            ("D", recent, OTHER_GRID, ("property",), 2.0, False),
            ("E", recent, GRID, ("police_station",), None, False),
        ]
        for index, (key, day, grid, units, hours, accepted) in enumerate(specs):
            at = day + timedelta(seconds=index)  # raised in this order, newest last
            await store.record_tickets([draft(key=key, at=at, grid=grid, units=units)], at)
            ticket = (await store.list_tickets(TicketQuery(), now)).data[0]
            assert ticket.dedup_key == key
            if key == "C":
                await store.transition_ticket(
                    ticket.ticket_id, "detected", "false_alarm", "g", None, at
                )
            if hours is None:
                continue
            path: list[TicketStatus] = ["detected", "dispatched", "handled", "closed"]
            if accepted:
                path = ["detected", "reported", "accepted", "dispatched", "handled", "closed"]
            for step, (before, after) in enumerate(itertools.pairwise(path)):
                when = (
                    at + timedelta(hours=hours)
                    if after == "closed"
                    else at + timedelta(minutes=step)
                )
                assert await store.transition_ticket(
                    ticket.ticket_id, before, after, "g", None, when
                )
        return now

    async def test_indicators_per_grid(self, store: Store, fixture_tickets: datetime) -> None:
        """Per grid: raised, accepted, closed, the rates and the hours to close."""
        rows = await store.ticket_stats("grid", None, None, False, fixture_tickets)
        assert rows == [
            TicketStatsRow(
                group=GRID,
                raised=3,
                accepted=2,
                closed=2,
                closure_rate=2 / 3,
                on_time_rate=0.5,
                mean_hours_to_close=20.0,
                p90_hours_to_close=28.0,
                false_alarm_rate=0.0,
            ),
            TicketStatsRow(
                group=OTHER_GRID,
                raised=2,
                accepted=0,
                closed=1,
                closure_rate=0.5,
                on_time_rate=1.0,
                mean_hours_to_close=2.0,
                p90_hours_to_close=2.0,
                false_alarm_rate=0.5,
            ),
        ]

    async def test_indicators_per_unit_type_and_range(
        self, store: Store, fixture_tickets: datetime
    ) -> None:
        """A ticket counts once for each unit type it names; `since`/`until` bound creation."""
        rows = await store.ticket_stats("unit", None, None, False, fixture_tickets)
        assert [(r.group, r.raised, r.closed) for r in rows] == [
            ("grid", 2, 1),
            ("police_station", 1, 0),
            ("property", 3, 3),
        ]
        police = rows[1]
        assert (police.closure_rate, police.on_time_rate, police.mean_hours_to_close) == (
            0.0,
            None,
            None,
        )
        recent = await store.ticket_stats(
            "community",
            fixture_tickets - timedelta(days=2),
            fixture_tickets,
            False,
            fixture_tickets,
        )
        assert [(r.group, r.raised, r.closed, r.accepted) for r in recent] == [(YIDA, 2, 1, 0)]
        none = await store.ticket_stats("category", fixture_tickets, None, False, fixture_tickets)
        assert none == []

    async def test_monthly_indicators_bucket_by_china_standard_time_month(
        self, store: Store, fixture_tickets: datetime
    ) -> None:
        """With `monthly`, each group is split by the CST month the tickets were raised in."""
        now = fixture_tickets
        rows = await store.ticket_stats("category", None, None, True, now)
        old, recent = month_of(now - timedelta(days=40)), month_of(now - timedelta(days=1))
        assert [(r.bucket, r.group, r.raised, r.closed, r.false_alarm_rate) for r in rows] == [
            (old, "safety", 3, 2, 1 / 3),
            (recent, "safety", 2, 1, 0.0),
        ]


class TestTicketStatsDefinitions:
    """Months and lateness as the district counts them."""

    async def test_a_ticket_early_on_the_1st_in_china_counts_in_that_month(
        self, store: Store, now: datetime
    ) -> None:
        """Raised at 00:30 CST on a month's 1st (16:30 UTC the day before), it counts in the
        new month, not the UTC month."""
        month = month_of(month_of(now) - timedelta(days=1))
        created = month + timedelta(minutes=30)
        assert created.astimezone(UTC).day != 1
        await store.record_tickets([draft(at=created)], created)
        rows = await store.ticket_stats("community", None, None, True, now)
        assert [(r.bucket, r.raised) for r in rows] == [(month, 1)]

    async def test_an_open_ticket_past_due_counts_as_late(
        self, store: Store, now: datetime
    ) -> None:
        """On-time rate: of the tickets closed or past due, those closed by their due time;
        an open ticket not yet due is not counted."""
        raised = now - timedelta(days=3)
        for key in ("closed", "open_late", "open_fresh"):
            at = now - timedelta(minutes=1) if key == "open_fresh" else raised
            await store.record_tickets([draft(key=key, at=at, forward=False)], at)
        closed = next(
            t
            for t in (await store.list_tickets(TicketQuery(), now)).data
            if t.dedup_key == "closed"
        )
        path: list[TicketStatus] = ["detected", "dispatched", "handled", "closed"]
        for before, after in itertools.pairwise(path):
            assert await store.transition_ticket(
                closed.ticket_id, before, after, "g", None, raised + timedelta(hours=1)
            )
        (row,) = await store.ticket_stats("community", None, None, False, now)
        assert (row.raised, row.closed, row.on_time_rate) == (3, 1, 0.5)


class TestWatchlist:
    """Plates on the government's watch-list, keyed by plate number."""

    async def test_put_replaces_by_plate_and_delete_removes(
        self, store: Store, now: datetime
    ) -> None:
        """A second put of a plate replaces its entry; delete says whether it removed one."""
        until = now + timedelta(days=7)
        first = [
            WatchlistEntry(plate_no="湘A12345", reason="在逃"),
            WatchlistEntry(plate_no="湘B00001", plate_color="blue", reason="套牌", until=until),
        ]
        assert await store.put_watchlist(first, now) == 2
        await store.put_watchlist([WatchlistEntry(plate_no="湘A12345", reason="盗抢")], now)
        assert await store.list_watchlist() == [
            WatchlistEntry(plate_no="湘A12345", reason="盗抢"),
            first[1],
        ]
        assert await store.delete_watchlist("湘A12345")
        assert not await store.delete_watchlist("湘A12345")
        assert await store.list_watchlist() == [first[1]]


class TestLeases:
    """One leader per lease name across processes."""

    async def test_sqlite_always_leads(self, sqlite_url: str) -> None:
        """A SQLite file has one process: it holds every lease."""
        store = open_store(sqlite_url)
        await store.open()
        try:
            assert await store.hold_lease("rules:yida")
        finally:
            await store.close()

    async def test_the_first_holder_keeps_it_until_it_closes(self, pg_dsn: str) -> None:
        """The first store to ask leads and keeps leading; the second gets the lease only once
        the first has closed."""
        first, second = open_store(pg_dsn), open_store(pg_dsn)
        await first.open()
        await second.open()
        try:
            assert await first.hold_lease("rules:yida")
            assert not await second.hold_lease("rules:yida")
            assert await second.hold_lease("forward")
            assert await first.hold_lease("rules:yida")
            await first.close()
            assert await second.hold_lease("rules:yida")
        finally:
            await first.close()
            await second.close()

    async def test_a_lease_lost_with_its_connection_passes_on(self, pg_dsn: str) -> None:
        """When the leader's lease connection breaks, its lock is gone: another store takes the
        lease, and the old leader's next call says it no longer holds it."""
        first, second = open_store(pg_dsn), open_store(pg_dsn)
        await first.open()
        await second.open()
        try:
            assert await first.hold_lease("forward")
            with psycopg.connect(pg_dsn, autocommit=True) as admin:
                # Waits (up to 10 s) until the backend has exited and its locks are gone.
                admin.execute(
                    "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks"
                    " WHERE locktype = 'advisory' AND granted AND database ="
                    " (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            assert await second.hold_lease("forward")
            assert not await first.hold_lease("forward")
            await second.close()
            assert await first.hold_lease("forward")
        finally:
            await first.close()
            await second.close()
