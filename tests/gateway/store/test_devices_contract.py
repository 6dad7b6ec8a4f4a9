"""The device registry part of the `Store` contract, run on SQLite and on PostgreSQL with
TimescaleDB: registrations, pages, activity recorded with each batch, silent devices."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.device_status import (
    SKEW_HORIZON,
    SKEW_TOLERANCE_S,
    ClockObservation,
    accepts_skew,
)
from gateway.errors import PayloadError, StoreError
from gateway.store import Store, open_store
from gateway.store.base import ClockSkew, EventCursor, EventQuery
from schemas.codes import DeviceStatus
from schemas.devices import Device, DeviceRegistration
from schemas.events import AccessEvent, DeviceStatusEvent
from tests.gateway.store.test_contract import Backend, letter, refuse_poisoned_dead_letters

T0 = datetime(2026, 11, 26, 0, 0, tzinfo=UTC)
YIDA = "yida"
JIAXIN = "jiaxin"
UNIT_DOOR = "43011200001320000001"
GATE = "43011200001320000013"
CAMERA = "43011200001310000001"
UNREGISTERED = "43011200001329999999"


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> Backend:
    fixture = "sqlite_url" if request.param == "sqlite" else "pg_dsn"
    return Backend(request.param, request.getfixturevalue(fixture))


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = open_store(backend.url)
    await opened.open()
    await opened.migrate()
    yield opened
    await opened.close()


def registration(
    device_id: str = UNIT_DOOR, *, community: str = YIDA, **fields: Any
) -> DeviceRegistration:
    values: dict[str, Any] = {
        "device_id": device_id,
        "kind": "door_controller",
        "dialect": "hik-isapi",
        "community": community,
        "building": "B01",
        "unit": "U1",
        "door": "B01-U1 unit door",
        "readers": {1: "in", 2: "out"},
        "location": "B01 stairwell 1, ground floor",
        **fields,
    }
    return DeviceRegistration.model_validate(values)


def gate(device_id: str = GATE, **fields: Any) -> DeviceRegistration:
    return registration(device_id, building=None, unit=None, gate="North gate", **fields)


def access(
    number: int,
    received_at: datetime = T0,
    *,
    device_id: str = UNIT_DOOR,
    community: str = YIDA,
    occurred_at: datetime | None = None,
) -> AccessEvent:
    """A door event, occurring when it arrives unless `occurred_at` says otherwise."""
    return AccessEvent(
        event_id=f"evt-{number:06d}",
        community=community,
        device_id=device_id,
        occurred_at=received_at if occurred_at is None else occurred_at,
        received_at=received_at,
        dialect="hik-isapi",
        direction="in",
        method="card",
        result="granted",
        vendor_code="5/0x1",
    )


def status_event(
    number: int,
    status: DeviceStatus,
    received_at: datetime = T0,
    *,
    device_id: str = UNIT_DOOR,
    firmware: str | None = None,
    ip: str | None = None,
    skew: timedelta | None = None,
) -> DeviceStatusEvent:
    """A status event; with `skew`, timed by the device's clock that far from its arrival."""
    return DeviceStatusEvent(
        event_id=f"status-{number:06d}",
        community=YIDA,
        device_id=device_id,
        occurred_at=received_at if skew is None else received_at + skew,
        time_source="arrival" if skew is None else "device",
        received_at=received_at,
        dialect="heartbeat",
        status=status,
        firmware=firmware,
        ip=ip,
    )


async def device(store: Store, device_id: str = UNIT_DOOR) -> Device:
    found = await store.get_device(device_id)
    assert found is not None
    return found


async def listed_ids(store: Store, limit: int = 1000, **filters: Any) -> list[list[str]]:
    """Device ids page by page, following `next_cursor` to the end."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await store.list_devices(limit, cursor, **filters)
        pages.append([d.device_id for d in page.data])
        cursor = page.next_cursor
        if cursor is None:
            return pages
        assert len(page.data) == limit


class TestDeviceRegistrations:
    """Registrations are stored field for field, replaced in place and kept apart from
    what the gateway observed."""

    async def test_registered_device_comes_back_field_for_field(self, store: Store) -> None:
        before = datetime.now(UTC)
        sent = registration(firmware="V1.2.3", offline_after_s=120)
        await store.upsert_devices([sent])
        stored = await device(store)
        assert stored.registration() == sent
        assert stored.readers == {1: "in", 2: "out"}
        assert (stored.status, stored.last_seen, stored.ip) == ("unknown", None, None)
        assert before <= stored.registered_at <= datetime.now(UTC)
        assert stored.updated_at == stored.registered_at == stored.status_since

    async def test_gate_devices_keep_their_gate_and_no_building(self, store: Store) -> None:
        await store.upsert_devices([gate()])
        stored = await device(store, GATE)
        assert (stored.building, stored.unit, stored.gate) == (None, None, "North gate")

    async def test_unknown_device_is_none(self, store: Store) -> None:
        assert await store.get_device(UNREGISTERED) is None

    async def test_empty_upsert_changes_nothing(self, store: Store) -> None:
        await store.upsert_devices([])
        assert await listed_ids(store) == [[]]

    async def test_registration_is_replaced_and_observations_kept(self, store: Store) -> None:
        await store.upsert_devices([registration(firmware="V1")])
        await store.write_batch(
            [status_event(1, "heartbeat", T0, firmware="V2", ip="10.0.0.7")], []
        )
        moved = registration(building="B02", unit="U3", readers={1: "out"}, location=None)
        await store.upsert_devices([moved])
        stored = await device(store)
        assert stored.registration() == moved.model_copy(update={"firmware": "V2"})
        assert (stored.status, stored.last_seen, stored.ip) == ("online", T0, "10.0.0.7")

    async def test_a_registration_naming_firmware_replaces_it(self, store: Store) -> None:
        await store.upsert_devices([registration(firmware="V1")])
        await store.upsert_devices([registration(firmware="V3")])
        assert (await device(store)).firmware == "V3"

    async def test_an_unchanged_registration_keeps_its_update_time(self, store: Store) -> None:
        await store.upsert_devices([registration(), gate()])
        first = await device(store)
        await store.upsert_devices([registration(), gate(location="by the guard house")])
        again = await device(store)
        assert again.updated_at == first.updated_at
        changed = await device(store, GATE)
        assert changed.updated_at > changed.registered_at

    async def test_a_refused_device_refuses_the_whole_upsert(self, store: Store) -> None:
        # Built without validation, as a buggy caller could: the database's own check refuses.
        broken = registration(GATE).model_copy(update={"offline_after_s": 0})
        with pytest.raises(StoreError) as info:
            await store.upsert_devices([registration(), broken])
        assert not info.value.transient
        assert await store.get_device(UNIT_DOOR) is None


class TestRegistrationsDigest:
    """The digest moves with every registration change and with nothing a batch observes:
    it tells each gateway process when to re-read its copy of the registry."""

    async def test_the_same_table_gives_the_same_digest(self, store: Store) -> None:
        await store.upsert_devices([registration(), gate()])
        assert await store.device_registrations_digest() == (
            await store.device_registrations_digest()
        )

    @pytest.mark.parametrize(
        "change",
        [
            {"building": "B02"},
            {"unit": None},
            {"door": "another door"},
            {"readers": {1: "out", 2: "in"}},
            {"location": None},
            {"parent": GATE},
            {"offline_after_s": 60},
            {"dialect": "access-cloud"},
            {"community": JIAXIN},
        ],
        ids=lambda change: next(iter(change)),
    )
    async def test_a_changed_registration_moves_it(
        self, store: Store, change: dict[str, Any]
    ) -> None:
        await store.upsert_devices([registration(), gate()])
        before = await store.device_registrations_digest()
        await store.upsert_devices([registration(**change)])
        assert await store.device_registrations_digest() != before

    async def test_a_new_device_moves_it(self, store: Store) -> None:
        await store.upsert_devices([registration()])
        before = await store.device_registrations_digest()
        await store.upsert_devices([gate()])
        assert await store.device_registrations_digest() != before

    async def test_what_batches_observe_leaves_it(self, store: Store) -> None:
        """Status, last seen, address and firmware: a district's heartbeats move them all the
        time, and the pipeline reads none of them from its copy."""
        await store.upsert_devices([registration(), gate()])
        before = await store.device_registrations_digest()
        await store.write_batch([access(1, T0)], [])
        await store.write_batch(
            [status_event(2, "heartbeat", T0, firmware="V9", ip="10.0.0.9")], []
        )
        assert (await device(store)).firmware == "V9"
        await store.mark_silent_devices_offline(T0 + timedelta(days=1))
        assert (await device(store)).status == "offline"
        assert await store.device_registrations_digest() == before


class TestDeviceParents:
    """A registration's `parent` is stored, replaced and cleared like any registered field."""

    async def test_parent_comes_back_as_registered(self, store: Store) -> None:
        await store.upsert_devices([registration(parent="vc-yida-01"), gate()])
        assert (await device(store)).parent == "vc-yida-01"
        assert (await device(store, GATE)).parent is None

    async def test_parent_is_listed_too(self, store: Store) -> None:
        await store.upsert_devices([registration(parent="vc-yida-01")])
        (listed,) = (await store.list_devices(10, None)).data
        assert listed.parent == "vc-yida-01"

    async def test_a_new_parent_replaces_the_old_and_moves_the_update_time(
        self, store: Store
    ) -> None:
        await store.upsert_devices([registration(parent="vc-yida-01")])
        first = await device(store)
        await store.upsert_devices([registration(parent="ac-yida-01")])
        moved = await device(store)
        assert moved.parent == "ac-yida-01"
        assert moved.updated_at > first.updated_at

    async def test_a_registration_without_parent_clears_it(self, store: Store) -> None:
        await store.upsert_devices([registration(parent="vc-yida-01")])
        await store.upsert_devices([registration()])
        assert (await device(store)).parent is None


class TestDeviceLists:
    """Devices are listed in id order, filtered by community and status, and paged stably."""

    async def test_devices_are_listed_in_id_order(self, store: Store) -> None:
        ids = [f"4301120000132000{n:04d}" for n in (7, 2, 9, 1)]
        await store.upsert_devices([registration(i) for i in ids])
        assert await listed_ids(store) == [sorted(ids)]

    async def test_ids_sort_byte_wise_on_every_backend(self, store: Store) -> None:
        ids = ["a-1", "B_2", "a_1", "Z9", "a1", "b.2"]
        await store.upsert_devices([registration(i) for i in ids])
        assert await listed_ids(store) == [sorted(ids)]

    async def test_pages_follow_the_cursor_without_gaps(self, store: Store) -> None:
        ids = [f"dev-{n:03d}" for n in range(11)]
        await store.upsert_devices([registration(i) for i in ids])
        pages = await listed_ids(store, limit=4)
        assert [len(page) for page in pages] == [4, 4, 3]
        assert [i for page in pages for i in page] == ids

    async def test_page_of_exactly_the_limit_is_the_last(self, store: Store) -> None:
        await store.upsert_devices([registration(f"dev-{n}") for n in range(3)])
        page = await store.list_devices(3, None)
        assert len(page.data) == 3
        assert page.next_cursor is None

    async def test_cursor_stays_valid_while_devices_are_added(self, store: Store) -> None:
        await store.upsert_devices([registration(f"dev-{n}") for n in (1, 3, 5, 7)])
        first = await store.list_devices(2, None)
        await store.upsert_devices([registration("dev-0"), registration("dev-6")])
        rest = await store.list_devices(10, first.next_cursor)
        assert [d.device_id for d in rest.data] == ["dev-5", "dev-6", "dev-7"]

    async def test_filter_by_community(self, store: Store) -> None:
        await store.upsert_devices(
            [registration("dev-1"), registration("dev-2", community=JIAXIN), registration("dev-3")]
        )
        assert await listed_ids(store, community=JIAXIN) == [["dev-2"]]
        assert await listed_ids(store, community=YIDA) == [["dev-1", "dev-3"]]
        assert await listed_ids(store, community="nowhere") == [[]]

    async def test_filter_by_status_combines_with_community_and_pages(self, store: Store) -> None:
        ids = [f"dev-{n:02d}" for n in range(10)]
        await store.upsert_devices(
            [registration(i, community=YIDA if n % 2 else JIAXIN) for n, i in enumerate(ids)]
        )
        await store.write_batch(
            [access(n, device_id=i, community=YIDA) for n, i in enumerate(ids) if n % 3], []
        )
        online = await listed_ids(store, 2, community=YIDA, status="online")
        assert [i for page in online for i in page] == ["dev-01", "dev-05", "dev-07"]
        assert await listed_ids(store, status="unknown", community=YIDA) == [["dev-03", "dev-09"]]

    @pytest.mark.parametrize(
        "token", ["garbage!", "%%%%", EventCursor(T0, "evt-000001").encode(), "ZGV2fA"]
    )
    async def test_bad_cursor_is_refused(self, store: Store, token: str) -> None:
        with pytest.raises(PayloadError) as info:
            await store.list_devices(10, token)
        assert info.value.reason == "bad_cursor"


class TestDeviceActivity:
    """Each batch moves its devices' last_seen and status in the transaction that stores it."""

    @pytest.fixture(autouse=True)
    async def registered(self, store: Store) -> None:
        await store.upsert_devices([registration(), gate()])

    async def test_a_message_makes_the_device_online_and_seen(self, store: Store) -> None:
        await store.write_batch([access(1, T0), access(2, T0 + timedelta(seconds=5))], [])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("online", T0 + timedelta(seconds=5))
        assert stored.status_since == T0 + timedelta(seconds=5)
        assert (await device(store, GATE)).status == "unknown"

    async def test_last_seen_is_the_latest_arrival_whatever_the_order(self, store: Store) -> None:
        late, early = access(1, T0 + timedelta(minutes=2)), access(2, T0)
        await store.write_batch([late, early], [])
        assert (await device(store)).last_seen == T0 + timedelta(minutes=2)

    @pytest.mark.parametrize("status", ["online", "heartbeat"])
    async def test_heartbeat_and_online_make_the_device_online(
        self, store: Store, status: DeviceStatus
    ) -> None:
        await store.write_batch([status_event(1, status, T0)], [])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("online", T0)

    async def test_offline_status_makes_the_device_offline(self, store: Store) -> None:
        await store.write_batch([access(1, T0)], [])
        await store.write_batch([status_event(2, "offline", T0 + timedelta(minutes=1))], [])
        stored = await device(store)
        assert stored.status == "offline"
        assert stored.status_since == stored.last_seen == T0 + timedelta(minutes=1)

    async def test_the_last_event_of_a_batch_decides(self, store: Store) -> None:
        at = T0 + timedelta(seconds=1)
        await store.write_batch(
            [status_event(1, "heartbeat", T0), status_event(2, "offline", at)], []
        )
        assert (await device(store)).status == "offline"
        await store.write_batch([status_event(3, "offline", at), access(4, at)], [])
        assert (await device(store)).status == "online"

    async def test_status_since_moves_only_when_the_status_changes(self, store: Store) -> None:
        await store.write_batch([access(1, T0)], [])
        await store.write_batch([access(2, T0 + timedelta(minutes=5))], [])
        assert (await device(store)).status_since == T0

    async def test_firmware_and_address_come_from_status_events(self, store: Store) -> None:
        await store.write_batch(
            [status_event(1, "online", T0, firmware="V5.7.1", ip="10.1.2.3")], []
        )
        await store.write_batch([status_event(2, "heartbeat", T0 + timedelta(seconds=30))], [])
        stored = await device(store)
        assert (stored.firmware, stored.ip) == ("V5.7.1", "10.1.2.3")
        await store.write_batch(
            [status_event(3, "heartbeat", T0 + timedelta(seconds=60), firmware="V5.8.0")], []
        )
        assert (await device(store)).firmware == "V5.8.0"

    async def test_an_older_batch_moves_nothing_back(self, store: Store) -> None:
        # Two gateway processes share the subscription: the later message may commit first.
        await store.write_batch([status_event(1, "offline", T0 + timedelta(minutes=1))], [])
        await store.write_batch([access(2, T0)], [])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("offline", T0 + timedelta(minutes=1))

    async def test_events_under_another_community_leave_the_device_alone(
        self, store: Store
    ) -> None:
        await store.write_batch([access(1, T0, community=JIAXIN)], [])
        assert (await device(store)).status == "unknown"

    async def test_unregistered_devices_are_not_registered_by_their_events(
        self, store: Store
    ) -> None:
        await store.write_batch([access(1, T0, device_id=UNREGISTERED)], [])
        assert await store.get_device(UNREGISTERED) is None
        assert await listed_ids(store) == [[UNIT_DOOR, GATE]]

    async def test_activity_rolls_back_with_a_refused_batch(
        self, backend: Backend, store: Store
    ) -> None:
        refuse_poisoned_dead_letters(backend)
        with pytest.raises(StoreError):
            await store.write_batch([access(1, T0)], [letter(1, reason="poison")])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("unknown", None)


RECENT = datetime.now(UTC).replace(microsecond=0)
"""An arrival time for the event-time rules: a backlog's events lie hours before it."""
HOURS = timedelta(hours=1)


def heartbeat(number: int, *, occurred_at: datetime, arrived: datetime) -> DeviceStatusEvent:
    """A heartbeat stamped by the device at `occurred_at`, arriving at `arrived`."""
    return status_event(number, "heartbeat", arrived, skew=occurred_at - arrived)


class TestEventTime:
    """`last_seen` follows event time, capped at arrival, and a backlog never means online."""

    @pytest.fixture(autouse=True)
    async def registered(self, store: Store) -> None:
        await store.upsert_devices([registration(offline_after_s=600), gate()])

    async def test_last_seen_is_the_newest_event_time_not_the_arrival(self, store: Store) -> None:
        backlog = [
            access(1, RECENT, occurred_at=RECENT - 3 * HOURS),
            access(2, RECENT, occurred_at=RECENT - 2 * HOURS),
        ]
        await store.write_batch(backlog, [])
        assert (await device(store)).last_seen == RECENT - 2 * HOURS

    async def test_a_drained_backlog_does_not_make_a_device_online(self, store: Store) -> None:
        beats = [
            heartbeat(n, occurred_at=RECENT - HOURS + n * seconds(60), arrived=RECENT)
            for n in range(5)
        ]
        await store.write_batch(beats, [])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("unknown", RECENT - HOURS + seconds(240))

    async def test_a_backlog_does_not_bring_back_a_device_its_will_took_offline(
        self, store: Store
    ) -> None:
        await store.write_batch([status_event(1, "offline", RECENT - 5 * HOURS)], [])
        later = heartbeat(2, occurred_at=RECENT - 4 * HOURS, arrived=RECENT)
        await store.write_batch([later], [])
        stored = await device(store)
        assert (stored.status, stored.status_since) == ("offline", RECENT - 5 * HOURS)
        assert stored.last_seen == RECENT - 4 * HOURS

    async def test_a_fresh_word_after_the_backlog_brings_it_online(self, store: Store) -> None:
        await store.write_batch([heartbeat(1, occurred_at=RECENT - HOURS, arrived=RECENT)], [])
        await store.write_batch([heartbeat(2, occurred_at=RECENT, arrived=RECENT)], [])
        stored = await device(store)
        assert (stored.status, stored.status_since, stored.last_seen) == ("online", RECENT, RECENT)

    @pytest.mark.parametrize(("age_s", "status"), [(600, "online"), (601, "unknown")])
    async def test_a_word_is_fresh_for_the_device_s_offline_after(
        self, store: Store, age_s: int, status: str
    ) -> None:
        aged = access(1, RECENT, occurred_at=RECENT - seconds(age_s))
        await store.write_batch([aged], [])
        assert (await device(store)).status == status

    async def test_a_clock_running_fast_is_capped_at_arrival(self, store: Store) -> None:
        await store.write_batch([access(1, RECENT, occurred_at=RECENT + seconds(300))], [])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("online", RECENT)

    async def test_a_clock_running_behind_is_corrected_by_its_stored_skew(
        self, store: Store
    ) -> None:
        behind = seconds(1200)  # twice the device's offline_after_s
        await store.write_batch([heartbeat(1, occurred_at=RECENT - behind, arrived=RECENT)], [])
        first = await device(store)  # no estimate yet: indistinguishable from a backlog
        assert (first.status, first.last_seen) == ("unknown", RECENT - behind)
        next_minute = RECENT + seconds(60)
        await store.write_batch([access(2, next_minute, occurred_at=next_minute - behind)], [])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("online", next_minute)

    async def test_an_old_offline_word_applies_when_it_is_the_newest(self, store: Store) -> None:
        await store.write_batch([access(1, RECENT - 2 * HOURS)], [])
        went = RECENT - HOURS
        await store.write_batch([status_event(2, "offline", RECENT, skew=went - RECENT)], [])
        stored = await device(store)
        assert (stored.status, stored.status_since, stored.last_seen) == ("offline", went, went)

    async def test_silence_counts_from_the_newest_event_time(self, store: Store) -> None:
        await store.write_batch([access(1, RECENT, occurred_at=RECENT - seconds(100))], [])
        since = RECENT - HOURS
        early = await store.mark_silent_devices_offline(
            RECENT + seconds(500), listening_since=since
        )
        assert UNIT_DOOR not in early
        late = await store.mark_silent_devices_offline(RECENT + seconds(501), listening_since=since)
        assert UNIT_DOOR in late

    async def test_a_device_known_only_from_a_backlog_goes_offline_after_the_restart(
        self, store: Store
    ) -> None:
        restart = RECENT  # the backlog drained at once; the watch counts from the restart
        await store.write_batch([access(1, restart, occurred_at=restart - 3 * HOURS)], [])
        assert (
            await store.mark_silent_devices_offline(restart + seconds(600), listening_since=restart)
            == []
        )
        assert UNIT_DOOR in await store.mark_silent_devices_offline(
            restart + seconds(601), listening_since=restart
        )
        assert (await device(store)).status == "offline"

    async def test_offline_too_long_by_its_own_word_or_by_silence(self, store: Store) -> None:
        """`long_offline_devices` lists the devices offline for longer than their
        `offline_after_s`, a will as well as a silence, with the spell's start."""
        went = RECENT - HOURS
        await store.write_batch([status_event(1, "offline", went)], [])
        assert await store.long_offline_devices(went + seconds(600)) == []
        assert await store.long_offline_devices(went + seconds(601)) == [(UNIT_DOOR, went)]
        await store.write_batch([access(2, went, device_id=GATE)], [])
        marked = went + seconds(601)
        assert await store.mark_silent_devices_offline(marked) == [GATE]
        assert await store.long_offline_devices(marked + seconds(601)) == [
            (UNIT_DOOR, went),
            (GATE, marked),
        ]
        await store.write_batch([access(3, RECENT)], [])  # back: no longer offline
        assert await store.long_offline_devices(RECENT + HOURS) == [(GATE, marked)]


class TestReplayedStatus:
    """A retained status replay seeds a device whose status is unknown, and nothing else."""

    @pytest.fixture(autouse=True)
    async def registered(self, store: Store) -> None:
        await store.upsert_devices([registration(offline_after_s=600), gate()])

    async def test_a_replayed_will_seeds_an_unknown_device_offline(self, store: Store) -> None:
        await store.record_replayed_status([status_event(1, "offline", RECENT)])
        stored = await device(store)
        assert (stored.status, stored.status_since, stored.last_seen) == ("offline", RECENT, None)
        assert (await device(store, GATE)).status == "unknown"

    async def test_it_stores_no_event(self, store: Store) -> None:
        await store.record_replayed_status([status_event(1, "offline", RECENT)])
        assert (await store.list_events(EventQuery())).data == []

    async def test_a_device_already_known_keeps_its_status(self, store: Store) -> None:
        await store.write_batch([access(1, RECENT - seconds(30))], [])
        await store.record_replayed_status([status_event(2, "offline", RECENT)])
        stored = await device(store)
        assert (stored.status, stored.status_since) == ("online", RECENT - seconds(30))

    async def test_a_fresh_replayed_heartbeat_seeds_online_at_the_device_s_time(
        self, store: Store
    ) -> None:
        said = RECENT - seconds(600)
        await store.record_replayed_status([heartbeat(1, occurred_at=said, arrived=RECENT)])
        stored = await device(store)
        assert (stored.status, stored.status_since, stored.last_seen) == ("online", said, said)

    async def test_a_stale_replayed_heartbeat_only_moves_last_seen(self, store: Store) -> None:
        said = RECENT - seconds(601)
        await store.record_replayed_status([heartbeat(1, occurred_at=said, arrived=RECENT)])
        stored = await device(store)
        assert (stored.status, stored.last_seen) == ("unknown", said)

    async def test_replaying_again_changes_nothing(self, store: Store) -> None:
        replay = [status_event(1, "offline", RECENT)]
        await store.record_replayed_status(replay)
        first = await device(store)
        await store.record_replayed_status(
            [status_event(1, "offline", RECENT + HOURS), status_event(2, "offline", RECENT)]
        )
        assert await device(store) == first

    async def test_an_unregistered_device_is_not_registered_by_a_replay(self, store: Store) -> None:
        await store.record_replayed_status(
            [status_event(1, "offline", RECENT, device_id=UNREGISTERED)]
        )
        assert await store.get_device(UNREGISTERED) is None


def seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


class TestClockSkew:
    """Status messages timed by the device estimate its clock skew, as `accepts_skew` rules."""

    @pytest.fixture(autouse=True)
    async def registered(self, store: Store) -> None:
        await store.upsert_devices([registration(), gate()])

    async def test_unknown_until_a_status_carries_the_device_time(self, store: Store) -> None:
        await store.write_batch([access(1, T0), status_event(2, "heartbeat", T0)], [])
        stored = await device(store)
        assert (stored.clock_skew_s, stored.clock_skew_measured_at) == (None, None)

    async def test_a_live_heartbeat_measures_the_skew(self, store: Store) -> None:
        await store.write_batch([status_event(1, "heartbeat", T0, skew=seconds(42.5))], [])
        stored = await device(store)
        assert (stored.clock_skew_s, stored.clock_skew_measured_at) == (42.5, T0)

    async def test_a_clock_behind_is_negative(self, store: Store) -> None:
        await store.write_batch([status_event(1, "online", T0, skew=-timedelta(hours=3))], [])
        assert (await device(store)).clock_skew_s == -3 * 3600

    async def test_access_events_say_nothing_about_the_clock(self, store: Store) -> None:
        await store.write_batch([access(1, T0 + timedelta(minutes=1))], [])
        assert (await device(store)).clock_skew_s is None

    async def test_the_least_delayed_message_of_a_batch_counts(self, store: Store) -> None:
        backlog = [
            status_event(n, "heartbeat", T0 + seconds(n), skew=seconds(10 - 60 * (5 - n)))
            for n in range(5)
        ]
        live = status_event(5, "heartbeat", T0 + seconds(5), skew=seconds(10))
        await store.write_batch([live, *backlog], [])
        stored = await device(store)
        assert (stored.clock_skew_s, stored.clock_skew_measured_at) == (10, T0 + seconds(5))

    async def test_a_drained_backlog_leaves_the_estimate(self, store: Store) -> None:
        await store.write_batch([status_event(1, "heartbeat", T0, skew=seconds(10))], [])
        drained = [
            status_event(n, "heartbeat", T0 + timedelta(minutes=30), skew=seconds(10 - 60 * n))
            for n in range(2, 12)
        ]
        await store.write_batch(drained, [])
        stored = await device(store)
        assert (stored.clock_skew_s, stored.clock_skew_measured_at) == (10, T0)

    async def test_a_clock_set_back_shows_after_the_horizon(self, store: Store) -> None:
        await store.write_batch([status_event(1, "heartbeat", T0, skew=seconds(300))], [])
        fixed_at = T0 + SKEW_HORIZON
        await store.write_batch([status_event(2, "heartbeat", fixed_at, skew=seconds(0))], [])
        assert (await device(store)).clock_skew_s == 300
        after = fixed_at + seconds(1)
        await store.write_batch([status_event(3, "heartbeat", after, skew=seconds(0))], [])
        stored = await device(store)
        assert (stored.clock_skew_s, stored.clock_skew_measured_at) == (0, after)

    async def test_a_registration_keeps_the_estimate(self, store: Store) -> None:
        await store.write_batch([status_event(1, "heartbeat", T0, skew=seconds(-7))], [])
        await store.upsert_devices([registration(location="moved")])
        assert (await device(store)).clock_skew_s == -7

    @pytest.mark.parametrize(
        "observations",
        [
            [(0, 20.0), (60, 16.0), (120, 14.9), (180, 30.0)],
            [(0, 20.0), (60, 20.0 - SKEW_TOLERANCE_S), (61, 14.0)],
            [(0, -5.0), (30, -5.0 - SKEW_TOLERANCE_S - 0.001), (90, -400.0)],
            [(100, 3.0), (50, 90.0), (100, 90.0), (101, -1.0)],
            [(0, 0.0), (3600, -100.0), (3601, -100.0), (7202, -200.0)],
        ],
    )
    async def test_the_store_follows_the_rule(
        self, store: Store, observations: list[tuple[int, float]]
    ) -> None:
        expected: tuple[float | None, datetime | None] = (None, None)
        for number, (after_s, skew_s) in enumerate(observations):
            arrived = T0 + seconds(after_s)
            event = status_event(number, "heartbeat", arrived, skew=seconds(skew_s))
            await store.write_batch([event], [])
            if accepts_skew(*expected, ClockObservation(skew_s, arrived)):
                expected = (skew_s, arrived)
            stored = await device(store)
            assert (stored.clock_skew_s, stored.clock_skew_measured_at) == expected

    async def test_report_lists_the_worst_devices_over_the_threshold(self, store: Store) -> None:
        camera = registration(CAMERA, kind="camera", building=None, unit=None)
        await store.upsert_devices([camera])
        await store.write_batch(
            [
                status_event(1, "heartbeat", T0, skew=seconds(-90)),
                status_event(2, "heartbeat", T0, device_id=GATE, skew=seconds(31)),
                status_event(3, "heartbeat", T0, device_id=CAMERA, skew=seconds(29.9)),
            ],
            [],
        )
        report = await store.clock_skews(30, 10)
        assert report.total == 2
        assert report.worst == [ClockSkew(UNIT_DOOR, YIDA, -90), ClockSkew(GATE, YIDA, 31)]
        cut = await store.clock_skews(30, 1)
        assert (cut.total, cut.worst) == (2, [ClockSkew(UNIT_DOOR, YIDA, -90)])
        assert (await store.clock_skews(0, 10)).total == 3


class TestSilentDevices:
    """A device silent for longer than its own interval is marked offline, once."""

    @pytest.fixture(autouse=True)
    async def seen_at_t0(self, store: Store) -> None:
        await store.upsert_devices([registration(offline_after_s=600), gate(offline_after_s=60)])
        await store.write_batch([access(1, T0), access(2, T0, device_id=GATE)], [])

    async def test_silence_longer_than_the_interval_marks_offline(self, store: Store) -> None:
        now = T0 + timedelta(seconds=601)
        assert await store.mark_silent_devices_offline(now) == [UNIT_DOOR, GATE]
        stored = await device(store)
        assert (stored.status, stored.status_since, stored.last_seen) == ("offline", now, T0)

    async def test_silence_of_exactly_the_interval_is_not_yet_offline(self, store: Store) -> None:
        assert await store.mark_silent_devices_offline(T0 + timedelta(seconds=600)) == [GATE]
        assert (await device(store)).status == "online"

    async def test_each_device_has_its_own_interval(self, store: Store) -> None:
        assert await store.mark_silent_devices_offline(T0 + timedelta(seconds=120)) == [GATE]
        assert [d.status for d in (await store.list_devices(10, None)).data] == [
            "online",  # UNIT_DOOR
            "offline",  # GATE
        ]

    async def test_an_offline_device_is_reported_once(self, store: Store) -> None:
        now = T0 + timedelta(hours=1)
        assert await store.mark_silent_devices_offline(now) == [UNIT_DOOR, GATE]
        assert await store.mark_silent_devices_offline(now + timedelta(hours=1)) == []

    async def test_the_next_message_brings_it_back_online(self, store: Store) -> None:
        await store.mark_silent_devices_offline(T0 + timedelta(hours=1))
        back = T0 + timedelta(hours=2)
        await store.write_batch([access(3, back)], [])
        stored = await device(store)
        assert (stored.status, stored.status_since, stored.last_seen) == ("online", back, back)

    async def test_silence_is_not_counted_from_before_listening_began(self, store: Store) -> None:
        started = T0 + timedelta(hours=8)  # the gateway was down, hearing nobody
        assert await store.mark_silent_devices_offline(
            started + timedelta(seconds=300), listening_since=started
        ) == [GATE]
        assert await store.mark_silent_devices_offline(
            started + timedelta(seconds=601), listening_since=started
        ) == [UNIT_DOOR]

    async def test_a_device_never_heard_is_counted_from_its_registration(
        self, store: Store
    ) -> None:
        await store.upsert_devices([registration(CAMERA, kind="camera")])
        registered = (await device(store, CAMERA)).registered_at
        await store.mark_silent_devices_offline(registered + timedelta(seconds=300))
        assert (await device(store, CAMERA)).status == "unknown"
        marked = await store.mark_silent_devices_offline(registered + timedelta(seconds=301))
        assert marked == [CAMERA]
        assert await listed_ids(store, status="offline") == [[CAMERA, UNIT_DOOR, GATE]]
