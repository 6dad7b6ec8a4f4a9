"""The live stream's hub and sources (`gateway.stream`, `gateway.stream_sources`): opaque ids
that count nothing, resuming with exactly the missed messages or a reset, per-reader filtering, a
slow reader dropped without ever blocking the publisher; the ticket feed over both stores
publishing each change once, whoever made it; the device feed publishing status changes;
stream tokens used once. Clocks are injected; nothing sleeps."""

import asyncio
import itertools
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from gateway.metrics import Metrics
from gateway.store import Store
from gateway.store.stream import TicketPosition
from gateway.store.tickets import TicketQuery
from gateway.stream import Reader, SlowReaderError, StreamEndedError, StreamHub, StreamMessage
from gateway.stream_sources import DeviceFeed, TicketFeed
from schemas.devices import DeviceRegistration
from tests.gateway.observed_events import DOOR, YIDA, access
from tests.gateway.store.ticket_drafts import JIAXIN, draft


def everything(message: StreamMessage) -> bool:
    return True


def hub(resume_max: int = 100, queue_max: int = 10, **kwargs: object) -> StreamHub:
    return StreamHub(resume_max=resume_max, queue_max=queue_max, **kwargs)  # type: ignore[arg-type]


def publish(stream: StreamHub, count: int, community: str = YIDA) -> list[str]:
    return [stream.publish("event", community, {"n": n}).id for n in range(count)]


async def drain(reader: Reader) -> list[str]:
    """Every message the reader has now, by id."""
    ids: list[str] = []
    while True:
        try:
            async with asyncio.timeout(0.05):
                ids.append((await reader.next()).id)
        except TimeoutError:
            return ids


class TestIds:
    def test_an_id_is_the_epoch_and_sixteen_random_hex_digits(self) -> None:
        stream = hub(epoch="e1")
        for message_id in publish(stream, 3):
            epoch, _, token = message_id.partition("-")
            assert epoch == "e1"
            assert re.fullmatch("[0-9a-f]{16}", token)

    def test_every_process_draws_its_own_epoch(self) -> None:
        assert hub().epoch != hub().epoch

    def test_a_message_encodes_as_a_server_sent_event(self) -> None:
        message = hub(epoch="e1").publish("ticket", YIDA, {"title": "单元门"})
        assert message.encode().decode() == (
            f'id: {message.id}\nevent: ticket\ndata: {{"title":"单元门"}}\n\n'
        )


class TestIdsRevealNothing:
    """A reader sees a filtered part of one sequence: its ids must not count the rest."""

    async def test_a_scoped_reader_s_ids_carry_no_count_of_the_messages_it_did_not_get(
        self,
    ) -> None:
        stream = hub(queue_max=1000, epoch="e1")
        scoped, _ = stream.connect(lambda m: m.community == YIDA)
        admin, _ = stream.connect(everything)
        for n in range(200):
            stream.publish("event", YIDA if n % 3 == 0 else JIAXIN, {"n": n})
        scoped_ids, admin_ids = await drain(scoped), await drain(admin)
        assert set(scoped_ids) < set(admin_ids)
        tokens = [message_id.removeprefix("e1-") for message_id in admin_ids]
        assert len(set(tokens)) == 200
        assert tokens != sorted(tokens)  # 200 random tokens in order: chance 1/200!
        scoped_tokens = [message_id.removeprefix("e1-") for message_id in scoped_ids]
        adjacent = sum(int(b, 16) > int(a, 16) for a, b in itertools.pairwise(scoped_tokens))
        assert 0 < adjacent < len(scoped_tokens) - 1  # neither rising nor falling

    def test_a_reset_mark_is_new_each_time_and_names_no_message(self) -> None:
        stream = hub(epoch="e1")
        published = set(publish(stream, 3))
        marks = {stream.mark() for _ in range(3)}
        assert len(marks) == 3
        assert not marks & published
        assert all(re.fullmatch("e1-[0-9a-f]{16}", mark) for mark in marks)


class TestResume:
    async def test_a_reader_resuming_gets_exactly_the_missed_messages_then_live_ones(
        self,
    ) -> None:
        stream = hub(epoch="e1")
        ids = publish(stream, 5)
        reader, reset = stream.connect(everything, last_event_id=ids[1])
        live = publish(stream, 1)
        assert not reset
        assert await drain(reader) == ids[2:] + live

    async def test_a_reader_at_the_newest_id_misses_nothing(self) -> None:
        stream = hub(epoch="e1")
        ids = publish(stream, 2)
        reader, reset = stream.connect(everything, last_event_id=ids[-1])
        assert not reset
        assert await drain(reader) == []

    @pytest.mark.parametrize(
        "last_event_id",
        ["other-3", "e1-3", "e1-0123456789abcdef", "garbage", "", "fell off", "other epoch"],
    )
    async def test_an_id_it_cannot_resume_from_gets_a_reset_and_then_live_messages(
        self, last_event_id: str
    ) -> None:
        """Another epoch (a restart, another process), an unknown or malformed id (an old
        numbered one included), or one that fell off the ring (the first of 5 messages with
        a ring of 3)."""
        stream = hub(resume_max=3, epoch="e1")
        ids = publish(stream, 5)
        if last_event_id == "fell off":
            last_event_id = ids[0]
        if last_event_id == "other epoch":
            last_event_id = "e2-" + ids[-1].removeprefix("e1-")
        reader, reset = stream.connect(everything, last_event_id=last_event_id)
        live = publish(stream, 1)
        assert reset
        assert await drain(reader) == live

    async def test_the_oldest_kept_message_can_still_be_resumed_after(self) -> None:
        stream = hub(resume_max=3, epoch="e1")
        ids = publish(stream, 5)  # the ring keeps e1-3 .. e1-5
        reader, reset = stream.connect(everything, last_event_id=ids[1])
        assert not reset
        assert await drain(reader) == ids[2:]

    async def test_resuming_replays_only_what_the_reader_may_see(self) -> None:
        stream = hub(epoch="e1")
        start = stream.mark()
        yida = stream.publish("event", YIDA, {}).id
        stream.publish("event", JIAXIN, {})
        reader, _ = stream.connect(lambda m: m.community == YIDA, last_event_id=start)
        assert await drain(reader) == [yida]

    async def test_ids_stay_resumable_exactly_as_long_as_the_ring_covers_them(self) -> None:
        """With a ring of 3: after any of the 3 kept messages, or the one just before them;
        the ids older than that are forgotten, so the lookup stays bounded."""
        stream = hub(resume_max=3, epoch="e1")
        ids = publish(stream, 50)
        for index in (46, 47, 48, 49):
            reader, reset = stream.connect(everything, last_event_id=ids[index])
            assert not reset
            assert await drain(reader) == ids[index + 1 :]
            stream.disconnect(reader)
        _, reset = stream.connect(everything, last_event_id=ids[45])
        assert reset
        assert len(stream._resumable) == 4

    async def test_a_reset_mark_resumes_after_the_moment_it_was_made(self) -> None:
        stream = hub(resume_max=3, epoch="e1")
        publish(stream, 2)
        mark = stream.mark()
        after = publish(stream, 3)
        reader, reset = stream.connect(everything, last_event_id=mark)
        assert not reset
        assert await drain(reader) == after
        publish(stream, 1)  # the ring no longer holds the first message after the mark
        _, reset = stream.connect(everything, last_event_id=mark)
        assert reset

    async def test_marks_are_bounded(self) -> None:
        stream = hub(resume_max=3, epoch="e1")
        first = stream.mark()
        for _ in range(3):
            stream.mark()
        _, reset = stream.connect(everything, last_event_id=first)
        assert reset


class TestReaders:
    async def test_each_reader_gets_only_what_it_admits(self) -> None:
        stream = hub()
        yida_reader, _ = stream.connect(lambda m: m.community == YIDA)
        jiaxin_reader, _ = stream.connect(lambda m: m.community == JIAXIN)
        yida = publish(stream, 2, YIDA)
        jiaxin = publish(stream, 1, JIAXIN)
        assert await drain(yida_reader) == yida
        assert await drain(jiaxin_reader) == jiaxin

    async def test_a_disconnected_reader_gets_nothing_more(self) -> None:
        stream = hub()
        reader, _ = stream.connect(everything)
        stream.disconnect(reader)
        publish(stream, 1)
        assert await drain(reader) == []


class TestSlowReader:
    async def test_a_reader_falling_a_full_queue_behind_is_dropped_and_counted(self) -> None:
        metrics = Metrics()
        stream = hub(queue_max=3, metrics=metrics)
        slow, _ = stream.connect(everything)
        keeping_up, _ = stream.connect(everything)
        for n in range(4):  # never waits, whatever the readers do
            ids = publish(stream, 1)
            if n < 3:
                assert (await keeping_up.next()).id == ids[0]
        with pytest.raises(SlowReaderError):
            await slow.next()  # the queued messages are dropped with it: it resumes by id
        with pytest.raises(SlowReaderError):
            await slow.next()
        assert (await keeping_up.next()).id == ids[0]
        assert b"scgw_stream_readers_dropped_total 1.0" in metrics.render()
        assert b"scgw_stream_readers 1.0" in metrics.render()

    def test_publishing_ten_thousand_messages_to_a_reader_who_never_reads_never_blocks(
        self,
    ) -> None:
        stream = hub(resume_max=100, queue_max=10)
        stream.connect(everything)
        ids = publish(stream, 10_000)
        assert len(set(ids)) == 10_000


class TestClose:
    async def test_closing_ends_every_reader_and_every_later_one(self) -> None:
        stream = hub()
        reader, _ = stream.connect(everything)
        publish(stream, 1)
        stream.close()
        with pytest.raises(StreamEndedError):
            await reader.next()
        later, _ = stream.connect(everything)
        with pytest.raises(StreamEndedError):
            await later.next()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class TestTicketFeed:
    async def test_each_ticket_change_is_published_once_and_nothing_from_before_the_start(
        self, store: Store
    ) -> None:
        now = datetime.now(UTC)
        await store.record_tickets([draft("before", at=now - timedelta(hours=1))], now)
        stream = hub()
        reader, _ = stream.connect(everything)
        clock = Clock(now + timedelta(seconds=1))
        feed = TicketFeed(store, stream, clock=clock)
        assert await feed.poll() == 0  # the start

        raised = now + timedelta(seconds=2)
        await store.record_tickets([draft("after", at=raised)], raised)
        clock.now = raised + timedelta(seconds=1)
        assert await feed.poll() == 1
        assert await feed.poll() == 0  # re-reading the grace window publishes nothing again

        ticket = await reader.next()
        assert ticket.kind == "ticket"
        assert json.loads(ticket.data)["dedup_key"] == "after"

        page = await store.list_tickets(TicketQuery(), clock.now)
        ticket_id = next(t.ticket_id for t in page.data if t.dedup_key == "after")
        moved = clock.now + timedelta(seconds=1)
        assert await store.transition_ticket(ticket_id, "detected", "dispatched", "pm", None, moved)
        clock.now = moved + timedelta(seconds=1)
        assert await feed.poll() == 1
        changed = json.loads((await reader.next()).data)
        assert (changed["ticket_id"], changed["status"]) == (ticket_id, "dispatched")

    async def test_a_change_committed_late_with_an_earlier_clock_is_still_published(
        self, store: Store
    ) -> None:
        """Another process's transaction read its clock before this poll but committed
        after it: within the grace window it is found next time."""
        now = datetime.now(UTC)
        stream = hub()
        clock = Clock(now)
        feed = TicketFeed(store, stream, clock=clock, grace=timedelta(seconds=10))
        await feed.poll()
        await store.record_tickets([draft("late-1", at=now)], now + timedelta(seconds=5))
        clock.now = now + timedelta(seconds=6)
        assert await feed.poll() == 1
        await store.record_tickets([draft("late-2", at=now)], now + timedelta(seconds=3))
        assert await feed.poll() == 1

    async def test_many_changes_are_read_page_by_page(self, store: Store) -> None:
        now = datetime.now(UTC)
        stream = hub(resume_max=100)
        clock = Clock(now)
        feed = TicketFeed(store, stream, clock=clock, page=2)
        await feed.poll()
        at = now + timedelta(seconds=1)
        await store.record_tickets([draft(f"k{n}", at=at) for n in range(5)], at)
        clock.now = at + timedelta(seconds=1)
        assert await feed.poll() == 5


class TestTicketsChangedSince:
    async def test_tickets_come_in_updated_at_then_id_order_after_the_position(
        self, store: Store
    ) -> None:
        now = datetime.now(UTC)
        await store.record_tickets([draft("a", at=now), draft("b", at=now)], now)
        later = now + timedelta(seconds=1)
        await store.record_tickets([draft("c", at=later)], later)
        found = await store.tickets_changed_since(TicketPosition(now - timedelta(1)), 10, later)
        ids = [t.ticket_id for t in found]
        assert [t.dedup_key for t in found][-1] == "c"
        assert ids[:2] == sorted(ids[:2])
        after_first = await store.tickets_changed_since(TicketPosition(now, ids[0]), 10, later)
        assert [t.ticket_id for t in after_first] == ids[1:]
        assert await store.tickets_changed_since(TicketPosition(later, ids[2]), 10, later) == []
        one = await store.tickets_changed_since(TicketPosition(now - timedelta(1)), 1, now)
        assert len(one) == 1


class TestStreamTokens:
    async def test_a_token_is_redeemed_once(self, store: Store) -> None:
        now = datetime.now(UTC)
        await store.put_stream_token("h1", "key_1", now + timedelta(seconds=60))
        assert await store.redeem_stream_token("h1", now) == "key_1"
        assert await store.redeem_stream_token("h1", now) is None

    async def test_an_expired_token_is_refused_and_deleted(self, store: Store) -> None:
        now = datetime.now(UTC)
        await store.put_stream_token("h2", "key_1", now + timedelta(seconds=60))
        later = now + timedelta(seconds=61)
        assert await store.redeem_stream_token("h2", later) is None
        assert await store.redeem_stream_token("h2", now) is None  # deleted on the way

    async def test_an_unknown_token_is_refused(self, store: Store) -> None:
        assert await store.redeem_stream_token("nope", datetime.now(UTC)) is None


class TestDeviceFeed:
    async def test_a_status_change_is_published_after_the_first_look(self, store: Store) -> None:
        now = datetime.now(UTC)
        device = DeviceRegistration(device_id=DOOR, dialect="hik-isapi", community=YIDA)
        await store.upsert_devices([device])
        stream = hub()
        reader, _ = stream.connect(everything)
        feed = DeviceFeed(store, stream, interval_s=1)
        assert await feed.poll() == 0  # the first look only learns
        await store.write_batch([access(1, now - timedelta(seconds=2))], [])
        assert await feed.poll() == 1
        assert await feed.poll() == 0
        message = await reader.next()
        body = json.loads(message.data)
        assert (message.kind, body["device_id"], body["status"]) == ("device", DOOR, "online")


class TestForeignIds:
    @pytest.mark.parametrize("tail", ["²", "٢", "1²", "", "abc", "-1", "9" * 40])
    def test_an_id_of_this_epoch_that_names_no_message_gets_a_reset_not_an_error(
        self, tail: str
    ) -> None:
        """Not every character `str.isdigit` accepts is one `int` reads (a superscript two,
        Arabic-Indic digits): whatever follows the epoch, a malformed id is a reset."""
        stream = hub(epoch="e1")
        publish(stream, 3)
        _, reset = stream.connect(everything, f"e1-{tail}")
        assert reset
