"""The stream's events (`gateway.stream_sources.EventPublisher`) on both stores: shaped by the
one function `GET /v1/events` uses (`gateway.resolution.for_readers`), so a reader never gets a
gateway-wide credential or ID hash; handed over by ingest without waiting, shaped together per
round in commit order; published unresolved, never with a hash, when the store fails."""

import asyncio
import json
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from gateway.errors import StoreError
from gateway.resolution import for_readers
from gateway.store import Store
from gateway.store.masterdata import CredentialMatch, PlateMatch
from gateway.stream import Reader, StreamHub, StreamMessage
from gateway.stream_sources import EventPublisher
from schemas.events import DeviceEvent
from schemas.privacy import subject_key
from tests.gateway.observed_events import CARD, ID_HASH, YIDA, access, face, vehicle, visit
from tests.gateway.store.master_rows import MasterRows


def everything(message: StreamMessage) -> bool:
    return True


def hub() -> StreamHub:
    return StreamHub(resume_max=1000, queue_max=1000)


async def drain(reader: Reader) -> list[StreamMessage]:
    """Every message the reader has now."""
    found: list[StreamMessage] = []
    while True:
        try:
            async with asyncio.timeout(0.05):
                found.append(await reader.next())
        except TimeoutError:
            return found


class CountingStore:
    """The real store's resolution, counting the round trips made to it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.calls = 0

    async def resolve_refs(self, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
        self.calls += 1
        return await self.store.resolve_refs(refs)

    async def resolve_plates(self, plates: Sequence[tuple[str, str]]) -> list[PlateMatch]:
        self.calls += 1
        return await self.store.resolve_plates(plates)


class FailingStore:
    """A store that cannot be read (the database is down)."""

    async def resolve_refs(self, refs: Sequence[tuple[str, str]]) -> list[CredentialMatch]:
        raise StoreError("the database is unavailable", transient=True)

    async def resolve_plates(self, plates: Sequence[tuple[str, str]]) -> list[PlateMatch]:
        raise StoreError("the database is unavailable", transient=True)


def batch(now: datetime) -> list[DeviceEvent]:
    """An opening by card, a matched face, a visit, a vehicle pass: every kind that resolves."""
    at = now - timedelta(minutes=5)
    return [access(1, at), face(1, at, ref=ID_HASH), visit(1, at), vehicle(1, at)]


class TestShapedForReaders:
    async def test_events_are_published_exactly_as_the_event_list_renders_them(
        self, store: Store, database: str
    ) -> None:
        rows = MasterRows(database)
        rows.person(YIDA, "p_holder", ID_HASH)
        rows.credential(YIDA, CARD, "p_holder")
        stream = hub()
        reader, _ = stream.connect(everything)
        events = batch(datetime.now(UTC))
        published = EventPublisher(store, stream)
        published(events)
        assert await published.publish_queued() == len(events)

        messages = await drain(reader)
        listed = await for_readers(store, events)
        assert [json.loads(m.data) for m in messages] == [
            json.loads(e.model_dump_json()) for e in listed
        ]
        by_kind = {m.body.kind: json.loads(m.data) for m in messages}
        assert by_kind["access"]["person_id"] == "p_holder"
        assert by_kind["face_capture"]["person_id"] == "p_holder"
        assert by_kind["visitor"]["person_id"] == "p_holder"
        assert by_kind["vehicle_pass"]["vehicle_registered"] is False

    async def test_no_credential_or_id_hash_is_ever_published(
        self, store: Store, database: str
    ) -> None:
        """Unresolved or not, the hash gives way to the community's subject key."""
        stream = hub()
        reader, _ = stream.connect(everything)
        published = EventPublisher(store, stream)
        published(batch(datetime.now(UTC)))
        await published.publish_queued()

        messages = await drain(reader)
        assert len(messages) == 4
        for message in messages:
            assert "h1:" not in message.encode().decode()
        keys = {json.loads(m.data).get("subject_key") for m in messages} - {None}
        assert keys == {subject_key(YIDA, CARD), subject_key(YIDA, ID_HASH)}


class TestIngestNeverWaits:
    async def test_handing_over_a_batch_only_queues_it(self, store: Store) -> None:
        counting = CountingStore(store)
        stream = hub()
        reader, _ = stream.connect(everything)
        published = EventPublisher(counting, stream)
        published(batch(datetime.now(UTC)))
        assert counting.calls == 0
        assert await drain(reader) == []

    async def test_the_batches_queued_meanwhile_are_shaped_in_one_round_in_commit_order(
        self, store: Store
    ) -> None:
        counting = CountingStore(store)
        stream = hub()
        reader, _ = stream.connect(everything)
        published = EventPublisher(counting, stream)
        now = datetime.now(UTC)
        batches = [[access(n, now), face(n, now, ref=ID_HASH)] for n in range(1, 4)]
        for events in batches:
            published(events)
        assert await published.publish_queued() == 6
        assert counting.calls == 2  # one resolve_refs, one resolve_plates
        expected = [e.event_id for events in batches for e in events]
        assert [m.body.event_id for m in await drain(reader)] == expected

    async def test_a_round_shapes_at_most_round_max_events(self, store: Store) -> None:
        counting = CountingStore(store)
        stream = hub()
        reader, _ = stream.connect(everything)
        published = EventPublisher(counting, stream, round_max=2)
        now = datetime.now(UTC)
        published([access(n, now) for n in range(1, 6)])
        assert await published.publish_queued() == 5
        assert counting.calls == 3 * 2
        assert [m.body.event_id for m in await drain(reader)] == [
            f"acc-{n:06d}" for n in range(1, 6)
        ]

    async def test_the_running_publisher_publishes_what_ingest_hands_over(
        self, store: Store
    ) -> None:
        stream = hub()
        reader, _ = stream.connect(everything)
        published = EventPublisher(store, stream)
        running = asyncio.create_task(published.run())
        try:
            published([access(1, datetime.now(UTC))])
            message = await asyncio.wait_for(reader.next(), 10)
            assert message.body.event_id == "acc-000001"
            published([access(2, datetime.now(UTC))])
            message = await asyncio.wait_for(reader.next(), 10)
            assert message.body.event_id == "acc-000002"
        finally:
            running.cancel()
            with pytest.raises(asyncio.CancelledError):
                await running

    def test_beyond_pending_max_a_batch_is_left_out_and_logged(
        self, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        published = EventPublisher(store, hub(), pending_max=3)
        now = datetime.now(UTC)
        published([access(1, now), access(2, now)])
        with caplog.at_level(logging.WARNING, logger="gateway.stream_sources"):
            published([access(3, now), access(4, now)])
        assert "left out 2 events" in caplog.text


class TestStoreFailure:
    async def test_events_are_published_unresolved_never_with_a_hash(self) -> None:
        stream = hub()
        reader, _ = stream.connect(everything)
        published = EventPublisher(FailingStore(), stream)
        events = batch(datetime.now(UTC))
        published(events)
        assert await published.publish_queued() == len(events)

        messages = await drain(reader)
        assert [m.body.event_id for m in messages] == [e.event_id for e in events]
        for message in messages:
            body = json.loads(message.data)
            assert "h1:" not in message.data
            assert body.get("person_id") is None
        by_kind = {m.body.kind: json.loads(m.data) for m in messages}
        assert by_kind["access"]["subject_key"] == subject_key(YIDA, CARD)
        assert by_kind["vehicle_pass"]["vehicle_registered"] is None  # unknown, not "no"
