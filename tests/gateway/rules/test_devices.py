"""`device.offline` (`gateway.rules.devices`): the devices the silent-device watch marks offline
become local tickets, once per silence."""

import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from gateway.device_status import DeviceWatch
from gateway.devices import DeviceRegistry
from gateway.rules.catalog import default_catalog
from gateway.rules.devices import OFFLINE, OfflineTickets, device_offline
from gateway.store import Store, open_store
from gateway.store.tickets import TicketQuery
from schemas.devices import DeviceRegistration
from schemas.events import DeviceStatusEvent
from tests.gateway.rules.drafting import pilot_drafter
from tests.gateway.rules.rule_events import UNIT_DOOR, YIDA, heartbeat, texts

MINUTE = timedelta(minutes=1)


@pytest.fixture
def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


async def watch(store: Store, now: datetime) -> DeviceWatch:
    await store.upsert_devices(
        [
            DeviceRegistration(
                device_id=UNIT_DOOR,
                dialect="hik-isapi",
                community=YIDA,
                building="B01",
                unit="U1",
                offline_after_s=120,
            )
        ]
    )
    catalog = default_catalog()
    tickets = OfflineTickets(store, catalog[OFFLINE], pilot_drafter(catalog))
    return DeviceWatch(
        store,
        await DeviceRegistry.load(store),
        interval_s=30,
        listening_since=now - timedelta(hours=1),
        on_offline=tickets,
    )


def will(number: int, at: datetime) -> DeviceStatusEvent:
    """The door controller's MQTT last will: `offline`, timed by its arrival at `at`."""
    return DeviceStatusEvent(
        event_id=f"will-{number:06d}",
        community=YIDA,
        device_id=UNIT_DOOR,
        occurred_at=at,
        received_at=at,
        time_source="arrival",
        dialect="heartbeat",
        status="offline",
    )


class TestDeviceOffline:
    async def test_a_silent_device_gets_one_local_ticket_per_silence(
        self, store: Store, now: datetime
    ) -> None:
        """Marked offline → a ticket kept with the property; the next round adds nothing; back
        and silent again → the same open ticket, a second occurrence."""
        devices = await watch(store, now)
        await store.write_batch([heartbeat(1, now - 10 * MINUTE)], [])
        assert await devices.check(now) == [UNIT_DOOR]
        assert await devices.check(now + MINUTE) == []
        page = await store.list_tickets(TicketQuery(rule=OFFLINE), now)
        [ticket] = page.data
        assert (ticket.forward, ticket.status, ticket.category.code) == (
            False,
            "detected",
            "device_operations",
        )
        assert ticket.location.device_id == UNIT_DOOR
        assert ticket.detected_at == now
        assert UNIT_DOOR in ticket.description and "2分钟" in ticket.description
        await store.write_batch([heartbeat(2, now + 2 * MINUTE, received_at=now + 2 * MINUTE)], [])
        assert await devices.check(now + 5 * MINUTE) == [UNIT_DOOR]
        [again] = (await store.list_tickets(TicketQuery(rule=OFFLINE), now)).data
        assert (again.ticket_id, again.occurrences) == (ticket.ticket_id, 2)

    async def test_a_device_that_said_it_is_offline_gets_one_ticket_per_spell(
        self, store: Store, now: datetime
    ) -> None:
        """An `offline` status (its last will) past the kind's limit → one local ticket dated at
        the will, however many rounds follow; back and offline again → a second occurrence."""
        devices = await watch(store, now)
        went = now - 10 * MINUTE
        await store.write_batch([will(1, went)], [])
        for round_ in range(3):
            await devices.check(now + round_ * MINUTE)
        [ticket] = (await store.list_tickets(TicketQuery(rule=OFFLINE), now)).data
        assert (ticket.detected_at, ticket.occurrences, ticket.forward) == (went, 1, False)
        await store.write_batch([heartbeat(2, now + 4 * MINUTE, received_at=now + 4 * MINUTE)], [])
        await store.write_batch([will(3, now + 5 * MINUTE)], [])
        await devices.check(now + 6 * MINUTE)  # offline for one minute: not yet
        assert (await store.list_tickets(TicketQuery(rule=OFFLINE), now)).data[0].occurrences == 1
        await devices.check(now + 8 * MINUTE)
        [again] = (await store.list_tickets(TicketQuery(rule=OFFLINE), now)).data
        assert (again.ticket_id, again.occurrences) == (ticket.ticket_id, 2)

    async def test_a_ticket_the_store_refused_is_recorded_next_round(
        self, sqlite_url: str, now: datetime
    ) -> None:
        """Only this process marked the device offline, so when recording its ticket fails the
        watch keeps it and records it at its next round."""
        store = open_store(sqlite_url)
        await store.open()
        try:
            await store.migrate()
            devices = await watch(store, now)
            await store.write_batch([heartbeat(1, now - 10 * MINUTE)], [])
            path = sqlite_url.removeprefix("sqlite:///")
            refuse = (
                "CREATE TRIGGER refuse BEFORE INSERT ON tickets"
                " BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
            with closing(sqlite3.connect(path)) as side, side:
                side.execute(refuse)
            assert await devices.check(now) == []  # marked, but the ticket was refused
            with closing(sqlite3.connect(path)) as side, side:
                side.execute("DROP TRIGGER refuse")
            assert await devices.check(now + MINUTE) == []  # nothing newly silent
            [ticket] = (await store.list_tickets(TicketQuery(rule=OFFLINE), now)).data
            assert (ticket.location.device_id, ticket.detected_at) == (UNIT_DOOR, now)
        finally:
            await store.close()

    async def test_a_device_back_online_is_no_finding(self, store: Store, now: datetime) -> None:
        """Read back online between the watch's update and the rule, a device is fine."""
        await watch(store, now)
        await store.write_batch([heartbeat(1, now)], [])
        device = await store.get_device(UNIT_DOOR)
        assert device is not None and device.status == "online"
        assert device_offline(device, now, {}) is None

    async def test_the_texts_name_the_device_and_its_limit(
        self, store: Store, now: datetime
    ) -> None:
        """The finding's facts fill the templates: device, kind (in Chinese in the Chinese
        text), last word, limit."""
        await watch(store, now)
        await store.write_batch([heartbeat(1, now - 10 * MINUTE)], [])
        await store.mark_silent_devices_offline(now)
        device = await store.get_device(UNIT_DOOR)
        assert device is not None
        finding = device_offline(device, now, {})
        assert finding is not None
        assert (finding.subject, finding.occurrence) == (UNIT_DOOR, now.isoformat())
        title, description, summary = texts(default_catalog()[OFFLINE], finding)
        assert title.startswith("设备离线")
        assert "（类型：门禁控制器）" in description and "door_controller" not in description
        assert f"Device {UNIT_DOOR} (door_controller)" in summary
        assert "2-minute limit" in summary
