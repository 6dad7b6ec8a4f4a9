"""The grid-platform client (`gateway.forward`) over real HTTP: the reference receiver as a
process, and an in-process platform for the faults. Scheduling runs on an injected `now`, so
backoff is stepped over instead of waited for."""

import asyncio
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.config import Settings
from gateway.forward import Backoff, Forwarder, ForwardReport
from gateway.metrics import Metrics
from gateway.store import Store, open_store
from gateway.store.tickets import TicketDraft, TicketQuery
from schemas.platform import PlatformTicket
from testkit.gateway_process import GatewayProcess
from testkit.harness import wait_until
from testkit.platform import PLATFORM_SECRET, FaultyPlatform, PlatformReceiverProcess
from testkit.services import MosquittoService
from tests.gateway.store.ticket_drafts import draft

STEP = timedelta(minutes=5, seconds=1)
"""Longer than the longest backoff: every failed row is due again one step later."""


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    store = open_store(database)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[PlatformReceiverProcess]:
    """The reference receiver, not yet started (the platform is down until a test starts it)."""
    process = PlatformReceiverProcess(tmp_path / "received.jsonl")
    yield process
    process.stop()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[FaultyPlatform]:
    faulty = FaultyPlatform(tmp_path / "faulty.jsonl")
    faulty.start()
    yield faulty
    faulty.close()


def door_key(door: int) -> str:
    return f"safety.door_forced:yida:door-{door}"


def door_forced(door: int, occurrence: int = 1) -> TicketDraft:
    """A forced door (one ticket per door), its `occurrence`-th time, minutes ago."""
    at = datetime.now(UTC) - timedelta(minutes=30 - occurrence)
    return draft(door_key(door), f"o{occurrence}", at=at, event_ids=(f"e{door}-{occurrence}",))


def make_forwarder(store: Store, url: str, **options: object) -> Forwarder:
    values: dict[str, object] = {
        "url": url,
        "secret": PLATFORM_SECRET,
        "max_attempts": 20,
        "timeout_s": 5.0,
        "rng": random.Random(8),
        **options,
    }
    return Forwarder(store, **values)  # type: ignore[arg-type]


def metric(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


async def until_quiet(forwarder: Forwarder, now: datetime) -> tuple[datetime, list[ForwardReport]]:
    """Passes one `STEP` apart until one sends nothing; the last `now` and every report."""
    reports = []
    for _ in range(50):
        reports.append(await forwarder.run_once(now))
        if reports[-1].sent == 0:
            return now, reports
        now += STEP
    raise AssertionError("the outbox never went quiet")


class TestForwarderDelivery:
    """Every outbox row reaches the platform once, in order per ticket, signed and keyed."""

    async def test_platform_down_then_up_delivers_every_ticket_once_in_order(
        self, store: Store, receiver: PlatformReceiverProcess
    ) -> None:
        """While the platform is down rows fail and back off; once it is up, each ticket's
        create, evidence and cancellation arrive once each, in sequence order."""
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(door) for door in range(1, 6)], now)
        await store.record_tickets([door_forced(2, 2), door_forced(4, 2)], now)
        tickets = (await store.list_tickets(TicketQuery(), now)).data
        (cancelled,) = [t.ticket_id for t in tickets if t.dedup_key == door_key(5)]
        assert await store.transition_ticket(
            cancelled, "detected", "cancelled", "admin", "误报", now
        )
        metrics = Metrics()
        async with make_forwarder(store, receiver.url, metrics=metrics) as forwarder:
            for _ in range(3):  # down: connection refused, every time
                report = await forwarder.run_once(now)
                assert report == ForwardReport(failed=5)
                now += STEP
            pending = (await store.list_outbox("pending", 100, None)).data
            assert {row.attempts for row in pending if row.seq == 1} == {3}
            assert all(row.last_error for row in pending if row.seq == 1)
            receiver.start()
            now, reports = await until_quiet(forwarder, now)
        assert sum(report.delivered for report in reports) == 8
        assert sum(report.failed + report.dead for report in reports) == 0

        records = receiver.records()
        assert not [r for r in records if r["repeat"]]
        keys = [r["idempotency_key"] for r in records]
        assert len(keys) == len(set(keys)) == 8
        by_ticket: dict[str, list[int]] = defaultdict(list)
        for key in keys:
            ticket_id, seq = key.split(":")
            by_ticket[ticket_id].append(int(seq))
        assert len(by_ticket) == 5
        assert sorted(map(tuple, by_ticket.values())) == [(1,), (1,), (1, 2), (1, 2), (1, 2)]
        kinds = [
            r["body"].get("type", "create") for r in records if r["body"]["ticket_id"] == cancelled
        ]
        assert kinds == ["create", "cancelled"]

        creates = {
            r["body"]["ticket_id"]: r["platform_ticket_id"]
            for r in records
            if r["kind"] == "ticket"
        }
        for ticket_id, platform_ticket_id in creates.items():
            ticket = await store.get_ticket(ticket_id, now)
            assert ticket is not None and ticket.platform_ticket_id == platform_ticket_id
            assert ticket.status == ("cancelled" if ticket_id == cancelled else "reported")
        assert (await store.outbox_counts()).get("delivered") == 8
        assert metric(metrics, "scgw_forward_attempts_total", result="delivered") == 8
        assert metric(metrics, "scgw_forward_attempts_total", result="unreachable") == 15
        assert metric(metrics, "scgw_outbox_rows", state="delivered") == 8

    async def test_messages_carry_the_ticket_as_it_stands_when_sent(
        self, store: Store, receiver: PlatformReceiverProcess
    ) -> None:
        """The create is the ticket's platform view; the evidence update its evidence so far."""
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(7)], now)
        await store.record_tickets([door_forced(7, 2), door_forced(7, 3)], now)
        receiver.start()
        async with make_forwarder(store, receiver.url) as forwarder:
            now, _ = await until_quiet(forwarder, now)
        create, update = receiver.records()
        ticket_id = create["body"]["ticket_id"]
        stored = await store.get_ticket(ticket_id, now)
        assert stored is not None
        sent = PlatformTicket.model_validate(create["body"])
        assert sent.evidence == stored.evidence and sent.occurrences == 3
        assert "dedup_key" not in create["body"] and "history" not in create["body"]
        assert update["body"]["type"] == "evidence"
        assert update["body"]["occurrences"] == 3
        assert update["body"]["evidence"]["count"] == 3

    async def test_no_platform_url_means_no_forwarder(self, store: Store) -> None:
        """Without SCGW_PLATFORM_URL tickets stay local: there is nothing to run."""
        assert Forwarder.from_settings(store, Settings()) is None


class TestForwarderFailures:
    """Refusals, silence and nonsense count as failed attempts, backed off, then dead."""

    async def test_500s_are_retried_with_backoff_until_accepted(
        self, store: Store, platform: FaultyPlatform
    ) -> None:
        """A 500 schedules the next attempt 1 to 2 s later (the first backoff), then 2 to 4 s."""
        failures = iter(range(2))
        platform.fault = lambda target, body: (
            (500, b"{}") if next(failures, None) is not None else None
        )
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(1)], now)
        async with make_forwarder(store, platform.url) as forwarder:
            assert await forwarder.run_once(now) == ForwardReport(failed=1)
            (row,) = (await store.list_outbox("pending", 10, None)).data
            assert row.last_error == "HTTP 500" and row.attempts == 1
            assert row.next_attempt_at is not None
            assert now + timedelta(seconds=1) <= row.next_attempt_at <= now + timedelta(seconds=2)
            assert await forwarder.run_once(now + timedelta(seconds=0.5)) == ForwardReport()
            assert await forwarder.run_once(row.next_attempt_at) == ForwardReport(failed=1)
            (row,) = (await store.list_outbox("pending", 10, None)).data
            assert row.next_attempt_at is not None and row.attempts == 2
            _, reports = await until_quiet(forwarder, row.next_attempt_at)
        assert reports[0] == ForwardReport(delivered=1)

    async def test_a_slow_platform_times_out_and_the_retry_is_a_repeat(
        self, store: Store, platform: FaultyPlatform
    ) -> None:
        """No answer in time is a failure; the platform kept the message, so the retry (same
        Idempotency-Key) gets the same platform id back."""
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(1)], now)
        platform.hold()
        async with make_forwarder(store, platform.url, timeout_s=0.5) as forwarder:
            assert await forwarder.run_once(now) == ForwardReport(failed=1)
            (row,) = (await store.list_outbox("pending", 10, None)).data
            assert row.last_error == "no answer within 0.5 s"
            platform.release()
            _, reports = await until_quiet(forwarder, now + STEP)
        assert reports[0] == ForwardReport(delivered=1)
        ticket = await store.get_ticket(row.ticket_id, now)
        assert ticket is not None and ticket.platform_ticket_id == "gp-000001"
        assert platform.requests == 2

    @pytest.mark.parametrize(
        ("answer", "error"),
        [
            ("unsafe_id", "HTTP 201 without a valid platform_ticket_id"),
            ("undecodable", "unreadable answer: DecodingError"),
        ],
    )
    async def test_a_bad_answer_is_a_failed_attempt(
        self, store: Store, platform: FaultyPlatform, answer: str, error: str
    ) -> None:
        """A 201 whose id is not a short safe token, or an answer httpx cannot decode (a gzip
        header on plain JSON), is not taken: a bad answer, and the row is retried."""
        if answer == "unsafe_id":
            platform.fault = lambda target, body: (201, b'{"platform_ticket_id": "../../etc"}')
        else:
            platform.encoding = "gzip"
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(1)], now)
        metrics = Metrics()
        async with make_forwarder(store, platform.url, metrics=metrics) as forwarder:
            assert await forwarder.run_once(now) == ForwardReport(failed=1)
            (row,) = (await store.list_outbox("pending", 10, None)).data
            assert row.last_error == error
            platform.fault, platform.encoding = None, None
            _, reports = await until_quiet(forwarder, now + STEP)
        assert reports[0] == ForwardReport(delivered=1)
        assert metric(metrics, "scgw_forward_attempts_total", result="bad_answer") == 1
        ticket = await store.get_ticket(row.ticket_id, now)
        assert ticket is not None and ticket.platform_ticket_id == "gp-000001"

    async def test_a_wrong_secret_is_refused_until_dead_then_retried_by_an_admin(
        self, store: Store, platform: FaultyPlatform
    ) -> None:
        """401s use up the attempts; the dead row holds back the ticket's later rows until
        `retry_outbox` makes it pending again."""
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(1)], now)
        await store.record_tickets([door_forced(1, 2)], now)
        metrics = Metrics()
        wrong = make_forwarder(
            store,
            platform.url,
            secret="a-wrong-secret-0123456789abcdefXYZ",
            max_attempts=3,
            metrics=metrics,
        )
        async with wrong:
            _, reports = await until_quiet(wrong, now)
        assert [r for r in reports if r.sent] == [
            ForwardReport(failed=1),
            ForwardReport(failed=1),
            ForwardReport(dead=1),
        ]
        (dead,) = (await store.list_outbox("dead", 10, None)).data
        assert (dead.seq, dead.attempts, dead.last_error) == (1, 3, "HTTP 401 bad_signature")
        assert metric(metrics, "scgw_forward_attempts_total", result="refused") == 3
        assert metric(metrics, "scgw_outbox_rows", state="dead") == 1
        assert metric(metrics, "scgw_outbox_rows", state="pending") == 1
        assert platform.records() == []  # every request was refused
        assert await store.retry_outbox(dead.ticket_id, now) == 1
        async with make_forwarder(store, platform.url, metrics=metrics) as right:
            _, reports = await until_quiet(right, now)
        assert sum(r.delivered for r in reports) == 2
        assert metric(metrics, "scgw_outbox_rows", state="dead") == 0
        assert metric(metrics, "scgw_outbox_rows", state="delivered") == 2

    async def test_a_clock_beyond_300_s_is_refused_by_the_platform(
        self, store: Store, receiver: PlatformReceiverProcess
    ) -> None:
        """A gateway clock more than 300 s off signs stale timestamps: 401 stale_timestamp."""
        receiver.start()
        now = datetime.now(UTC)
        await store.record_tickets([door_forced(1)], now)
        skewed = make_forwarder(
            store, receiver.url, clock=lambda: datetime.now(UTC) + timedelta(seconds=400)
        )
        async with skewed:
            assert await skewed.run_once(now) == ForwardReport(failed=1)
        (row,) = (await store.list_outbox("pending", 10, None)).data
        assert row.last_error == "HTTP 401 stale_timestamp"
        assert receiver.records() == []


class TestForwarderLoop:
    """`run()` outlives whatever one pass raises."""

    async def test_a_pass_that_raises_is_logged_and_the_next_pass_delivers(
        self, store: Store, platform: FaultyPlatform, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An error no delivery expects (a transport raising a plain `ValueError`) is logged
        by type and the loop goes on; once the client works again, the ticket is delivered."""
        broken = {"on": True}

        def transport() -> httpx.AsyncBaseTransport:
            real = httpx.AsyncHTTPTransport()

            class Flaky(httpx.AsyncBaseTransport):
                async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                    if broken["on"]:
                        raise ValueError("not an HTTP error")
                    return await real.handle_async_request(request)

            return Flaky()

        forwarder = make_forwarder(
            store,
            platform.url,
            interval_s=0.05,
            client_factory=lambda: httpx.AsyncClient(transport=transport()),
        )
        await store.record_tickets([door_forced(1)], datetime.now(UTC))
        caplog.set_level(logging.ERROR, logger="gateway.forward")  # whatever earlier tests set
        task = asyncio.create_task(forwarder.run())
        try:
            await wait_until(lambda: "forwarding pass failed: ValueError" in caplog.text)
            broken["on"] = False
            await wait_until(
                lambda: _delivered(store), what="the ticket delivered after the failed passes"
            )
            assert not task.done()
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _delivered(store: Store) -> bool:
    return (await store.outbox_counts())["delivered"] == 1


class TestBackoff:
    """Full jitter: uniform up to base·2ⁿ, capped, never under the base."""

    @pytest.mark.parametrize("failed", [1, 2, 5, 9, 20, 500])
    def test_delays_stay_within_base_and_ceiling(self, failed: int) -> None:
        """Every drawn delay lies in [1 s, min(300 s, 2ⁿ s)]."""
        rng = random.Random(failed)
        delays = [Backoff().delay(failed, rng).total_seconds() for _ in range(200)]
        ceiling = min(300.0, 2.0**failed)
        assert all(1.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter reaches the upper half


class TestForwarderLease:
    """One process forwards at a time (the store lease `forward`); another takes over when
    the leader's connection is gone."""

    async def test_one_forwarder_sends_and_another_takes_over(
        self, pg_dsn: str, receiver: PlatformReceiverProcess
    ) -> None:
        """Two running forwarders on one database: all deliveries by one; once its store
        closes, the other delivers what comes next."""
        receiver.start()
        stores = [open_store(pg_dsn), open_store(pg_dsn)]
        for each in stores:
            await each.open()
        await stores[0].migrate()
        metrics = [Metrics(), Metrics()]
        tasks = [
            asyncio.create_task(
                make_forwarder(each, receiver.url, metrics=counts, interval_s=0.05).run()
            )
            for each, counts in zip(stores, metrics, strict=True)
        ]

        def delivered() -> list[float]:
            return [metric(m, "scgw_forward_attempts_total", result="delivered") for m in metrics]

        try:
            now = datetime.now(UTC)
            await stores[0].record_tickets([door_forced(door) for door in range(1, 4)], now)
            await wait_until(lambda: sum(delivered()) == 3, what="three deliveries")
            assert sorted(delivered()) == [0, 3]
            leader = delivered().index(3)

            async def all_marked() -> bool:
                """The leader counts a delivery on the platform's 201, then marks the row:
                cancelling it in between would leave a row the other must send again."""
                return (await stores[0].outbox_counts()).get("pending", 0) == 0

            await wait_until(all_marked, what="the three rows marked delivered")
            tasks[leader].cancel()
            await asyncio.gather(tasks[leader], return_exceptions=True)
            await stores[leader].close()
            await stores[1 - leader].record_tickets([door_forced(4)], now)
            await wait_until(lambda: delivered()[1 - leader] == 1, what="the other to take over")
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for each in stores:
                await each.close()
        assert len(receiver.records()) == 4
        assert not [record for record in receiver.records() if record["repeat"]]


class TestForwarderCrash:
    """A gateway killed between the platform receiving a message and the row being marked
    sends it again after restart; the platform's idempotency makes it one ticket."""

    async def test_sigkill_before_the_answer_still_delivers_each_ticket_once(
        self, mosquitto: MosquittoService, pg_dsn: str, tmp_path: Path
    ) -> None:
        """The platform holds its answers; the gateway is SIGKILLed with the requests in
        flight; after restart every ticket is delivered, each kept once by the platform."""
        platform = FaultyPlatform(tmp_path / "platform.jsonl")
        platform.start()
        platform.hold()
        store = open_store(pg_dsn)
        await store.open()
        gateway = GatewayProcess(
            mosquitto.url,
            pg_dsn,
            tmp_path / "gateway.log",
            platform_url=platform.url,
            platform_secret=PLATFORM_SECRET,
            forward_interval_s="0.2",
        )
        try:
            await store.migrate()
            now = datetime.now(UTC)
            await store.record_tickets([door_forced(door) for door in range(1, 4)], now)
            gateway.start()
            await wait_until(lambda: platform.requests >= 3, what="three requests in flight")
            gateway.kill()
            assert (await store.outbox_counts()).get("delivered", 0) == 0
            platform.release()  # the platform keeps them; the gateway never hears
            gateway.start()

            async def delivered() -> bool:
                return (await store.outbox_counts()).get("delivered", 0) == 3

            await wait_until(delivered, what="three rows delivered", timeout_s=60)
            kept = [r for r in platform.records() if not r["repeat"]]
            assert sorted(r["idempotency_key"].split(":")[1] for r in kept) == ["1", "1", "1"]
            assert len([r for r in platform.records() if r["repeat"]]) == 3
            for record in kept:
                ticket = await store.get_ticket(record["body"]["ticket_id"], now)
                assert ticket is not None
                assert ticket.platform_ticket_id == record["platform_ticket_id"]
        finally:
            gateway.stop()
            platform.close()
            await store.close()
