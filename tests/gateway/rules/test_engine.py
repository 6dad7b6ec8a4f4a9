"""The watermark rules' runner (`gateway.rules.engine`): deadlines fire once, at their event
time, when the watermark passes them; one process per community, by lease."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from gateway.rules.base import Finding, Rule
from gateway.rules.catalog import LONGEST, THRESHOLD_UNITS, Catalog, default_catalog
from gateway.rules.engine import RuleEngine
from gateway.rules.watermark import (
    CALENDAR_MARGIN,
    community_watermarks,
    evaluation_points,
    local_midnights,
)
from gateway.store import Store, open_store
from gateway.store.tickets import TicketQuery
from gateway.watchlist import WatchlistHolder
from schemas.events import DeviceEvent
from schemas.tickets import WatchlistEntry
from schemas.times import CHINA_STANDARD_TIME
from tests.gateway.rules.drafting import pilot_drafter
from tests.gateway.rules.rule_events import (
    CALENDAR_ENDS,
    YIDA,
    door_state,
    heartbeat,
    visit,
)

LATENESS = timedelta(minutes=10)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def engine(
    store: Store, watchlist: WatchlistHolder | None = None, *, lateness: timedelta = LATENESS
) -> RuleEngine:
    catalog = default_catalog()
    drafter = pilot_drafter(catalog)
    return RuleEngine(
        store, catalog, drafter, lateness=lateness, interval_s=30, watchlist=watchlist
    )


async def held_open_tickets(store: Store, now: datetime) -> list[tuple[str, datetime, int]]:
    page = await store.list_tickets(TicketQuery(rule="safety.door_held_open"), now)
    return [(t.evidence.event_ids[0], t.detected_at, t.occurrences) for t in page.data]


class TestEvaluationPoints:
    def test_every_local_midnight_and_the_watermark(self) -> None:
        """Between two evaluations, each China Standard Time midnight passed, then the mark."""
        last = datetime(2026, 11, 28, 20, tzinfo=CHINA_STANDARD_TIME)
        watermark = last + timedelta(days=2)
        midnights = local_midnights(last, watermark)
        assert [m.astimezone(CHINA_STANDARD_TIME).hour for m in midnights] == [0, 0]
        assert evaluation_points(last, watermark) == [*midnights, watermark]
        assert evaluation_points(watermark, watermark) == []
        assert len(evaluation_points(None, watermark)) == 8  # a week back, then the mark

    def test_the_calendar_ends_do_not_overflow(self) -> None:
        """A watermark at year 1 or at the end of 9999 gives its instants, held at the
        calendar's ends, instead of raising."""
        start = datetime(1, 1, 1, tzinfo=UTC)
        end = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
        assert evaluation_points(None, start + timedelta(hours=1))[-1] == start + timedelta(hours=1)
        assert evaluation_points(None, end)[-1] == end
        assert community_watermarks({"yida": start}, LATENESS) == {"yida": start + CALENDAR_MARGIN}


class TestRuleEngine:
    async def test_a_passed_deadline_fires_once_at_its_event_time(
        self, store: Store, now: datetime
    ) -> None:
        """Nothing while the watermark is short of the deadline; once past it, one ticket dated
        at the deadline; another cycle, or a restarted engine, adds nothing."""
        opened = door_state(1, now - 40 * MINUTE, "opened")
        await store.write_batch([opened, heartbeat(2, now - 33 * MINUTE)], [])
        rules = engine(store)
        early = await rules.run_once(now)
        assert (early.opened, await held_open_tickets(store, now)) == (0, [])
        await store.write_batch([heartbeat(3, now)], [])
        assert (await rules.run_once(now)).opened == 1
        assert await held_open_tickets(store, now) == [
            ("door-000001", opened.occurred_at + 5 * MINUTE, 1)
        ]
        again = await rules.run_once(now)
        assert (again.opened, again.updated, again.repeated) == (0, 0, 0)
        restarted = await engine(store).run_once(now)  # resumes at the stored marks
        assert (restarted.opened, restarted.updated, restarted.repeated) == (0, 0, 0)
        assert await held_open_tickets(store, now) == [
            ("door-000001", opened.occurred_at + 5 * MINUTE, 1)
        ]

    async def test_a_late_event_moves_no_deadline_back(self, store: Store, now: datetime) -> None:
        """An event older than the watermark neither lowers it nor re-runs passed instants: a
        door closed too late leaves the ticket it fired."""
        opened = door_state(1, now - 40 * MINUTE, "opened")
        await store.write_batch([opened, heartbeat(2, now)], [])
        rules = engine(store)
        assert (await rules.run_once(now)).opened == 1
        newest = await store.watermarks()
        await store.write_batch([door_state(3, now - 38 * MINUTE, "closed")], [])
        assert await store.watermarks() == newest
        late = await rules.run_once(now)
        assert (late.opened, late.updated, late.repeated) == (0, 0, 0)
        assert len(await held_open_tickets(store, now)) == 1

    async def test_a_clock_ahead_cannot_drag_the_watermark(
        self, store: Store, now: datetime
    ) -> None:
        """A heartbeat dated an hour ahead counts at its arrival: a deadline only that clock
        would pass does not fire."""
        await store.write_batch(
            [
                door_state(1, now - 12 * MINUTE, "opened"),
                heartbeat(2, now + timedelta(hours=1), received_at=now),
            ],
            [],
        )
        assert (await engine(store).run_once(now)).opened == 0
        assert await held_open_tickets(store, now) == []

    async def test_each_cycle_reloads_the_watch_list(self, store: Store, now: datetime) -> None:
        """A plate put on the list through another process is in this one's snapshot after a
        cycle, and one taken off is gone."""
        holder = WatchlistHolder([WatchlistEntry(plate_no="湘B00001", reason="旧")])
        await store.put_watchlist([WatchlistEntry(plate_no="湘A12345", reason="协查")], now)
        await engine(store, holder).run_once(now)
        assert set(holder.snapshot) == {"湘A12345"}


class TestArrivalOrderAcrossProcesses:
    """A shared subscription keeps no per-device order: a killed process's share is stored
    after the later events the others stored meanwhile, and the restarted process evaluates
    the rules at its start, before its share comes back (what the four-process test does).
    Within the allowed lateness that changes nothing; later than it, a late `closed` does not
    withdraw the held-open ticket its absence raised."""

    @staticmethod
    async def deliver(
        store: Store, now: datetime, lateness: timedelta, *, killed_share_last: bool
    ) -> list[tuple[str, datetime, int]]:
        """A burst replayed fast: door 1 opened and closed ten seconds later, door 2 opened
        and left open, both 18 minutes of event time before the newest event. The killed
        process held door 1's `closed`; the engine evaluates after each batch stored."""
        others: list[DeviceEvent] = [
            door_state(1, now - 18 * MINUTE, "opened", door="1"),
            door_state(2, now - 18 * MINUTE, "opened", door="2"),
            heartbeat(3, now),
        ]
        killed: list[DeviceEvent] = [
            door_state(4, now - 18 * MINUTE + 10 * SECOND, "closed", door="1")
        ]
        later: list[DeviceEvent] = [heartbeat(5, now + 20 * MINUTE)]
        batches = [others, killed, later] if killed_share_last else [others + killed, later]
        rules = engine(store, lateness=lateness)
        for batch in batches:
            await store.write_batch(batch, [])
            await rules.run_once(now)
        return await held_open_tickets(store, now)

    @pytest.mark.parametrize("killed_share_last", [False, True], ids=["in order", "split"])
    async def test_within_the_lateness_any_order_gives_the_same_tickets(
        self, store: Store, now: datetime, killed_share_last: bool
    ) -> None:
        """With a lateness that covers the burst's disorder (30 minutes for a share 18 minutes
        behind), door 1 is closed in time in either order: door 2's ticket only."""
        tickets = await self.deliver(store, now, 30 * MINUTE, killed_share_last=killed_share_last)
        assert tickets == [("door-000002", now - 13 * MINUTE, 1)]

    @pytest.mark.parametrize(
        ("killed_share_last", "doors"),
        [(False, ["door-000002"]), (True, ["door-000001", "door-000002"])],
        ids=["in order", "split"],
    )
    async def test_later_than_the_lateness_a_late_close_leaves_the_ticket(
        self, store: Store, now: datetime, killed_share_last: bool, doors: list[str]
    ) -> None:
        """With the default 10 minutes, the killed share is later than the lateness: split,
        the watermark passed door 1's deadline before its `closed` was stored, and door 1 has
        a ticket that in-order delivery does not raise (the four-process test's flake)."""
        tickets = await self.deliver(store, now, LATENESS, killed_share_last=killed_share_last)
        assert sorted(tickets) == [(door, now - 13 * MINUTE, 1) for door in doors]


async def ticket_keys(store: Store, now: datetime) -> list[tuple[str, str, int]]:
    page = await store.list_tickets(TicketQuery(), now)
    return sorted((t.rule, t.evidence.event_ids[0], t.occurrences) for t in page.data)


class TestStoredMarks:
    async def test_a_late_backlog_gives_the_same_tickets_after_a_restart(
        self, store: Store, now: datetime
    ) -> None:
        """A backlog three days behind the watermark raises no time-based ticket in the running
        engine, and none after a restart either: the restarted engine resumes at the marks."""
        await store.write_batch([heartbeat(1, now)], [])
        running = engine(store)
        await running.run_once(now)
        old = now - timedelta(days=3)
        backlog: list[DeviceEvent] = [
            door_state(10, old, "opened"),
            door_state(11, old + 30 * MINUTE, "closed"),
            visit(20, old, "registered", "V-late", valid_until=old + timedelta(hours=2)),
            visit(21, old + MINUTE, "checked_in", "V-late"),
        ]
        await store.write_batch(backlog, [])
        await store.write_batch([heartbeat(2, now + MINUTE)], [])
        await running.run_once(now + MINUTE)
        seen_running = await ticket_keys(store, now)
        await engine(store).run_once(now + 2 * MINUTE)
        assert await ticket_keys(store, now) == seen_running == []

    async def test_a_new_engine_on_a_reopened_store_resumes_at_the_mark(
        self, database: str, now: datetime
    ) -> None:
        """Every watermark rule's mark is stored at the watermark it reached; a new process
        resumes there instead of `CATCH_UP` back, so a two-day-old held-open door that arrived
        while it was down raises nothing, and the marks move on to the new watermark."""
        first = open_store(database)
        await first.open()
        await first.migrate()
        try:
            await first.write_batch([heartbeat(1, now)], [])
            await engine(first).run_once(now)
            codes = {rule.code for rule in default_catalog().timed("watermark")}
            assert await first.rule_marks(YIDA) == dict.fromkeys(codes, now - LATENESS)
        finally:
            await first.close()
        second = open_store(database)
        await second.open()
        try:
            old = now - timedelta(days=2)
            await second.write_batch([door_state(2, old, "opened"), heartbeat(3, now + MINUTE)], [])
            resumed = await engine(second).run_once(now + MINUTE)
            assert (resumed.opened, await held_open_tickets(second, now)) == (0, [])
            marks = await second.rule_marks(YIDA)
            assert marks == dict.fromkeys(codes, now + MINUTE - LATENESS)
        finally:
            await second.close()


class TestFailingRule:
    async def test_a_rule_that_raises_keeps_its_mark_and_is_logged_once(
        self, store: Store, now: datetime, caplog: pytest.LogCaptureFixture
    ) -> None:
        """While a rule raises, its instants are retried each cycle (logged once, not per
        cycle) and the other rules move on; once it recovers it evaluates from where it
        failed."""
        seen: list[datetime] = []
        broken = True

        async def flaky(
            store: object, community: str, watermark: datetime, thresholds: object
        ) -> list[Finding]:
            if broken:
                raise RuntimeError("a bug")
            seen.append(watermark)
            return []

        flaky_rule = Rule("test.flaky", "safety", "watermark", {}, flaky, "t", "d", "s")
        catalog = Catalog([*default_catalog().values(), flaky_rule])
        rules = RuleEngine(store, catalog, pilot_drafter(catalog), lateness=LATENESS, interval_s=30)
        await store.write_batch([door_state(1, now - 40 * MINUTE, "opened"), heartbeat(2, now)], [])
        caplog.set_level(logging.ERROR, logger="gateway.rules.engine")
        assert (await rules.run_once(now)).opened == 1  # door_held_open is not held back
        await store.write_batch([heartbeat(3, now + MINUTE)], [])
        await rules.run_once(now)
        assert [r.message.startswith("watermark rule test.flaky") for r in caplog.records] == [True]
        broken = False
        await rules.run_once(now)
        first = evaluation_points(None, now - LATENESS)[0]
        assert seen[0] == first and seen[-1] == now + MINUTE - LATENESS


class TestEveryWatermarkRule:
    @pytest.mark.parametrize("newest", CALENDAR_ENDS)
    async def test_the_calendar_ends_do_not_overflow(
        self, store: Store, newest: datetime, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A community whose newest event is dated at year 1 or 9999 is evaluated by every
        watermark rule, their durations at their longest, without one of them raising."""
        await store.write_batch([heartbeat(1, newest, received_at=newest)], [])
        overrides = {
            rule.code: {
                name: LONGEST / unit
                for name in rule.thresholds
                if (unit := THRESHOLD_UNITS.get(name.rsplit("_", 1)[-1])) is not None
            }
            for rule in default_catalog().timed("watermark")
        }
        catalog = default_catalog().configured(overrides)
        rules = RuleEngine(store, catalog, pilot_drafter(catalog), lateness=LATENESS, interval_s=30)
        caplog.set_level(logging.ERROR, logger="gateway.rules.engine")
        await rules.run_once(datetime.now(UTC))
        assert [r.message for r in caplog.records] == []


class TestLeadership:
    async def test_only_the_lease_holder_evaluates_and_another_takes_over(
        self, pg_dsn: str, now: datetime
    ) -> None:
        """Two gateways on one PostgreSQL: the first to try leads the community, the other
        evaluates nothing; when the leader's connection closes, the other takes over at its
        next cycle and finds what came after."""
        first, second = open_store(pg_dsn), open_store(pg_dsn)
        await first.open()
        await second.open()
        try:
            await first.migrate()
            await first.write_batch(
                [door_state(1, now - 60 * MINUTE, "opened"), heartbeat(2, now - 30 * MINUTE)], []
            )
            leader, follower = engine(first), engine(second)
            assert (await leader.run_once(now)).opened == 1
            idle = await follower.run_once(now)
            assert (idle.opened, idle.repeated) == (0, 0)
            await first.close()
            await second.write_batch(
                [door_state(3, now - 25 * MINUTE, "opened", door="2"), heartbeat(4, now)], []
            )
            taken = await follower.run_once(now)
            assert (taken.opened, taken.updated) == (1, 0)
            assert taken.repeated >= 1  # the leader's ticket, found again
            assert sorted(t[0] for t in await held_open_tickets(second, now)) == [
                "door-000001",
                "door-000003",
            ]
        finally:
            await first.close()
            await second.close()
