"""Specification of committing a batch (`gateway.commit`): process, store durably, then ack.

The store is the real SQLite store; where a failure must be provoked, `FlakyStore` wraps it and
fails chosen writes before they reach the database. One class runs on real PostgreSQL, whose
refusals (NUL characters in text) are the ones production meets.
"""

import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import gateway.commit
from adapters.mapping import MappingSpec
from adapters.registry import registry_with
from gateway.commit import BatchCommitter
from gateway.config import CommunitySpec, DeviceSpec, GatewayConfig, TopicBinding
from gateway.devices import DeviceRegistry
from gateway.errors import StoreError
from gateway.messages import DeadLetter, InboundMessage
from gateway.metrics import Metrics
from gateway.pipeline import CheckSender, Enrich, Parse, Pipeline, RouteMessage
from gateway.routing import TopicRouter
from gateway.store import Store, open_store
from gateway.store.base import (
    ClockSkewReport,
    EventQuery,
    Page,
    StoredDeadLetter,
    WriteResult,
)
from gateway.store.tickets import InstantRules, TicketDraft, TicketQuery
from gateway.store.upgrade import RowRules
from schemas.devices import Device, DeviceRegistration, DeviceState
from schemas.events import DeviceEvent, DeviceStatusEvent
from schemas.privacy import Pseudonymizer
from simulators.community import Community, generate_community
from simulators.hik_isapi import HikDoorStream, hik_topic
from tests.gateway.store.ticket_drafts import draft

PSEUDONYMIZER = Pseudonymizer("commit-test-key-0123456789")
COMMUNITY: Community = generate_community(
    seed=5, buildings=2, units_per_building=1, floors=3, houses_per_floor=2
)
START = datetime(2026, 11, 26, 7, 0, tzinfo=UTC)
RECEIVED = START + timedelta(hours=1)
DEVICE = COMMUNITY.devices[0].device_id


def config(*topics: TopicBinding) -> GatewayConfig:
    return GatewayConfig(
        communities=[CommunitySpec(code=COMMUNITY.code)],
        devices=[
            DeviceSpec.model_validate(
                {
                    "device_id": d.device_id,
                    "dialect": d.dialect,
                    "kind": d.kind,
                    "community": COMMUNITY.code,
                    "building": d.building,
                    "unit": d.unit,
                    "readers": d.readers,
                }
            )
            for d in COMMUNITY.devices
        ],
        topics=list(topics),
    )


def pipeline(
    gateway_config: GatewayConfig | None = None, registry: DeviceRegistry | None = None
) -> Pipeline:
    chosen = gateway_config or config()
    adapters = registry_with(chosen.dialects).build(PSEUDONYMIZER)
    registry = registry or DeviceRegistry.from_config(chosen)
    return Pipeline(
        RouteMessage(TopicRouter(chosen, set(adapters)), 64 * 1024),
        CheckSender(registry),
        Parse(adapters),
        [Enrich(registry, "accept")],
    )


@dataclass
class AckLog:
    """Records each acknowledgement, with what the database held at that moment."""

    observe: Callable[[], object] = lambda: None
    acks: list[tuple[int, object]] = field(default_factory=list)

    def message(self, index: int, topic: str, payload: bytes) -> InboundMessage:
        return InboundMessage(
            topic=topic,
            payload=payload,
            received_at=RECEIVED,
            received_monotonic=0.0,
            ack=lambda: self.acks.append((index, self.observe())),
        )

    def messages(self, pairs: Sequence[tuple[str, bytes]]) -> list[InboundMessage]:
        return [self.message(i, topic, payload) for i, (topic, payload) in enumerate(pairs)]

    @property
    def order(self) -> list[int]:
        return [index for index, _ in self.acks]

    @property
    def observed(self) -> list[object]:
        return [seen for _, seen in self.acks]


def door_messages(count: int, seed: int = 1) -> list[tuple[str, bytes]]:
    return HikDoorStream(COMMUNITY, seed=seed, start=START, events_per_hour=3600).take(count)


def sqlite_counts(path: Path) -> tuple[int, int]:
    """(events, dead letters) committed in the file, read over a connection of our own."""
    with closing(sqlite3.connect(path)) as db:
        events = db.execute("SELECT count(*) FROM events").fetchone()[0]
        letters = db.execute("SELECT count(*) FROM dead_letters").fetchone()[0]
    return events, letters


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


class FlakyStore:
    """A real store behind a switch: chosen write calls fail before reaching the database.

    `transient_calls` are 1-based numbers of `write_batch` calls that fail as a dropped
    connection would; a batch holding an event in `refused_ids` fails as a database
    constraint would, every time.
    """

    def __init__(
        self,
        inner: Store,
        *,
        transient_calls: set[int] | None = None,
        refused_ids: set[str] | None = None,
    ) -> None:
        self.inner = inner
        self.transient_calls = transient_calls or set()
        self.refused_ids = refused_ids or set()
        self.calls: list[tuple[list[str], int]] = []

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def migrate(self, rules: RowRules | None = None) -> list[str]:
        return await self.inner.migrate(rules)

    async def ping(self) -> None:
        await self.inner.ping()

    async def write_batch(
        self,
        events: Sequence[DeviceEvent],
        dead_letters: Sequence[DeadLetter],
        instant: InstantRules | None = None,
    ) -> WriteResult:
        self.calls.append(([e.event_id for e in events], len(dead_letters)))
        if len(self.calls) in self.transient_calls:
            raise StoreError("connection lost", transient=True) from ConnectionResetError()
        if any(e.event_id in self.refused_ids for e in events):
            cause = sqlite3.IntegrityError("CHECK constraint failed")
            raise StoreError("row refused", transient=False) from cause
        return await self.inner.write_batch(events, dead_letters, instant)

    async def list_events(self, query: EventQuery) -> Page[DeviceEvent]:
        return await self.inner.list_events(query)

    async def list_dead_letters(
        self, limit: int, cursor: str | None, *, communities: frozenset[str] | None = None
    ) -> Page[StoredDeadLetter]:
        return await self.inner.list_dead_letters(limit, cursor, communities=communities)

    async def get_dead_letter_raw(
        self, letter_id: int, now: datetime, *, communities: frozenset[str] | None = None
    ) -> bytes | None:
        return await self.inner.get_dead_letter_raw(letter_id, now, communities=communities)

    async def purge_expired_raw_payloads(self, now: datetime) -> int:
        return await self.inner.purge_expired_raw_payloads(now)

    async def upsert_devices(self, devices: Sequence[DeviceRegistration]) -> None:
        await self.inner.upsert_devices(devices)

    async def get_device(
        self, device_id: str, *, communities: frozenset[str] | None = None
    ) -> Device | None:
        return await self.inner.get_device(device_id, communities=communities)

    async def list_devices(
        self,
        limit: int,
        cursor: str | None,
        *,
        community: str | None = None,
        status: DeviceState | None = None,
        communities: frozenset[str] | None = None,
    ) -> Page[Device]:
        return await self.inner.list_devices(
            limit, cursor, community=community, status=status, communities=communities
        )

    async def record_replayed_status(self, replayed: Sequence[DeviceStatusEvent]) -> None:
        await self.inner.record_replayed_status(replayed)

    async def mark_silent_devices_offline(
        self, now: datetime, *, listening_since: datetime | None = None
    ) -> list[str]:
        return await self.inner.mark_silent_devices_offline(now, listening_since=listening_since)

    async def clock_skews(self, min_abs_s: float, limit: int) -> ClockSkewReport:
        return await self.inner.clock_skews(min_abs_s, limit)

    def __getattr__(self, name: str) -> Any:
        """The master-data methods, which batches never call, straight from the real store."""
        return getattr(self.inner, name)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "commit.db"


@pytest.fixture
async def store(db_path: Path) -> AsyncIterator[Store]:
    opened = open_store(f"sqlite:///{db_path}")
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry delays of a millisecond: the tests check what is retried, not how long it waits."""
    monkeypatch.setattr(gateway.commit, "RETRY_FIRST_DELAY_S", 0.001)
    monkeypatch.setattr(gateway.commit, "RETRY_MAX_DELAY_S", 0.004)


class TestAckAfterCommit:
    """Messages are acknowledged only once their events or dead letters are committed."""

    async def test_every_message_is_acked_after_its_events_are_committed(
        self, store: Store, db_path: Path
    ) -> None:
        log = AckLog(observe=lambda: sqlite_counts(db_path))
        messages = log.messages(door_messages(10))
        result = await BatchCommitter(pipeline(), store, Metrics())(messages)
        assert result == WriteResult(inserted=10, duplicates=0, dead_letters=0)
        assert log.order == list(range(10))
        assert log.observed == [(10, 0)] * 10

    async def test_rejected_message_is_acked_after_its_dead_letter_is_committed(
        self, store: Store, db_path: Path
    ) -> None:
        log = AckLog(observe=lambda: sqlite_counts(db_path))
        pairs = [*door_messages(2), (hik_topic(COMMUNITY.code, DEVICE), b"{broken")]
        result = await BatchCommitter(pipeline(), store, Metrics())(log.messages(pairs))
        assert result == WriteResult(inserted=2, duplicates=0, dead_letters=1)
        assert log.order == [0, 1, 2]
        assert log.observed == [(2, 1)] * 3

    async def test_dead_letter_log_line_names_reason_and_topic_but_no_payload(
        self, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        payload = b'{"name": "\xe5\xbc\xa0\xe4\xb8\x89", "secret": "value-never-logged"}'
        pairs = [("stray/topic", payload), (hik_topic(COMMUNITY.code, DEVICE), b"{broken")]
        with caplog.at_level(logging.INFO, logger="gateway.commit"):
            await BatchCommitter(pipeline(), store, Metrics())(AckLog().messages(pairs))
        lines = [r.getMessage() for r in caplog.records if r.name == "gateway.commit"]
        assert lines == [
            "dead letter unknown_topic on topic stray/topic",
            f"dead letter malformed_json on topic {hik_topic(COMMUNITY.code, DEVICE)}",
        ]
        assert "value-never-logged" not in caplog.text

    async def test_redelivered_batch_is_acked_and_stored_once(
        self, store: Store, db_path: Path
    ) -> None:
        pairs = door_messages(5)
        committer = BatchCommitter(pipeline(), store, Metrics())
        await committer(AckLog().messages(pairs))
        log = AckLog(observe=lambda: sqlite_counts(db_path))
        result = await committer(log.messages(pairs))
        assert result == WriteResult(inserted=0, duplicates=5, dead_letters=0)
        assert log.observed == [(5, 0)] * 5

    async def test_committed_events_are_enriched_and_readable(self, store: Store) -> None:
        await BatchCommitter(pipeline(), store, Metrics())(AckLog().messages(door_messages(3)))
        page = await store.list_events(EventQuery(limit=10))
        assert len(page.data) == 3
        for event in page.data:
            device = COMMUNITY.device(event.device_id)
            assert (event.building, event.unit) == (device.building, device.unit)


def door_forced_rule(events: Sequence[DeviceEvent]) -> list[TicketDraft]:
    """An instant rule drafting one occurrence of one dedup key per event."""
    return [draft(occurrence=e.event_id, at=e.occurred_at, event_ids=(e.event_id,)) for e in events]


class TestInstantRules:
    """The instant rules' tickets commit with their batch and are counted."""

    async def test_tickets_are_recorded_with_the_batch_and_counted(self, store: Store) -> None:
        """A batch opens the ticket, a later one adds to it; the metrics count both per kind."""
        metrics = Metrics()
        committer = BatchCommitter(pipeline(), store, metrics, door_forced_rule)
        first = await committer(AckLog().messages(door_messages(3)))
        second = await committer(AckLog().messages(door_messages(2, seed=2)))
        assert (first.tickets_opened, first.tickets_updated) == (1, 0)
        assert (second.tickets_opened, second.tickets_updated) == (0, 1)
        opened = sample(metrics, "scgw_tickets_opened_total", rule="safety.door_forced")
        assert (opened, sample(metrics, "scgw_tickets_updated_total")) == (1, 1)
        ticket = (await store.list_tickets(TicketQuery(), datetime.now(UTC))).data[0]
        assert ticket.occurrences == 5

    async def test_isolating_writes_still_run_the_rules(self, store: Store) -> None:
        """When one event is refused, the others' occurrences are still recorded."""
        pairs = door_messages(5)
        refused = pipeline()(AckLog().messages(pairs)).events[2]
        flaky = FlakyStore(store, refused_ids={refused.event_id})
        committer = BatchCommitter(pipeline(), flaky, Metrics(), door_forced_rule)
        result = await committer(AckLog().messages(pairs))
        assert (result.tickets_opened, result.tickets_updated) == (1, 3)
        assert result.opened_rules == ("safety.door_forced",)
        ticket = (await store.list_tickets(TicketQuery(), datetime.now(UTC))).data[0]
        assert ticket.occurrences == 4


class TestTransientStoreErrors:
    """A transient store error is waited out and retried; nothing is acked before success."""

    async def test_batch_is_retried_until_it_commits(self, store: Store, db_path: Path) -> None:
        flaky = FlakyStore(store, transient_calls={1, 2, 3})
        log = AckLog(observe=lambda: (len(flaky.calls), sqlite_counts(db_path)))
        metrics = Metrics()
        result = await BatchCommitter(pipeline(), flaky, metrics)(log.messages(door_messages(4)))
        assert result.inserted == 4
        assert len(flaky.calls) == 4
        assert log.observed == [(4, (4, 0))] * 4
        assert sample(metrics, "scgw_store_retries_total") == 3

    async def test_every_retry_writes_the_whole_batch(self, store: Store) -> None:
        flaky = FlakyStore(store, transient_calls={1})
        pairs = [*door_messages(3), (hik_topic(COMMUNITY.code, DEVICE), b"{broken")]
        await BatchCommitter(pipeline(), flaky, Metrics())(AckLog().messages(pairs))
        first, second = flaky.calls
        assert first == second
        assert len(first[0]) == 3
        assert first[1] == 1


class TestPermanentStoreErrors:
    """A row the database refuses is dead-lettered as `store_rejected`; the rest is stored."""

    async def test_refused_event_is_isolated_and_the_rest_stored(
        self, store: Store, db_path: Path
    ) -> None:
        pairs = door_messages(5)
        events = pipeline()(AckLog().messages(pairs)).events
        refused = events[2]
        flaky = FlakyStore(store, refused_ids={refused.event_id})
        log = AckLog(observe=lambda: sqlite_counts(db_path))
        metrics = Metrics()
        result = await BatchCommitter(pipeline(), flaky, metrics)(log.messages(pairs))
        assert result == WriteResult(inserted=4, duplicates=0, dead_letters=1)
        stored = await store.list_events(EventQuery(limit=10))
        assert {e.event_id for e in stored.data} == {e.event_id for e in events} - {
            refused.event_id
        }
        assert log.order == [0, 1, 2, 3, 4]
        assert log.observed == [(4, 1)] * 5
        assert sample(metrics, "scgw_rejections_total", reason="store_rejected") == 1

    async def test_store_rejected_letter_names_the_event_and_its_device(self, store: Store) -> None:
        pairs = door_messages(2)
        refused = pipeline()(AckLog().messages(pairs)).events[0]
        flaky = FlakyStore(store, refused_ids={refused.event_id})
        await BatchCommitter(pipeline(), flaky, Metrics())(AckLog().messages(pairs))
        (letter,) = (await store.list_dead_letters(10, None)).data
        assert letter.reason == "store_rejected"
        assert letter.topic == f"{refused.community}/{refused.dialect}/{refused.device_id}"
        assert refused.event_id in letter.detail
        assert "IntegrityError" in letter.detail

    async def test_pipeline_dead_letters_are_kept_alongside(self, store: Store) -> None:
        pairs = [*door_messages(2), (hik_topic(COMMUNITY.code, DEVICE), b"{broken")]
        refused = pipeline()(AckLog().messages(pairs)).events[1]
        flaky = FlakyStore(store, refused_ids={refused.event_id})
        result = await BatchCommitter(pipeline(), flaky, Metrics())(AckLog().messages(pairs))
        assert result == WriteResult(inserted=1, duplicates=0, dead_letters=2)
        letters = (await store.list_dead_letters(10, None)).data
        assert sorted(letter.reason for letter in letters) == ["malformed_json", "store_rejected"]

    async def test_transient_error_while_isolating_is_retried_not_raised(
        self, store: Store, db_path: Path
    ) -> None:
        # Call 1 (the batch) is refused, call 2 (the first event alone) loses the connection.
        # The committer must keep going; an escaping StoreError ends the ingest task, which
        # only survives BrokerError.
        pairs = door_messages(3)
        refused = pipeline()(AckLog().messages(pairs)).events[2]
        flaky = FlakyStore(store, transient_calls={2}, refused_ids={refused.event_id})
        log = AckLog(observe=lambda: sqlite_counts(db_path))
        await BatchCommitter(pipeline(), flaky, Metrics())(log.messages(pairs))
        assert log.observed == [(2, 1)] * 3


class TestMetrics:
    """Each committed batch updates the instance's own counters."""

    async def test_counters_after_a_mixed_batch(self, store: Store) -> None:
        pairs = door_messages(6)
        duplicate = pairs[0]
        bad = (hik_topic(COMMUNITY.code, DEVICE), b"{broken")
        unknown = ("nowhere", b"{}")
        metrics = Metrics()
        committer = BatchCommitter(pipeline(), store, metrics)
        await committer(AckLog().messages([*pairs, duplicate, bad, unknown]))
        kinds = {
            kind: sample(metrics, "scgw_events_parsed_total", kind=kind)
            for kind in ("access", "door_state")
        }
        assert sample(metrics, "scgw_messages_received_total") == 9
        assert sum(kinds.values()) == 6
        assert sample(metrics, "scgw_events_stored_total") == 6
        assert sample(metrics, "scgw_events_duplicate_total") == 1
        assert sample(metrics, "scgw_rejections_total", reason="malformed_json") == 1
        assert sample(metrics, "scgw_rejections_total", reason="unknown_topic") == 1
        assert sample(metrics, "scgw_batch_size_count") == 1
        assert sample(metrics, "scgw_batch_size_sum") == 9
        assert sample(metrics, "scgw_ack_latency_seconds_count") == 9

    async def test_duplicates_already_stored_are_counted(self, store: Store) -> None:
        pairs = door_messages(4)
        metrics = Metrics()
        committer = BatchCommitter(pipeline(), store, metrics)
        await committer(AckLog().messages(pairs))
        await committer(AckLog().messages(pairs))
        assert sample(metrics, "scgw_events_stored_total") == 4
        assert sample(metrics, "scgw_events_duplicate_total") == 4
        assert sample(metrics, "scgw_messages_received_total") == 8

    async def test_dropped_fields_are_counted_by_field_and_reason(self, store: Store) -> None:
        def alarm(serial: int, zone: str) -> tuple[str, bytes]:
            document = {
                "alarmId": f"A{serial}",
                "eventType": "intrusion",
                "alarmTime": RECEIVED.isoformat(),
                "zone": zone,
            }
            return f"{COMMUNITY.code}/camera-alarm/cam-1", json.dumps(document).encode()

        def plate_read(serial: int, plate: str) -> tuple[str, bytes]:
            document = {"recordId": f"R{serial}", "ts": 1_795_651_200_000, "plate": plate, "dir": 1}
            return f"{COMMUNITY.code}/barrier-gate/gate-1", json.dumps(document).encode()

        def heartbeat(ip: str) -> tuple[str, bytes]:
            ts = int(RECEIVED.timestamp() * 1000)
            document = {"status": "heartbeat", "ts": ts, "ip": ip}
            return f"{COMMUNITY.code}/status/cam-1", json.dumps(document).encode()

        pairs = [
            heartbeat("139.1234.5678"),
            alarm(1, "3栋 138 1234 5678"),
            alarm(2, "<b>B1</b>"),
            alarm(3, "B1 north"),
            plate_read(1, "13812345678"),
            plate_read(2, "湘A12345"),
        ]
        metrics = Metrics()
        await BatchCommitter(pipeline(), store, metrics)(AckLog().messages(pairs))
        assert sample(metrics, "scgw_events_stored_total") == 6
        dropped = "scgw_event_fields_dropped_total"
        assert sample(metrics, dropped, field="ip", reason="pii_in_identifier") == 1
        assert sample(metrics, dropped, field="zone", reason="pii_in_identifier") == 1
        assert sample(metrics, dropped, field="zone", reason="markup") == 1
        assert sample(metrics, dropped, field="plate_no", reason="not_a_plate") == 1
        assert "1381234" not in metrics.render().decode().replace(" ", "")

    async def test_each_instance_counts_alone(self, store: Store) -> None:
        counted, idle = Metrics(), Metrics()
        await BatchCommitter(pipeline(), store, counted)(AckLog().messages(door_messages(2)))
        assert sample(counted, "scgw_messages_received_total") == 2
        assert sample(idle, "scgw_messages_received_total") == 0


class TestPostgresRefusals:
    """On PostgreSQL, text the database refuses costs only its own message, never the loop."""

    @pytest.fixture
    async def pg_store(self, pg_dsn: str) -> AsyncIterator[Store]:
        opened = open_store(pg_dsn)
        await opened.open()
        await opened.migrate()
        yield opened
        await opened.close()

    async def test_payload_with_a_nul_byte_is_dead_lettered_and_acked(
        self, pg_store: Store
    ) -> None:
        # Firmware written in C sometimes sends the string terminator along. The payload is
        # not JSON, so it becomes a dead letter whose excerpt holds the NUL character.
        pairs = [*door_messages(2), (hik_topic(COMMUNITY.code, DEVICE), b'{"eventType":1}\x00')]
        log = AckLog()
        result = await BatchCommitter(pipeline(), pg_store, Metrics())(log.messages(pairs))
        assert result.inserted == 2
        assert log.order == [0, 1, 2]
        letters = (await pg_store.list_dead_letters(10, None)).data
        assert [letter.reason for letter in letters] == ["malformed_json"]

    async def test_event_with_a_nul_character_is_isolated_and_acked(self, pg_store: Store) -> None:
        # A mapped vendor code is the payload's text, where a JSON escape can carry U+0000.
        # PostgreSQL refuses that row; it must become a `store_rejected` dead letter (which
        # itself must be storable) and be acked.
        mapped = MappingSpec.model_validate(
            {
                "name": "coded-door",
                "kind": "door_state",
                "fields": {
                    "occurred_at": {"path": "t", "format": "iso8601"},
                    "state": {"const": "opened"},
                    "vendor_code": {"path": "code"},
                },
            }
        )
        good = door_messages(2)
        bad_payload = json.dumps({"t": RECEIVED.isoformat(), "code": "5/\x00"}).encode()
        pairs = [*good, (f"{COMMUNITY.code}/coded-door/coded-1", bad_payload)]
        log = AckLog()
        gateway_config = config().model_copy(update={"dialects": [mapped]})
        result = await BatchCommitter(pipeline(gateway_config), pg_store, Metrics())(
            log.messages(pairs)
        )
        assert result.inserted == 2
        assert log.order == [0, 1, 2]
        letters = (await pg_store.list_dead_letters(10, None)).data
        assert [letter.reason for letter in letters] == ["store_rejected"]
