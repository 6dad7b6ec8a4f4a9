"""The `Store` contract, run on every backend: SQLite on a temporary file and PostgreSQL with
TimescaleDB on a fresh database per test (the real server the test session starts)."""

import sqlite3
from base64 import urlsafe_b64encode
from collections.abc import AsyncIterator, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from gateway.errors import PayloadError, StoreError
from gateway.messages import DeadLetter
from gateway.store import Store, open_store
from gateway.store.base import EventCursor, EventQuery, WriteResult, encode_id_cursor
from schemas.events import AccessEvent, DeviceEvent, DoorStateEvent

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
YIDA = "yida"
JIAXIN = "jiaxin"
GATE = "43011200001320000013"
UNIT_DOOR = "43011200001320000001"
MIGRATIONS = [
    "0001_events",
    "0002_devices",
    "0003_dead_letter_raw",
    "0004_device_parent",
    "0005_device_clock_skew",
    "0006_screen_stored_rows",
    "0007_master_data",
    "0008_observations",
    "0009_tickets",
    "0010_rule_marks",
    "0011_api_keys",
    "0012_stream_tokens",
    "0013_dead_letter_community",
    "0014_flow_hourly",
    "0015_visit_event_time",
    "0016_house_building",
]


@dataclass(frozen=True)
class Backend:
    """One database under test: its URL for `open_store` and a side door for raw SQL."""

    name: str
    url: str

    def sql(self, statement: str) -> list[tuple[object, ...]]:
        """Run one statement on a connection of our own, outside the store, and commit."""
        if self.name == "sqlite":
            with closing(sqlite3.connect(self.url.removeprefix("sqlite:///"))) as lite, lite:
                return lite.execute(statement).fetchall()
        with psycopg.connect(self.url, autocommit=True) as pg:
            cursor = pg.execute(statement.encode())
            return cursor.fetchall() if cursor.description else []


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_dsn"
    return Backend(request.param, request.getfixturevalue(fixture))


@pytest.fixture
async def unmigrated(backend: Backend) -> AsyncIterator[Store]:
    store = open_store(backend.url)
    await store.open()
    yield store
    await store.close()


@pytest.fixture
async def store(unmigrated: Store) -> Store:
    await unmigrated.migrate()
    return unmigrated


def access(
    number: int,
    occurred_at: datetime = T0,
    *,
    community: str = YIDA,
    device_id: str = UNIT_DOOR,
    received_at: datetime | None = None,
    door: str | None = "1",
) -> AccessEvent:
    return AccessEvent(
        event_id=f"evt-{number:06d}",
        community=community,
        device_id=device_id,
        occurred_at=occurred_at,
        received_at=received_at or occurred_at + timedelta(seconds=1),
        dialect="hik-isapi",
        building="B01",
        unit="U1",
        direction="in",
        method="card",
        result="granted",
        door=door,
        reader=1,
        credential="h1:0123456789abcdef0123456789abcdef",
        vendor_code="5/0x1",
    )


def door_state(number: int, occurred_at: datetime = T0, *, device_id: str = GATE) -> DoorStateEvent:
    return DoorStateEvent(
        event_id=f"door-{number:06d}",
        community=YIDA,
        device_id=device_id,
        occurred_at=occurred_at,
        received_at=occurred_at + timedelta(seconds=2),
        dialect="hik-isapi",
        state="forced_open",
        door="1",
        vendor_code="5/0x1b",
    )


def letter(number: int, reason: str = "malformed_json") -> DeadLetter:
    return DeadLetter(
        received_at=T0 + timedelta(seconds=number),
        topic=f"{YIDA}/hik-isapi/{UNIT_DOOR}",
        reason=reason,
        detail=f"letter {number}",
        payload_excerpt='{"doorNo":1,"name":"***","deviceName":"北门"}',
        payload_bytes=100 + number,
        community=YIDA,
    )


def sealed_letter(raw: bytes, *, expires: datetime) -> DeadLetter:
    """A dead letter with a (stand-in) sealed raw payload; the store never opens it."""
    return DeadLetter(
        received_at=expires - timedelta(days=7),
        topic=f"{YIDA}/hik-isapi/{UNIT_DOOR}",
        reason="schema",
        detail="raw kept",
        payload_excerpt='{"doorNo":"<int 1>"}',
        payload_bytes=len(raw),
        raw_payload=raw,
        raw_expires_at=expires,
    )


def newest_first(events: Sequence[DeviceEvent]) -> list[str]:
    ordered = sorted(events, key=lambda e: (e.occurred_at, e.event_id), reverse=True)
    return [e.event_id for e in ordered]


async def all_pages(store: Store, query: EventQuery) -> list[list[str]]:
    """Event ids page by page, following `next_cursor` to the end."""
    pages: list[list[str]] = []
    while True:
        page = await store.list_events(query)
        pages.append([e.event_id for e in page.data])
        if page.next_cursor is None:
            return pages
        assert len(page.data) == query.limit
        cursor = EventCursor.decode(page.next_cursor)
        query = replace(query, cursor=cursor)


async def ids(store: Store, query: EventQuery | None = None) -> list[str]:
    pages = await all_pages(store, query or EventQuery(limit=1000))
    return [event_id for page in pages for event_id in page]


class TestStoreContract:
    """Every backend stores events idempotently, dead letters durably, and pages them stably."""

    # -- lifecycle ---------------------------------------------------------------------------

    async def test_migrations_apply_once(self, unmigrated: Store) -> None:
        assert await unmigrated.migrate() == MIGRATIONS
        assert await unmigrated.migrate() == []

    async def test_migrations_are_a_no_op_for_a_later_process(
        self, backend: Backend, unmigrated: Store
    ) -> None:
        await unmigrated.migrate()
        later = open_store(backend.url)
        await later.open()
        try:
            assert await later.migrate() == []
        finally:
            await later.close()
        versions = backend.sql("SELECT version FROM schema_migrations")
        assert [row[0] for row in versions] == MIGRATIONS

    async def test_ping_answers_on_an_open_store(self, store: Store) -> None:
        await store.ping()

    async def test_closed_store_raises_store_error(self, backend: Backend) -> None:
        closed = open_store(backend.url)
        with pytest.raises(StoreError):
            await closed.ping()
        await closed.open()
        await closed.close()
        with pytest.raises(StoreError):
            await closed.write_batch([access(1)], [])

    # -- writing events ----------------------------------------------------------------------

    async def test_new_events_are_inserted(self, store: Store) -> None:
        events = [access(n, T0 + timedelta(seconds=n)) for n in range(5)]
        result = await store.write_batch(events, [])
        assert result == WriteResult(inserted=5, duplicates=0, dead_letters=0)
        assert await ids(store) == newest_first(events)

    async def test_events_written_again_are_duplicates_stored_once(self, store: Store) -> None:
        events = [access(n, T0 + timedelta(seconds=n)) for n in range(5)]
        await store.write_batch(events, [])
        result = await store.write_batch(events, [])
        assert result == WriteResult(inserted=0, duplicates=5, dead_letters=0)
        assert await ids(store) == newest_first(events)

    async def test_partly_new_batch_counts_each_part(self, store: Store) -> None:
        await store.write_batch([access(1), access(2)], [])
        result = await store.write_batch([access(2), access(3)], [])
        assert result == WriteResult(inserted=1, duplicates=1, dead_letters=0)

    async def test_same_event_twice_in_one_batch_is_stored_once(self, store: Store) -> None:
        result = await store.write_batch([access(1), access(1)], [])
        assert result == WriteResult(inserted=1, duplicates=1, dead_letters=0)
        assert await ids(store) == ["evt-000001"]

    async def test_redelivered_event_keeps_the_first_copy(self, store: Store) -> None:
        first = access(1, received_at=T0 + timedelta(seconds=1))
        redelivered = access(1, received_at=T0 + timedelta(minutes=5))
        await store.write_batch([first], [])
        result = await store.write_batch([redelivered], [])
        assert result.duplicates == 1
        assert (await store.list_events(EventQuery())).data == [first]

    async def test_empty_batch_changes_nothing(self, store: Store) -> None:
        assert await store.write_batch([], []) == WriteResult(0, 0, 0)
        assert await ids(store) == []

    async def test_events_round_trip_field_for_field(self, store: Store) -> None:
        events: list[DeviceEvent] = [access(1), door_state(2, T0 + timedelta(seconds=1))]
        await store.write_batch(events, [])
        page = await store.list_events(EventQuery())
        assert page.data == list(reversed(events))
        assert isinstance(page.data[0], DoorStateEvent)
        assert isinstance(page.data[1], AccessEvent)

    async def test_times_come_back_equal_and_in_utc(self, store: Store) -> None:
        local = datetime(2026, 11, 26, 7, 58, 12, 123_456, tzinfo=CST)
        event = access(1, local, received_at=local + timedelta(microseconds=1))
        await store.write_batch([event], [])
        (stored,) = (await store.list_events(EventQuery())).data
        assert stored == event
        assert stored.occurred_at == datetime(2026, 11, 25, 23, 58, 12, 123_456, tzinfo=UTC)
        assert stored.occurred_at.utcoffset() == timedelta(0)
        assert stored.received_at.utcoffset() == timedelta(0)

    async def test_batch_is_atomic_when_a_dead_letter_is_refused(
        self, backend: Backend, store: Store
    ) -> None:
        refuse_poisoned_dead_letters(backend)
        with pytest.raises(StoreError) as info:
            await store.write_batch(
                [access(1), access(2)], [letter(1), letter(2, reason="poison"), letter(3)]
            )
        assert not info.value.transient
        assert await ids(store) == []
        assert (await store.list_dead_letters(10, None)).data == []

    async def test_store_is_usable_after_a_refused_batch(
        self, backend: Backend, store: Store
    ) -> None:
        refuse_poisoned_dead_letters(backend)
        with pytest.raises(StoreError):
            await store.write_batch([access(1)], [letter(1, reason="poison")])
        assert await store.write_batch([access(1)], [letter(2)]) == WriteResult(1, 0, 1)

    # -- dead letters ------------------------------------------------------------------------

    async def test_dead_letters_are_stored_field_for_field(self, store: Store) -> None:
        sent = letter(1)
        assert await store.write_batch([], [sent]) == WriteResult(0, 0, 1)
        (stored,) = (await store.list_dead_letters(10, None)).data
        assert stored.id > 0
        assert stored.model_dump(exclude={"id"}) == {
            "received_at": sent.received_at,
            "topic": sent.topic,
            "reason": sent.reason,
            "detail": sent.detail,
            "payload_excerpt": sent.payload_excerpt,
            "payload_bytes": sent.payload_bytes,
            "raw_expires_at": None,
            "community": YIDA,
        }

    async def test_events_and_dead_letters_in_one_batch(self, store: Store) -> None:
        result = await store.write_batch([access(1)], [letter(1), letter(2)])
        assert result == WriteResult(inserted=1, duplicates=0, dead_letters=2)

    async def test_dead_letters_are_listed_newest_first(self, store: Store) -> None:
        for n in range(3):
            await store.write_batch([], [letter(n)])
        listed = (await store.list_dead_letters(10, None)).data
        assert [x.detail for x in listed] == ["letter 2", "letter 1", "letter 0"]

    async def test_dead_letters_page_by_cursor_without_gaps(self, store: Store) -> None:
        await store.write_batch([], [letter(n) for n in range(7)])
        details: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            page = await store.list_dead_letters(3, cursor)
            pages += 1
            details.extend(x.detail for x in page.data)
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 3
        assert details == [f"letter {n}" for n in reversed(range(7))]

    async def test_dead_letter_page_of_exactly_the_limit_is_the_last(self, store: Store) -> None:
        await store.write_batch([], [letter(n) for n in range(3)])
        page = await store.list_dead_letters(3, None)
        assert len(page.data) == 3
        assert page.next_cursor is None

    @pytest.mark.parametrize(
        "token",
        [
            "garbage!",
            "%%%%",
            EventCursor(T0, "evt-000001").encode(),
            urlsafe_b64encode(b"xx|1").decode(),
            urlsafe_b64encode(b"id|seven").decode(),
        ],
    )
    async def test_bad_dead_letter_cursor_is_refused(self, store: Store, token: str) -> None:
        with pytest.raises(PayloadError) as info:
            await store.list_dead_letters(10, token)
        assert info.value.reason == "bad_cursor"

    async def test_dead_letter_cursor_beyond_any_id_is_refused(self, store: Store) -> None:
        # No id this API issues exceeds a 64-bit integer; SQLite raises OverflowError (a 500
        # from the API) and PostgreSQL silently answers an empty page.
        await store.write_batch([], [letter(1)])
        with pytest.raises(PayloadError) as info:
            await store.list_dead_letters(10, encode_id_cursor(2**64))
        assert info.value.reason == "bad_cursor"

    async def test_store_errors_never_quote_a_rows_values(
        self, backend: Backend, store: Store
    ) -> None:
        name = "张秘密"
        if backend.name == "sqlite":  # the sqlite3 module quotes text it cannot decode
            undecodable = name.encode().hex() + "FF"
            backend.sql(
                "INSERT INTO dead_letters (received_us, topic, reason, detail, payload_excerpt,"
                f" payload_bytes) VALUES (0, 'a/b/c', 'r', CAST(X'{undecodable}' AS TEXT), '', 0)"
            )
            with pytest.raises(StoreError) as info:
                await store.list_dead_letters(10, None)
            assert str(info.value) == "sqlite: OperationalError"
        else:  # a server message quoting the row, as type-conversion errors do
            backend.sql(
                "CREATE FUNCTION quote_row() RETURNS trigger LANGUAGE plpgsql AS $$"
                " BEGIN RAISE EXCEPTION 'refused %', NEW.detail; END $$"
            )
            backend.sql(
                "CREATE TRIGGER quote_row BEFORE INSERT ON dead_letters"
                " FOR EACH ROW EXECUTE FUNCTION quote_row()"
            )
            refused = DeadLetter(T0, "a/b/c", "schema", f"detail {name}", "{}", 2)
            with pytest.raises(StoreError) as info:
                await store.write_batch([], [refused])
            assert str(info.value) == "postgresql P0001: RaiseException"
        assert name not in str(info.value)

    # -- raw payloads of dead letters --------------------------------------------------------

    async def test_a_sealed_raw_payload_is_kept_until_it_expires(self, store: Store) -> None:
        now = datetime.now(UTC)
        sent = sealed_letter(b"\x01sealed\x00bytes", expires=now + timedelta(days=7))
        await store.write_batch([access(1)], [sent, letter(2)])
        listed = (await store.list_dead_letters(10, None)).data
        assert [x.raw_expires_at for x in listed] == [None, sent.raw_expires_at]
        raw_id = listed[1].id
        assert await store.get_dead_letter_raw(raw_id, now) == b"\x01sealed\x00bytes"
        assert await store.get_dead_letter_raw(listed[0].id, now) is None
        assert await store.get_dead_letter_raw(raw_id + 100, now) is None

    async def test_an_expired_raw_payload_is_never_served_even_before_the_purge(
        self, store: Store
    ) -> None:
        expires = datetime.now(UTC) + timedelta(days=1)
        await store.write_batch([], [sealed_letter(b"raw", expires=expires)])
        (stored,) = (await store.list_dead_letters(10, None)).data
        assert await store.get_dead_letter_raw(stored.id, expires - timedelta(microseconds=1))
        assert await store.get_dead_letter_raw(stored.id, expires) is None
        assert await store.get_dead_letter_raw(stored.id, expires + timedelta(days=1)) is None

    async def test_the_purge_erases_expired_raw_payloads_and_keeps_their_letters(
        self, backend: Backend, store: Store
    ) -> None:
        now = datetime.now(UTC)
        await store.write_batch(
            [],
            [
                sealed_letter(b"old", expires=now - timedelta(seconds=1)),
                sealed_letter(b"due", expires=now),
                sealed_letter(b"fresh", expires=now + timedelta(hours=1)),
                letter(4),
            ],
        )
        assert await store.purge_expired_raw_payloads(now) == 2
        assert await store.purge_expired_raw_payloads(now) == 0
        listed = (await store.list_dead_letters(10, None)).data
        assert len(listed) == 4
        assert [x.raw_expires_at is not None for x in listed] == [False, True, False, False]
        kept = backend.sql("SELECT count(*) FROM dead_letters WHERE raw_payload IS NOT NULL")
        assert kept == [(1,)]

    # -- listing events ----------------------------------------------------------------------

    async def test_events_page_by_cursor_newest_first(self, store: Store) -> None:
        events = [access(n, T0 + timedelta(minutes=n)) for n in range(10)]
        await store.write_batch(events, [])
        pages = await all_pages(store, EventQuery(limit=4))
        assert [len(page) for page in pages] == [4, 4, 2]
        assert [i for page in pages for i in page] == newest_first(events)

    async def test_events_sharing_one_instant_page_without_duplicates_or_gaps(
        self, store: Store
    ) -> None:
        same = [access(n, T0) for n in range(23)]
        around = [access(100, T0 + timedelta(microseconds=1)), access(101, T0 - timedelta(0, 1))]
        await store.write_batch([*same, *around], [])
        pages = await all_pages(store, EventQuery(limit=5))
        listed = [i for page in pages for i in page]
        assert len(listed) == len(set(listed)) == 25
        assert listed == newest_first([*same, *around])

    async def test_page_of_exactly_the_limit_is_the_last(self, store: Store) -> None:
        await store.write_batch([access(n) for n in range(4)], [])
        page = await store.list_events(EventQuery(limit=4))
        assert len(page.data) == 4
        assert page.next_cursor is None

    async def test_cursor_stays_valid_while_newer_events_arrive(self, store: Store) -> None:
        older = [access(n, T0 + timedelta(seconds=n)) for n in range(6)]
        await store.write_batch(older, [])
        first = await store.list_events(EventQuery(limit=3))
        assert first.next_cursor is not None
        newer = [access(100 + n, T0 + timedelta(hours=1, seconds=n)) for n in range(4)]
        await store.write_batch(newer, [])
        rest = await all_pages(
            store, EventQuery(limit=3, cursor=EventCursor.decode(first.next_cursor))
        )
        seen = [e.event_id for e in first.data] + [i for page in rest for i in page]
        assert seen == newest_first(older)

    async def test_cursor_in_another_offset_means_the_same_instant(self, store: Store) -> None:
        events = [access(n, T0 + timedelta(seconds=n)) for n in range(4)]
        await store.write_batch(events, [])
        cursor = EventCursor(T0.astimezone(CST) + timedelta(seconds=2), "evt-000002")
        page = await store.list_events(EventQuery(cursor=cursor))
        assert [e.event_id for e in page.data] == ["evt-000001", "evt-000000"]

    async def test_filter_by_kind(self, store: Store) -> None:
        await store.write_batch([access(1), door_state(2), access(3)], [])
        assert await ids(store, EventQuery(kind="door_state")) == ["door-000002"]
        assert sorted(await ids(store, EventQuery(kind="access"))) == ["evt-000001", "evt-000003"]

    async def test_filter_by_community(self, store: Store) -> None:
        await store.write_batch([access(1), access(2, community=JIAXIN)], [])
        assert await ids(store, EventQuery(community=JIAXIN)) == ["evt-000002"]
        assert await ids(store, EventQuery(community="nowhere")) == []

    async def test_filter_by_device(self, store: Store) -> None:
        await store.write_batch([access(1), access(2, device_id=GATE)], [])
        assert await ids(store, EventQuery(device_id=GATE)) == ["evt-000002"]

    async def test_since_is_inclusive_and_until_exclusive(self, store: Store) -> None:
        events = [access(n, T0 + timedelta(minutes=n)) for n in range(6)]
        await store.write_batch(events, [])
        query = EventQuery(since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=4))
        assert await ids(store, query) == ["evt-000003", "evt-000002", "evt-000001"]

    async def test_time_filters_compare_instants_across_offsets(self, store: Store) -> None:
        await store.write_batch([access(n, T0 + timedelta(minutes=n)) for n in range(3)], [])
        since = (T0 + timedelta(minutes=1)).astimezone(CST)
        assert await ids(store, EventQuery(since=since)) == ["evt-000002", "evt-000001"]

    async def test_filters_combine_and_page(self, store: Store) -> None:
        events: list[DeviceEvent] = []
        for n in range(30):
            community = YIDA if n % 2 else JIAXIN
            events.append(access(n, T0 + timedelta(seconds=n // 3), community=community))
        events.append(door_state(99))
        await store.write_batch(events, [])
        since = T0 + timedelta(seconds=2)
        query = EventQuery(kind="access", community=YIDA, since=since, limit=4)
        pages = await all_pages(store, query)
        expected = [
            e
            for e in events
            if e.kind == "access" and e.community == YIDA and e.occurred_at >= since
        ]
        assert [i for page in pages for i in page] == newest_first(expected)


def refuse_poisoned_dead_letters(backend: Backend) -> None:
    """A trigger that refuses dead letters with reason `poison`, as a constraint would."""
    if backend.name == "sqlite":
        backend.sql(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON dead_letters"
            " WHEN NEW.reason = 'poison' BEGIN SELECT RAISE(ABORT, 'poisoned'); END"
        )
        return
    backend.sql(
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$"
        " BEGIN IF NEW.reason = 'poison' THEN RAISE EXCEPTION 'poisoned'; END IF;"
        " RETURN NEW; END $$"
    )
    backend.sql(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON dead_letters"
        " FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
    )


class TestPostgresSpecifics:
    """On PostgreSQL the events table is a TimescaleDB hypertable and text refusals are atomic."""

    @pytest.fixture
    async def pg_store(self, pg_dsn: str) -> AsyncIterator[Store]:
        store = open_store(pg_dsn)
        await store.open()
        await store.migrate()
        yield store
        await store.close()

    async def test_events_is_a_hypertable_on_occurred_at(
        self, pg_dsn: str, pg_store: Store
    ) -> None:
        backend = Backend("postgres", pg_dsn)
        tables = backend.sql(
            "SELECT hypertable_name FROM timescaledb_information.hypertables"
            " WHERE hypertable_schema = 'public'"
        )
        assert tables == [("events",)]
        dimensions = backend.sql(
            "SELECT column_name FROM timescaledb_information.dimensions"
            " WHERE hypertable_name = 'events'"
        )
        assert dimensions == [("occurred_at",)]

    async def test_event_with_a_nul_character_fails_the_whole_batch(self, pg_store: Store) -> None:
        with pytest.raises(StoreError) as info:
            await pg_store.write_batch(
                # The event models drop such names; a store must refuse whatever slips past.
                [access(1), access(2).model_copy(update={"door": "a\x00b"}), access(3)],
                [letter(1)],
            )
        assert not info.value.transient
        assert (await pg_store.list_events(EventQuery())).data == []
        assert (await pg_store.list_dead_letters(10, None)).data == []

    async def test_dead_letter_nul_characters_are_replaced_so_the_batch_commits(
        self, pg_store: Store
    ) -> None:
        cleaned = DeadLetter(T0, "a/b/c", "malformed_json", "x", "{}\x00", 3)
        await pg_store.write_batch([access(1), access(2)], [letter(1), cleaned])
        assert len((await pg_store.list_events(EventQuery())).data) == 2
        excerpts = [d.payload_excerpt for d in (await pg_store.list_dead_letters(10, None)).data]
        assert "{}\ufffd" in excerpts
