"""Retained status messages through a real Mosquitto and a restarted gateway, on both stores.

Devices set their MQTT last will (`offline`) retained, so dashboards see it; the broker then
replays it to every new subscription, and every gateway start subscribes anew. The replay is
the state the broker kept, not a new event (`gateway.pipeline.Pipeline`): it must not be
stored as a fresh `offline` at each start, while a live `offline` still is, and a device the
gateway has never heard of learns its status from the replay
(`gateway.device_status.replayed_status`).
"""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from gateway.config import DeviceSpec, GatewayConfig, Settings
from testkit.harness import (
    RunningGateway,
    clear_retained,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
)
from testkit.services import MosquittoService

YIDA = "yida"
WILLED = "43011200001320000101"
"""Its will is retained on the broker."""
LIVE = "43011200001320000102"
"""Goes offline live, while the gateway listens."""
BEATING = "43011200001320000103"
"""Its last heartbeat is retained."""
DEVICES = (WILLED, LIVE, BEATING)


def topic(device_id: str) -> str:
    return f"{YIDA}/status/{device_id}"


def config() -> GatewayConfig:
    return GatewayConfig(
        devices=[
            DeviceSpec.model_validate(
                {
                    "device_id": device_id,
                    "kind": "door_controller",
                    "dialect": "hik-isapi",
                    "community": YIDA,
                    "building": "B01",
                    "unit": "U1",
                }
            )
            for device_id in DEVICES
        ]
    )


def heartbeat(at: datetime) -> bytes:
    return json.dumps({"status": "heartbeat", "ts": int(at.timestamp() * 1000)}).encode()


async def status_events(gateway: RunningGateway, device_id: str) -> list[dict[str, object]]:
    return await gateway.events(device_id=device_id, kind="device_status")


async def stored_events(gateway: RunningGateway, device_id: str, count: int) -> None:
    """Wait until the device has `count` status events stored."""

    async def stored() -> bool:
        return len(await status_events(gateway, device_id)) >= count

    await wait_until(stored, what=f"{count} status events of {device_id}")


async def stored_status(gateway: RunningGateway, device_id: str) -> tuple[str, datetime | None]:
    device = await gateway.runtime.store.get_device(device_id)
    assert device is not None
    return device.status, device.last_seen


@pytest.fixture
async def settings(mosquitto: MosquittoService, database: str) -> AsyncIterator[Settings]:
    """One gateway's settings (its MQTT session survives its restarts); the topics' retained
    messages are cleared afterwards."""
    try:
        yield gateway_settings(mosquitto.url, database)
    finally:
        for device_id in DEVICES:
            await clear_retained(mosquitto.port, topic(device_id))


class TestRetainedStatusEndToEnd:
    """A retained will is stored once, when it happens, not again at each gateway start."""

    async def test_a_replayed_will_is_not_a_new_offline_event_but_a_live_one_is(
        self, mosquitto: MosquittoService, settings: Settings
    ) -> None:
        async with running_gateway(settings, config()) as gateway:
            await mosquitto_pub(mosquitto.port, topic(WILLED), [b"offline"], retain=True)
            await stored_events(gateway, WILLED, 1)
        for restart in range(2):
            async with running_gateway(settings, config()) as gateway:
                # Published after the subscription, so the broker sends it after the replay
                # on the same connection: once it is stored, the replay has been processed.
                await mosquitto_pub(mosquitto.port, topic(LIVE), [b"offline"])
                await stored_events(gateway, LIVE, restart + 1)
                assert len(await status_events(gateway, WILLED)) == 1
                assert (await stored_status(gateway, WILLED))[0] == "offline"
                assert (await stored_status(gateway, LIVE))[0] == "offline"

    async def test_a_first_start_learns_an_unknown_device_s_status_from_the_replay(
        self, mosquitto: MosquittoService, settings: Settings
    ) -> None:
        now = datetime.now(UTC)
        await mosquitto_pub(mosquitto.port, topic(WILLED), [b"offline"], retain=True)
        await mosquitto_pub(mosquitto.port, topic(BEATING), [heartbeat(now)], retain=True)
        async with running_gateway(settings, config()) as gateway:
            await mosquitto_pub(mosquitto.port, topic(LIVE), [heartbeat(datetime.now(UTC))])
            await stored_events(gateway, LIVE, 1)
            assert await status_events(gateway, WILLED) == []
            assert await status_events(gateway, BEATING) == []
            assert await stored_status(gateway, WILLED) == ("offline", None)
            status, last_seen = await stored_status(gateway, BEATING)
            assert status == "online"
            assert last_seen is not None and abs(last_seen - now) < timedelta(milliseconds=1)
