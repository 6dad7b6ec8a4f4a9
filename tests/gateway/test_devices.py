"""Specification of the device registry: the device model (`schemas.devices`), the TOML
`[[devices]]` table, the in-memory `DeviceRegistry` and `DeviceWatch` (`gateway.devices`),
what a batch says about its devices, and enrichment under each unknown-device policy."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import ValidationError

import gateway.devices
from adapters.registry import AdapterRegistry
from gateway.commit import BatchCommitter
from gateway.config import CommunitySpec, DeviceSpec, GatewayConfig, load_config
from gateway.device_status import (
    SKEW_HORIZON,
    SKEW_TOLERANCE_S,
    ClockObservation,
    DeviceActivity,
    DeviceWatch,
    ReplayedStatus,
    accepts_skew,
    clock_observation,
    device_activity,
    replayed_status,
)
from gateway.devices import DeviceRegistry
from gateway.errors import ConfigError, PayloadError
from gateway.messages import InboundMessage
from gateway.metrics import Metrics
from gateway.pipeline import CheckSender, Enrich, Parse, Pipeline, RouteMessage
from gateway.routing import TopicRouter
from gateway.store import Store, open_store
from schemas.codes import DeviceStatus
from schemas.devices import OFFLINE_AFTER_S_BY_KIND, Device, DeviceRegistration
from schemas.events import AccessEvent, DeviceEvent, DeviceStatusEvent, VehiclePass
from schemas.privacy import Pseudonymizer
from simulators.community import generate_community
from simulators.hik_isapi import HikDoorStream
from testkit.harness import wait_until, write_file

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
YIDA = "yida"
UNIT_DOOR = "43011200001320000001"
GATE = "43011200001320000013"
BARRIER = "43011200001350000001"
UNREGISTERED = "43011200001329999999"
Policy = Literal["accept", "quarantine"]


def registration(device_id: str = UNIT_DOOR, **fields: Any) -> DeviceRegistration:
    values: dict[str, Any] = {
        "device_id": device_id,
        "dialect": "hik-isapi",
        "community": YIDA,
        "building": "B01",
        "unit": "U1",
        "readers": {1: "in", 2: "out"},
        **fields,
    }
    return DeviceRegistration.model_validate(values)


def north_gate(**fields: Any) -> DeviceRegistration:
    return registration(GATE, building=None, unit=None, gate="North gate", **fields)


def access(
    device_id: str = UNIT_DOOR,
    *,
    number: int = 1,
    received_at: datetime = T0,
    community: str = YIDA,
    reader: int | None = 2,
    occurred_at: datetime | None = None,
) -> AccessEvent:
    return AccessEvent(
        event_id=f"evt-{number:06d}",
        community=community,
        device_id=device_id,
        occurred_at=received_at if occurred_at is None else occurred_at,
        received_at=received_at,
        dialect="hik-isapi",
        direction="unknown",
        method="card",
        result="granted",
        door="1",
        reader=reader,
        vendor_code="5/0x1",
    )


def status(
    kind: DeviceStatus,
    *,
    number: int = 1,
    received_at: datetime = T0,
    device_id: str = UNIT_DOOR,
    firmware: str | None = None,
    ip: str | None = None,
    skew_s: float | None = None,
) -> DeviceStatusEvent:
    """A status event; with `skew_s`, timed by a device clock that far ahead of its arrival."""
    return DeviceStatusEvent(
        event_id=f"status-{number:06d}",
        community=YIDA,
        device_id=device_id,
        occurred_at=received_at + timedelta(seconds=skew_s or 0),
        received_at=received_at,
        dialect="heartbeat",
        status=kind,
        firmware=firmware,
        ip=ip,
        time_source="arrival" if skew_s is None else "device",
    )


class TestDeviceModel:
    """A registration validates what an operator or a property system declares."""

    def test_kind_defaults_to_a_door_controller(self) -> None:
        assert registration().kind == "door_controller"

    @pytest.mark.parametrize(("kind", "seconds"), sorted(OFFLINE_AFTER_S_BY_KIND.items()))
    def test_offline_interval_defaults_by_kind(self, kind: str, seconds: int) -> None:
        assert registration(kind=kind).offline_after_s == seconds

    def test_an_explicit_offline_interval_wins_over_the_kinds(self) -> None:
        assert registration(kind="camera", offline_after_s=45).offline_after_s == 45

    def test_a_null_offline_interval_means_the_kinds_default(self) -> None:
        assert registration(kind="camera", offline_after_s=None).offline_after_s == 300

    @pytest.mark.parametrize(
        "fields",
        [
            {"kind": "toaster"},
            {"offline_after_s": 0},
            {"offline_after_s": 8 * 24 * 3600},
            {"device_id": ""},
            {"device_id": "yida/door"},
            {"device_id": "door+1"},
            {"device_id": "door 1"},
            {"device_id": "d" * 65},
            {"community": "Yida Town"},
            {"readers": {1: "sideways"}},
            {"readers": {-1: "in"}},
            {"building": None},  # a unit without its building
            {"status": "online"},
            {"last_seen": "2026-11-26T08:00:00+00:00"},
            {"bulding": "B01"},
        ],
    )
    def test_invalid_registrations_are_refused(self, fields: dict[str, Any]) -> None:
        with pytest.raises(ValidationError):
            registration(**fields)

    def test_reader_numbers_may_be_written_as_strings(self) -> None:
        assert registration(readers={"1": "in", "2": "out"}).readers == {1: "in", 2: "out"}

    def test_registration_drops_the_observations(self) -> None:
        sent = registration(firmware="V1")
        device = Device.model_validate(
            {
                **sent.model_dump(),
                "status": "online",
                "last_seen": T0,
                "ip": "10.0.0.1",
                "registered_at": T0,
                "updated_at": T0,
            }
        )
        assert device.registration() == sent
        assert type(device.registration()) is DeviceRegistration


class TestDeviceTable:
    """The TOML file's `[[devices]]` are registrations, with kinds and gates checked at load."""

    def test_a_toml_device_loads_with_its_kind_gate_and_interval(self, tmp_path: Path) -> None:
        path = write_file(
            tmp_path / "gw.toml",
            '[[devices]]\ndevice_id = "43011200001350000001"\ndialect = "barrier-gate"\n'
            'community = "yida"\nkind = "barrier_gate"\ngate = "North gate"\n'
            'readers = { "1" = "in", "2" = "out" }\nlocation = "north entrance, lane 1"\n'
            "offline_after_s = 120\n",
        )
        (device,) = load_config(path).devices
        assert isinstance(device, DeviceSpec)
        assert isinstance(device, DeviceRegistration)
        assert (device.kind, device.gate, device.offline_after_s) == (
            "barrier_gate",
            "North gate",
            120,
        )
        assert device.readers == {1: "in", 2: "out"}

    def test_an_unknown_kind_names_the_file_and_key(self, tmp_path: Path) -> None:
        path = write_file(
            tmp_path / "gw.toml",
            '[[devices]]\ndevice_id = "d1"\ndialect = "x"\ncommunity = "yida"\nkind = "lamp"\n',
        )
        with pytest.raises(ConfigError, match=r"gw\.toml(:\d+)?: devices\.0\.kind"):
            load_config(path)

    @pytest.mark.parametrize(
        ("key", "value", "message"),
        [
            ("device_id", "138-1234-5678", "device id holds an ID or mobile number"),
            ("device_id", "door..1", "device id contains '..'"),
            ("door", "<b>1</b>", "must not hold markup"),
            ("location", "call 13812345678", "must not hold an ID or mobile number"),
        ],
    )
    def test_a_device_breaking_the_identifier_rules_names_the_rule_not_the_value(
        self, tmp_path: Path, key: str, value: str, message: str
    ) -> None:
        fields = {"device_id": "d1", "dialect": "x", "community": "yida", key: value}
        path = write_file(
            tmp_path / "gw.toml",
            "[[devices]]\n" + "".join(f'{name} = "{text}"\n' for name, text in fields.items()),
        )
        with pytest.raises(ConfigError, match=rf"devices\.0\.{key}: {message}") as info:
            load_config(path)
        assert value not in str(info.value)


class TestDeviceActivity:
    """A batch tells the store, per device, when it was last heard and how it is doing."""

    def test_any_message_means_online_at_its_newest_event_time(self) -> None:
        later = T0 + timedelta(seconds=9)
        events: list[DeviceEvent] = [access(number=2, received_at=later), access(number=1)]
        assert device_activity(events) == [
            DeviceActivity(UNIT_DOOR, YIDA, later, later, "online", None, None)
        ]

    def test_last_seen_is_event_time_not_arrival(self) -> None:
        arrived = T0 + timedelta(hours=3)
        hours_ago = [
            access(number=1, received_at=arrived, occurred_at=T0),
            access(number=2, received_at=arrived, occurred_at=T0 + timedelta(minutes=1)),
        ]
        (activity,) = device_activity(hours_ago)
        assert (activity.seen, activity.arrived) == (T0 + timedelta(minutes=1), arrived)

    def test_a_clock_running_fast_is_capped_at_arrival(self) -> None:
        (activity,) = device_activity([access(occurred_at=T0 + timedelta(minutes=5))])
        assert activity.seen == T0

    def test_the_newest_word_by_event_time_decides_not_the_last_to_arrive(self) -> None:
        will = status("offline", number=1, received_at=T0)
        backlog = status("heartbeat", number=2, received_at=T0 + timedelta(seconds=1), skew_s=-7200)
        (activity,) = device_activity([will, backlog])
        assert (activity.status, activity.seen, activity.arrived) == ("offline", T0, T0)

    @pytest.mark.parametrize(
        ("kinds", "expected"),
        [
            (["heartbeat"], "online"),
            (["online"], "online"),
            (["offline"], "offline"),
            (["heartbeat", "offline"], "offline"),
            (["offline", "online"], "online"),
        ],
    )
    def test_the_last_status_in_arrival_order_decides(
        self, kinds: list[DeviceStatus], expected: str
    ) -> None:
        events = [status(kind, number=n) for n, kind in enumerate(kinds)]
        (activity,) = device_activity(events)
        assert activity.status == expected

    def test_a_message_after_a_last_will_means_back_online(self) -> None:
        (activity,) = device_activity([status("offline"), access(number=2)])
        assert activity.status == "online"

    def test_firmware_and_address_are_the_latest_reported(self) -> None:
        events = [
            status("online", number=1, firmware="V1", ip="10.0.0.1"),
            status("heartbeat", number=2, firmware="V2"),
            status("heartbeat", number=3),
        ]
        (activity,) = device_activity(events)
        assert (activity.firmware, activity.ip) == ("V2", "10.0.0.1")

    def test_devices_come_in_id_order_and_communities_apart(self) -> None:
        events = [access(GATE), access(UNIT_DOOR), access(UNIT_DOOR, community="jiaxin")]
        keys = [(a.device_id, a.community) for a in device_activity(events)]
        assert keys == [(UNIT_DOOR, "jiaxin"), (UNIT_DOOR, YIDA), (GATE, YIDA)]

    def test_an_empty_batch_says_nothing(self) -> None:
        assert device_activity([]) == []

    def test_the_clock_observation_is_the_batch_s_least_delayed(self) -> None:
        later = T0 + timedelta(seconds=2)
        events: list[DeviceEvent] = [
            status("heartbeat", number=1, skew_s=-600.0),
            status("heartbeat", number=2, received_at=later, skew_s=12.5),
            status("heartbeat", number=3, skew_s=-60.0),
            access(number=4, received_at=T0 + timedelta(seconds=3)),
        ]
        (activity,) = device_activity(events)
        assert activity.clock == ClockObservation(12.5, later)

    def test_no_clock_observation_without_the_device_s_time(self) -> None:
        (activity,) = device_activity([status("offline"), access(number=2)])
        assert activity.clock is None


class TestReplayedStatus:
    """What retained status messages say, per device, for the store to seed unknown devices."""

    def test_a_will_replayed_is_offline_at_no_known_time(self) -> None:
        assert replayed_status([status("offline")]) == [
            ReplayedStatus(UNIT_DOOR, YIDA, "offline", None, T0)
        ]

    def test_a_heartbeat_with_the_device_s_time_is_online_at_that_time(self) -> None:
        (replayed,) = replayed_status([status("heartbeat", skew_s=-60)])
        assert (replayed.status, replayed.at) == ("online", T0 - timedelta(seconds=60))

    def test_the_device_s_time_is_capped_at_arrival(self) -> None:
        (replayed,) = replayed_status([status("online", skew_s=90)])
        assert replayed.at == T0

    def test_one_per_device_the_last_replayed_in_id_order(self) -> None:
        events = [
            status("online", number=1, device_id=GATE),
            status("online", number=2),
            status("offline", number=3),
        ]
        assert [(r.device_id, r.status) for r in replayed_status(events)] == [
            (UNIT_DOOR, "offline"),
            (GATE, "online"),
        ]


class TestClockSkewRule:
    """Which status messages measure a device's clock, and which estimate a new one replaces."""

    def test_a_status_timed_by_the_device_is_observed(self) -> None:
        event = status("heartbeat", received_at=T0, skew_s=-3.25)
        assert clock_observation(event) == ClockObservation(-3.25, T0)

    def test_a_status_timed_on_arrival_and_other_kinds_are_not(self) -> None:
        assert clock_observation(status("offline")) is None
        assert clock_observation(access()) is None

    def test_the_first_observation_is_taken(self) -> None:
        assert accepts_skew(None, None, ClockObservation(-90.0, T0))

    @pytest.mark.parametrize(
        ("skew_s", "accepted"),
        [
            (40.0, True),
            (30.0, True),
            (30.0 - SKEW_TOLERANCE_S, True),
            (30.0 - SKEW_TOLERANCE_S - 0.001, False),
            (-3600.0, False),
        ],
    )
    def test_an_observation_far_below_the_estimate_is_a_delayed_message(
        self, skew_s: float, accepted: bool
    ) -> None:
        observed = ClockObservation(skew_s, T0 + timedelta(minutes=1))
        assert accepts_skew(30.0, T0, observed) is accepted

    def test_after_the_horizon_any_later_observation_is_taken(self) -> None:
        at_horizon = ClockObservation(-3600.0, T0 + SKEW_HORIZON)
        past_it = ClockObservation(-3600.0, T0 + SKEW_HORIZON + timedelta(microseconds=1))
        assert not accepts_skew(30.0, T0, at_horizon)
        assert accepts_skew(30.0, T0, past_it)

    def test_an_observation_older_than_the_estimate_is_ignored(self) -> None:
        assert not accepts_skew(30.0, T0, ClockObservation(90.0, T0))
        assert not accepts_skew(30.0, T0, ClockObservation(90.0, T0 - timedelta(seconds=1)))


class TestDeviceRegistry:
    """The pipeline's in-memory copy of the registry: looked up per event, updated in place."""

    def test_lookup_by_id(self) -> None:
        registry = DeviceRegistry([registration(), north_gate()])
        assert len(registry) == 2
        found = registry.get(GATE)
        assert found is not None and found.gate == "North gate"
        assert registry.get(UNREGISTERED) is None

    def test_from_config_holds_the_files_devices(self) -> None:
        config = GatewayConfig(devices=[DeviceSpec.model_validate(registration().model_dump())])
        assert DeviceRegistry.from_config(config).get(UNIT_DOOR) is not None

    def test_put_adds_and_replaces(self) -> None:
        registry = DeviceRegistry([registration()])
        registry.put(registration(building="B02"))
        registry.put(north_gate())
        found = registry.get(UNIT_DOOR)
        assert found is not None and found.building == "B02"
        assert len(registry) == 2

    async def test_load_reads_every_page_of_the_table(
        self, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(gateway.devices, "LOAD_PAGE", 2)
        ids = [f"dev-{n}" for n in range(5)]
        await sqlite_store.upsert_devices([registration(i) for i in ids])
        registry = await DeviceRegistry.load(sqlite_store)
        assert len(registry) == 5
        loaded = registry.get("dev-4")
        assert loaded == registration("dev-4")
        assert type(loaded) is DeviceRegistration

    async def test_reload_replaces_the_contents_with_the_table(self, sqlite_store: Store) -> None:
        registry = DeviceRegistry([registration("stale")])
        await sqlite_store.upsert_devices([registration(), north_gate()])
        assert await registry.reload(sqlite_store)
        assert registry.get("stale") is None
        assert len(registry) == 2

    async def test_reload_racing_a_put_keeps_the_put(self, sqlite_store: Store) -> None:
        registry = DeviceRegistry()

        class PutDuringRead:
            async def device_registrations_digest(self) -> str:
                return await sqlite_store.device_registrations_digest()

            async def list_devices(self, limit: int, cursor: str | None) -> object:
                registry.put(north_gate())
                return await sqlite_store.list_devices(limit, cursor)

        assert not await registry.reload(PutDuringRead())  # type: ignore[arg-type]
        assert registry.get(GATE) is not None

    async def test_reload_reads_the_table_only_when_a_registration_changed(
        self, sqlite_store: Store
    ) -> None:
        """The watch asks every 30 s; a district's table costs seconds of CPU to read, and
        what a batch observes (status, last seen) is not a registration."""
        reads = CountingReads(sqlite_store)
        await sqlite_store.upsert_devices([registration(), north_gate()])
        registry = await DeviceRegistry.load(reads)  # type: ignore[arg-type]
        assert reads.pages == 1
        assert await registry.reload(reads)  # type: ignore[arg-type]
        await sqlite_store.write_batch([access()], [])  # the door is seen: online, last_seen
        assert await registry.reload(reads)  # type: ignore[arg-type]
        assert reads.pages == 1
        await sqlite_store.upsert_devices([registration(building="B02")])  # another process
        assert await registry.reload(reads)  # type: ignore[arg-type]
        assert reads.pages == 2
        found = registry.get(UNIT_DOOR)
        assert found is not None and found.building == "B02"

    async def test_a_put_of_this_process_is_followed_by_a_read_of_the_table(
        self, sqlite_store: Store
    ) -> None:
        reads = CountingReads(sqlite_store)
        registry = await DeviceRegistry.load(reads)  # type: ignore[arg-type]
        await sqlite_store.upsert_devices([north_gate()])
        registry.put(north_gate())
        assert await registry.reload(reads)  # type: ignore[arg-type]
        assert reads.pages == 2
        assert registry.get(GATE) == north_gate()


class CountingReads:
    """The store, counting the pages of devices read from it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pages = 0

    async def device_registrations_digest(self) -> str:
        return await self.store.device_registrations_digest()

    async def list_devices(self, limit: int, cursor: str | None) -> object:
        self.pages += 1
        return await self.store.list_devices(limit, cursor)


@pytest.fixture
async def sqlite_store(sqlite_url: str) -> AsyncIterator[Store]:
    store = open_store(sqlite_url)
    await store.open()
    await store.migrate()
    yield store
    await store.close()


class TestEnrichFromTheRegistry:
    """Enrich places events by their device's registration and applies the unknown-device
    policy; a device put into the registry counts from its next event."""

    def enrich(self, registry: DeviceRegistry, policy: Policy = "accept") -> Enrich:
        return Enrich(registry, policy)

    def test_gate_devices_stamp_their_gate(self) -> None:
        event = self.enrich(DeviceRegistry([north_gate()]))(access(GATE, reader=1))
        assert (event.building, event.unit, event.gate) == (None, None, "North gate")
        assert isinstance(event, AccessEvent) and event.direction == "in"

    def test_unit_doors_stamp_building_and_unit_and_no_gate(self) -> None:
        event = self.enrich(DeviceRegistry([registration()]))(access())
        assert (event.building, event.unit, event.gate) == ("B01", "U1", None)

    def test_other_event_kinds_are_placed_too(self) -> None:
        barrier = registration(BARRIER, kind="barrier_gate", building=None, unit=None, gate="S")
        vehicle = VehiclePass(
            event_id="veh-000001",
            community=YIDA,
            device_id=BARRIER,
            occurred_at=T0,
            received_at=T0,
            dialect="plates",
            plate_no="湘A12345",
        )
        assert self.enrich(DeviceRegistry([barrier]))(vehicle).gate == "S"

    def test_a_device_put_later_is_placed_from_its_next_event(self) -> None:
        registry = DeviceRegistry()
        enrich = self.enrich(registry, "quarantine")
        with pytest.raises(PayloadError):
            enrich(access(GATE))
        registry.put(north_gate())
        assert enrich(access(GATE)).gate == "North gate"

    def test_accept_stores_the_event_flagged(self) -> None:
        event = self.enrich(DeviceRegistry(), "accept")(access(UNREGISTERED))
        assert event.unregistered_device
        assert (event.building, event.unit, event.gate) == (None, None, None)

    def test_quarantine_dead_letters_it_with_the_reason(self) -> None:
        with pytest.raises(PayloadError) as info:
            self.enrich(DeviceRegistry(), "quarantine")(access(UNREGISTERED))
        assert info.value.reason == "unknown_device"


class TestUnknownDevicePolicyCounts:
    """Under either policy an unknown device's messages are counted; nothing is lost silently."""

    community = generate_community(
        seed=5, buildings=1, units_per_building=1, floors=2, houses_per_floor=2
    )

    def committer(self, store: Store, policy: Policy, metrics: Metrics) -> BatchCommitter:
        config = GatewayConfig(communities=[CommunitySpec(code=self.community.code)])
        adapters = AdapterRegistry().build(Pseudonymizer("devices-test-key-0123456789"))
        registry = DeviceRegistry()
        pipeline = Pipeline(
            RouteMessage(TopicRouter(config, set(adapters)), 64 * 1024),
            CheckSender(registry),
            Parse(adapters),
            [Enrich(registry, policy)],
        )
        return BatchCommitter(pipeline, store, metrics)

    def messages(self, count: int) -> list[InboundMessage]:
        stream = HikDoorStream(self.community, seed=2, start=T0, events_per_hour=3600)
        return [InboundMessage(topic, payload, T0, 0.0) for topic, payload in stream.take(count)]

    async def test_accept_stores_and_counts_them(self, sqlite_store: Store) -> None:
        metrics = Metrics()
        result = await self.committer(sqlite_store, "accept", metrics)(self.messages(4))
        assert result.inserted == 4
        counted = metrics.registry.get_sample_value("scgw_events_unregistered_device_total")
        assert counted == 4

    async def test_quarantine_dead_letters_and_counts_them(self, sqlite_store: Store) -> None:
        metrics = Metrics()
        result = await self.committer(sqlite_store, "quarantine", metrics)(self.messages(3))
        assert (result.inserted, result.dead_letters) == (0, 3)
        letters = (await sqlite_store.list_dead_letters(10, None)).data
        assert {letter.reason for letter in letters} == {"unknown_device"}
        rejected = metrics.registry.get_sample_value(
            "scgw_rejections_total", {"reason": "unknown_device"}
        )
        assert rejected == 3


def skew_series(metrics: Metrics) -> dict[str, float]:
    """The per-device clock-skew series of `/metrics`, by device id."""
    return {
        sample.labels["device_id"]: sample.value
        for family in metrics.registry.collect()
        if family.name == "scgw_device_clock_skew_seconds"
        for sample in family.samples
    }


class TestDeviceWatch:
    """The watch marks silent devices offline and refreshes the registry from the table."""

    async def test_a_round_marks_silent_devices_and_reloads(self, sqlite_store: Store) -> None:
        await sqlite_store.upsert_devices([registration(offline_after_s=60), north_gate()])
        await sqlite_store.write_batch([access(), access(GATE, number=2)], [])
        registry = DeviceRegistry()
        watch = DeviceWatch(sqlite_store, registry, interval_s=30, listening_since=T0)
        assert await watch.check(T0 + timedelta(seconds=61)) == [UNIT_DOOR]
        assert len(registry) == 2
        device = await sqlite_store.get_device(UNIT_DOOR)
        assert device is not None and device.status == "offline"

    async def test_a_round_shows_the_devices_whose_clock_is_off(self, sqlite_store: Store) -> None:
        await sqlite_store.upsert_devices([registration(), north_gate()])
        metrics = Metrics()
        watch = DeviceWatch(
            sqlite_store,
            DeviceRegistry(),
            interval_s=30,
            listening_since=T0,
            metrics=metrics,
            skew_report_s=30,
        )
        skewed = [status("heartbeat", skew_s=-45.5), status("heartbeat", device_id=GATE, skew_s=3)]
        await sqlite_store.write_batch(skewed, [])
        await watch.check(T0)
        assert skew_series(metrics) == {UNIT_DOOR: -45.5}
        assert metrics.registry.get_sample_value("scgw_devices_clock_skewed") == 1
        fixed = status("heartbeat", number=2, received_at=T0 + SKEW_HORIZON * 2, skew_s=0.5)
        await sqlite_store.write_batch([fixed], [])
        await watch.check(T0)
        assert skew_series(metrics) == {}
        assert metrics.registry.get_sample_value("scgw_devices_clock_skewed") == 0

    async def test_silence_counts_from_when_listening_began(self, sqlite_store: Store) -> None:
        await sqlite_store.upsert_devices([registration(offline_after_s=60)])
        await sqlite_store.write_batch([access()], [])
        started = T0 + timedelta(days=1)
        watch = DeviceWatch(sqlite_store, DeviceRegistry(), interval_s=30, listening_since=started)
        assert await watch.check(started + timedelta(seconds=30)) == []

    async def test_a_store_outage_is_logged_and_waited_out(
        self, sqlite_store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        registry = DeviceRegistry([registration()])
        watch = DeviceWatch(sqlite_store, registry, interval_s=30, listening_since=T0)
        await sqlite_store.close()
        with caplog.at_level(logging.WARNING, logger="gateway.devices"):
            assert await watch.check(T0) == []
        assert "store is unavailable" in caplog.text
        assert len(registry) == 1

    async def test_run_keeps_going_after_a_failed_round(
        self, sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rounds: list[datetime | None] = []
        watch = DeviceWatch(sqlite_store, DeviceRegistry(), interval_s=0.01, listening_since=T0)

        async def check(now: datetime | None = None) -> list[str]:
            rounds.append(now)
            if len(rounds) == 1:
                raise RuntimeError("a bug in one round")
            return []

        monkeypatch.setattr(watch, "check", check)
        task = asyncio.create_task(watch.run())
        try:
            await wait_until(lambda: len(rounds) >= 3, timeout_s=5, what="three rounds")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
