"""Door events from a real MQTT client to the store and back out through the API.

The same scenario runs on both stacks: Mosquitto + TimescaleDB (production) and the embedded
amqtt broker + SQLite (the demo). Payloads are published with `mosquitto_pub`, a client we did
not write.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from gateway.broker import Account, EmbeddedBroker, embedded_broker
from gateway.config import GatewayConfig, load_config
from schemas.privacy import Pseudonymizer, subject_key
from simulators.community import Community, generate_community
from simulators.config_toml import community_config_toml
from simulators.hik_isapi import DoorEvent, Minor, hik_payload, hik_topic
from testkit.harness import (
    BROKER_ACCOUNTS,
    HASH_KEY,
    YIDA_DEVICES,
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
    write_file,
)
from testkit.services import MosquittoService, PostgresService, free_port

CST = timezone(timedelta(hours=8))


@dataclass(frozen=True)
class Scenario:
    """Door events with known ground truth, and the config that registers their devices."""

    community: Community
    config: GatewayConfig
    events: list[DoorEvent]


@pytest.fixture
def scenario(tmp_path: Path) -> Scenario:
    community = generate_community()
    config = load_config(write_file(tmp_path / "yida.toml", community_config_toml(community)))
    device = next(d for d in community.devices if d.building is not None)
    resident = community.unit_residents(device.building or "", device.unit or "")[0]
    at = (datetime.now(CST) - timedelta(hours=1)).replace(microsecond=0)
    events = [
        DoorEvent(device, Minor.CARD_PASSED, at, 4567, resident, 1, "checkIn", verify_no=1),
        DoorEvent(device, Minor.FACE_PASSED, at + timedelta(seconds=5), 4568, resident, 2, None),
        DoorEvent(
            device,
            Minor.CARD_UNKNOWN,
            at + timedelta(seconds=9),
            4569,
            None,
            1,
            None,
            card_no="9988776655",
        ),
        DoorEvent(device, Minor.DOOR_FORCED_OPEN, at + timedelta(seconds=20), 4570, None, 0, None),
    ]
    return Scenario(community, config, events)


async def publish_and_read(
    gateway: RunningGateway, broker_port: int, scenario: Scenario, account: Account | None = None
) -> list[dict[str, object]]:
    device_id = scenario.events[0].device.device_id
    payloads = [hik_payload(e) for e in scenario.events]
    await mosquitto_pub(broker_port, hik_topic("yida", device_id), payloads, account=account)

    async def all_stored() -> bool:
        return len(await gateway.events()) == len(scenario.events)

    await wait_until(all_stored, what="the published door events to be stored")
    return await gateway.events()


def assert_events_match(served: list[dict[str, object]], scenario: Scenario) -> None:
    """Every field of every served event agrees with the simulator's ground truth."""
    hasher = Pseudonymizer(HASH_KEY)
    card, face, unknown_card, forced = sorted(served, key=lambda e: str(e["occurred_at"]))
    device = scenario.events[0].device
    resident = scenario.events[0].resident
    assert resident is not None
    for event in served:
        assert event["community"] == "yida"
        assert event["device_id"] == device.device_id
        assert event["building"] == device.building and event["unit"] == device.unit
        assert event["unregistered_device"] is False
        assert str(event["received_at"]).endswith("+00:00")
    first = scenario.events[0].occurred_at
    assert card["occurred_at"] == first.astimezone(UTC).isoformat()  # stored in UTC
    assert card["kind"] == "access"
    assert (card["direction"], card["method"], card["result"]) == ("in", "card", "granted")
    assert card["door"] == "1" and card["reader"] == 1
    # The platform sees the card as the community's subject, never the gateway-wide hash.
    assert card["credential"] is None
    assert card["subject_key"] == subject_key("yida", hasher.hash("card", resident.card_no))
    assert card["vendor_code"] == "5/0x1"
    # No attendance status: the direction comes from reader 2's configured direction.
    assert (face["direction"], face["method"], face["result"]) == ("out", "face", "granted")
    assert face["occurred_at"] == (first + timedelta(seconds=5)).astimezone(UTC).isoformat()
    assert (unknown_card["method"], unknown_card["result"]) == ("card", "denied")
    assert unknown_card["subject_key"] == subject_key("yida", hasher.hash("card", "9988776655"))
    assert forced["kind"] == "door_state" and forced["state"] == "forced_open"
    assert len({e["event_id"] for e in served}) == 4


class TestProductionStack:
    """Mosquitto and TimescaleDB: events land in a hypertable and come back exactly."""

    async def test_door_events_round_trip(
        self,
        mosquitto: MosquittoService,
        postgres: PostgresService,
        pg_dsn: str,
        scenario: Scenario,
    ) -> None:
        settings = gateway_settings(mosquitto.url, pg_dsn)
        async with running_gateway(settings, scenario.config) as gateway:
            served = await publish_and_read(gateway, mosquitto.port, scenario)
        assert_events_match(served, scenario)
        database = pg_dsn.rsplit("/", 1)[1]
        hypertables = postgres.psql(
            "SELECT hypertable_name FROM timescaledb_information.hypertables", database
        )
        assert "events" in hypertables.split()

    async def test_republished_events_are_stored_once(
        self, mosquitto: MosquittoService, pg_dsn: str, scenario: Scenario
    ) -> None:
        settings = gateway_settings(mosquitto.url, pg_dsn)
        async with running_gateway(settings, scenario.config) as gateway:
            await publish_and_read(gateway, mosquitto.port, scenario)
            await publish_and_read(gateway, mosquitto.port, scenario)
            registry = gateway.runtime.metrics.registry

            def duplicates() -> float:
                return registry.get_sample_value("scgw_events_duplicate_total") or 0

            await wait_until(lambda: duplicates() == 4, what="4 duplicates to be counted")
            assert len(await gateway.events()) == len(scenario.events)
            assert registry.get_sample_value("scgw_events_stored_total") == 4


@pytest.fixture
async def embedded_mqtt() -> AsyncIterator[EmbeddedBroker]:
    async with embedded_broker(BROKER_ACCOUNTS, free_port()) as broker:
        yield broker


class TestEmbeddedStack:
    """The embedded amqtt broker and SQLite: the demo's stack gives the same answers."""

    async def test_door_events_round_trip(
        self, embedded_mqtt: EmbeddedBroker, sqlite_url: str, scenario: Scenario
    ) -> None:
        url = embedded_mqtt.url(BROKER_ACCOUNTS.gateway)
        settings = gateway_settings(url, sqlite_url, mqtt_protocol="3.1.1")
        async with running_gateway(settings, scenario.config) as gateway:
            served = await publish_and_read(gateway, embedded_mqtt.port, scenario, YIDA_DEVICES)
        assert_events_match(served, scenario)
