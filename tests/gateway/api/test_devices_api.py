"""The device registry through the real HTTP API of a running gateway (embedded amqtt broker,
SQLite): registration, reads and pages, keys, and a registry the running pipeline follows —
devices PUT while running are placed from their next message, and status and last_seen
follow messages, status events and silence."""

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adapters.mapping import MappingSpec
from gateway.broker import EmbeddedBroker, embedded_broker
from gateway.config import CommunitySpec, DeviceSpec, GatewayConfig
from gateway.errors import ConfigError
from gateway.runtime import running_gateway as runtime_of
from schemas.codes import DeviceStatus
from schemas.events import DeviceStatusEvent
from simulators.community import Device as SimulatedDevice
from simulators.community import generate_community
from simulators.hik_isapi import DoorEvent, Minor, hik_payload, hik_topic
from testkit.harness import (
    BROKER_ACCOUNTS,
    SECRETS,
    YIDA_DEVICES,
    RunningGateway,
    gateway_settings,
    mosquitto_pub,
    running_gateway,
    wait_until,
)
from testkit.services import free_port

COMMUNITY = generate_community()
IN_CONFIG = COMMUNITY.devices[0]
NOT_IN_CONFIG = next(d for d in COMMUNITY.devices[1:] if d.building is not None)
NEW_ID = "43011200001399990001"
AT = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
"""When the published door events happened: just before the test, so the gateway keeps them."""


def device_spec(device: SimulatedDevice) -> DeviceSpec:
    return DeviceSpec.model_validate(
        {
            "device_id": device.device_id,
            "dialect": device.dialect,
            "community": COMMUNITY.code,
            "kind": device.kind,
            "building": device.building,
            "unit": device.unit,
            "door": device.door,
            "readers": device.readers,
        }
    )


CONFIG = GatewayConfig(
    communities=[CommunitySpec(code=COMMUNITY.code), CommunitySpec(code="jiaxin")],
    devices=[device_spec(IN_CONFIG)],
    dialects=[
        MappingSpec.model_validate(
            {
                "name": "acme-door",
                "kind": "access",
                "fields": {
                    "occurred_at": {"path": "t", "format": "epoch_ms"},
                    "method": {"const": "card"},
                    "result": {"const": "granted"},
                    "direction": {"const": "in"},
                    "vendor_code": {"const": "acme"},
                },
            }
        )
    ],
)
ACCOUNT = "ac-yida-01"
"""An access-cloud account, registered through the API as a platform."""


def body(**fields: Any) -> dict[str, Any]:
    """A PUT body for a unit-door controller; `fields` override or add."""
    return {
        "kind": "door_controller",
        "dialect": "hik-isapi",
        "community": COMMUNITY.code,
        "building": "B09",
        "unit": "U2",
        "door": "B09-U2 unit door",
        "readers": {"1": "in", "2": "out"},
        "location": "B09 stairwell 2",
        **fields,
    }


@pytest.fixture
async def embedded_mqtt() -> AsyncIterator[EmbeddedBroker]:
    async with embedded_broker(BROKER_ACCOUNTS, free_port()) as broker:
        yield broker


@pytest.fixture
async def gateway(embedded_mqtt: EmbeddedBroker, sqlite_url: str) -> AsyncIterator[RunningGateway]:
    url = embedded_mqtt.url(BROKER_ACCOUNTS.gateway)
    settings = gateway_settings(url, sqlite_url, mqtt_protocol="3.1.1", device_check_interval_s=0.2)
    async with running_gateway(settings, CONFIG) as running:
        yield running


@pytest.fixture
def broker_port(embedded_mqtt: EmbeddedBroker) -> int:
    return embedded_mqtt.port


async def put(gateway: RunningGateway, path_id: str, /, **fields: Any) -> httpx.Response:
    return await gateway.http.put(f"/v1/devices/{path_id}", json=body(**fields))


async def put_platform(gateway: RunningGateway, device_id: str, /, **fields: Any) -> httpx.Response:
    """Register an access-cloud account: a platform, which may be other devices' parent."""
    platform: dict[str, Any] = {
        "building": None,
        "unit": None,
        "door": None,
        "readers": {},
        "location": None,
    }
    return await put(
        gateway, device_id, dialect="access-cloud", kind="platform", **{**platform, **fields}
    )


async def get(gateway: RunningGateway, device_id: str) -> dict[str, Any]:
    response = await gateway.http.get(f"/v1/devices/{device_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def publish_door_event(
    port: int, device: SimulatedDevice, serial: int, at: datetime = AT
) -> None:
    resident = COMMUNITY.unit_residents(device.building or "", device.unit or "")[0]
    event = DoorEvent(device, Minor.CARD_PASSED, at, serial, resident, 1, None, verify_no=serial)
    topic = hik_topic(COMMUNITY.code, device.device_id)
    await mosquitto_pub(port, topic, [hik_payload(event)], account=YIDA_DEVICES)


async def event_with_serial(gateway: RunningGateway, device_id: str, count: int) -> list[Any]:
    """Wait until the device has `count` stored events; return them oldest first."""

    async def stored() -> bool:
        return len(await gateway.events(device_id=device_id)) >= count

    await wait_until(stored, what=f"{count} events of {device_id}")
    return sorted(await gateway.events(device_id=device_id), key=lambda e: e["received_at"])


class TestRegistration:
    """PUT registers or replaces a device and answers what was stored; GET reads it back."""

    async def test_the_config_files_devices_are_registered_at_start_up(
        self, gateway: RunningGateway
    ) -> None:
        found = await get(gateway, IN_CONFIG.device_id)
        assert (found["building"], found["unit"], found["door"]) == (
            IN_CONFIG.building,
            IN_CONFIG.unit,
            IN_CONFIG.door,
        )
        assert found["readers"] == {"1": "in", "2": "out"}
        assert (found["status"], found["last_seen"]) == ("unknown", None)

    async def test_put_registers_then_get_reads_it_back(self, gateway: RunningGateway) -> None:
        response = await put(gateway, NEW_ID, firmware="V5.7.1")
        assert response.status_code == 201, response.text
        stored = response.json()
        assert stored["device_id"] == NEW_ID
        assert (stored["kind"], stored["building"], stored["unit"]) == (
            "door_controller",
            "B09",
            "U2",
        )
        assert (stored["offline_after_s"], stored["firmware"]) == (600, "V5.7.1")
        assert (stored["status"], stored["last_seen"], stored["gate"]) == ("unknown", None, None)
        assert await get(gateway, NEW_ID) == stored

    async def test_put_again_replaces_the_registration(self, gateway: RunningGateway) -> None:
        await put(gateway, NEW_ID)
        response = await put(gateway, NEW_ID, kind="face_terminal", unit="U3", location=None)
        assert response.status_code == 200, response.text
        found = await get(gateway, NEW_ID)
        assert (found["kind"], found["unit"], found["location"]) == ("face_terminal", "U3", None)

    async def test_body_may_repeat_the_paths_device_id(self, gateway: RunningGateway) -> None:
        assert (await put(gateway, NEW_ID, device_id=NEW_ID)).status_code == 201

    async def test_a_gate_device(self, gateway: RunningGateway) -> None:
        response = await put(
            gateway,
            NEW_ID,
            kind="barrier_gate",
            dialect="barrier-gate",
            building=None,
            unit=None,
            gate="South gate",
            offline_after_s=120,
        )
        assert response.status_code == 201, response.text
        assert (response.json()["gate"], response.json()["offline_after_s"]) == ("South gate", 120)

    @pytest.mark.parametrize(
        ("fields", "location"),
        [
            ({"kind": "toaster"}, ["body", "kind"]),
            ({"device_id": "43011200001399990002"}, ["body", "device_id"]),
            ({"community": "elsewhere"}, ["body", "community"]),
            ({"status": "online"}, ["body", "<key 2>"]),  # not a DevicePut field: by position
            ({"last_seen": "2026-11-26T08:00:00+00:00"}, ["body", "<key 2>"]),
            ({"offline_after_s": 0}, ["body", "offline_after_s"]),
            ({"readers": {"1": "sideways"}}, ["body", "readers", "<key 3>"]),
            ({"building": None}, ["body"]),
            ({"dialect": "zkteco"}, ["body", "dialect"]),
            ({"dialect": "heartbeat"}, ["body", "dialect"]),
            ({"kind": "barrier_gate"}, ["body", "kind"]),  # a barrier gate speaking ISAPI
            ({"dialect": "acme-door", "kind": "camera"}, ["body", "kind"]),
            ({"parent": NEW_ID}, ["body", "parent"]),
            ({"parent": "ac/yida"}, ["body", "parent"]),
        ],
    )
    async def test_invalid_bodies_are_refused_with_422_naming_the_field(
        self, gateway: RunningGateway, fields: dict[str, Any], location: list[str]
    ) -> None:
        response = await put(gateway, NEW_ID, **fields)
        assert response.status_code == 422, response.text
        details = response.json()["error"]["details"]
        assert any(error["location"][: len(location)] == location for error in details)
        assert (await gateway.http.get(f"/v1/devices/{NEW_ID}")).status_code == 404

    async def test_an_id_no_topic_could_carry_is_refused(self, gateway: RunningGateway) -> None:
        response = await gateway.http.put("/v1/devices/door%201", json=body())
        assert response.status_code == 422

    @pytest.mark.parametrize(
        "device_id", ["13812345678", "cam-86-139-8765-4321", "11010519491231002X", "a..b", "门禁1"]
    )
    async def test_an_id_breaking_the_identifier_rules_is_refused(
        self, gateway: RunningGateway, device_id: str
    ) -> None:
        response = await put(gateway, device_id)
        assert response.status_code == 422, response.text
        assert (await gateway.http.get("/v1/devices")).json()["data"] == [
            await get(gateway, IN_CONFIG.device_id)
        ]

    @pytest.mark.parametrize(
        ("field", "value"),
        [("door", "<b>B09</b>"), ("building", "B09 138 1234 5678"), ("location", "a\x00b")],
    )
    async def test_a_name_breaking_the_rules_is_refused(
        self, gateway: RunningGateway, field: str, value: str
    ) -> None:
        response = await put(gateway, NEW_ID, **{field: value})
        assert response.status_code == 422, response.text
        assert (await gateway.http.get(f"/v1/devices/{NEW_ID}")).status_code == 404

    async def test_unknown_device_is_404(self, gateway: RunningGateway) -> None:
        response = await gateway.http.get("/v1/devices/43011200001300000000")
        assert response.status_code == 404

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/v1/devices"),
            ("GET", f"/v1/devices/{IN_CONFIG.device_id}"),
            ("PUT", f"/v1/devices/{NEW_ID}"),
        ],
    )
    async def test_every_endpoint_needs_the_key(
        self, gateway: RunningGateway, method: str, path: str
    ) -> None:
        base_url = str(gateway.http.base_url)
        async with httpx.AsyncClient(base_url=base_url) as anonymous:
            response = await anonymous.request(method, path, json=body())
            assert response.status_code == 401
            wrong = await anonymous.request(
                method, path, json=body(), headers={"X-API-Key": "not-the-key-0123456789abc"}
            )
            assert wrong.status_code == 401
        assert (await gateway.http.get(f"/v1/devices/{NEW_ID}")).status_code == 404


class TestRegistrationIdentity:
    """A registration's dialect exists and serves its kind; a parent stands in its community;
    what is refused is named by field, never echoed."""

    async def test_refused_values_are_never_echoed(self, gateway: RunningGateway) -> None:
        for fields in ({"dialect": "zk-13812345678"}, {"parent": "43011200001399990001"}):
            response = await put(gateway, NEW_ID, **fields)
            assert response.status_code == 422
            assert str(next(iter(fields.values()))) not in response.text

    async def test_a_parent_is_registered_and_read_back(self, gateway: RunningGateway) -> None:
        assert (await put_platform(gateway, ACCOUNT)).status_code == 201
        response = await put(gateway, NEW_ID, dialect="access-cloud", parent=ACCOUNT)
        assert response.status_code == 201, response.text
        assert response.json()["parent"] == ACCOUNT
        assert (await get(gateway, NEW_ID))["parent"] == ACCOUNT
        assert (await put(gateway, NEW_ID, dialect="access-cloud")).status_code == 200
        assert (await get(gateway, NEW_ID))["parent"] is None

    async def test_a_parent_registered_in_another_community_is_refused(
        self, gateway: RunningGateway
    ) -> None:
        account = await put(
            gateway,
            ACCOUNT,
            dialect="access-cloud",
            kind="platform",
            community="jiaxin",
            building=None,
            unit=None,
            door=None,
            readers={},
        )
        assert account.status_code == 201, account.text
        response = await put(gateway, NEW_ID, dialect="access-cloud", parent=ACCOUNT)
        assert response.status_code == 422
        assert "parent" in response.text
        assert (await gateway.http.get(f"/v1/devices/{NEW_ID}")).status_code == 404

    @pytest.mark.parametrize(
        ("dialect", "kind"),
        [
            ("acme-door", "door_controller"),  # configured: the kinds making access events
            ("gat1400", "platform"),
            ("barrier-gate", "barrier_gate"),
            ("camera-alarm", "camera"),
        ],
    )
    async def test_a_kind_the_dialect_serves_is_registered(
        self, gateway: RunningGateway, dialect: str, kind: str
    ) -> None:
        response = await put(gateway, NEW_ID, dialect=dialect, kind=kind, readers={})
        assert response.status_code == 201, response.text
        assert (response.json()["dialect"], response.json()["kind"]) == (dialect, kind)


class TestDeviceList:
    """The list pages in id order and filters by community and status."""

    async def test_pages_follow_the_cursor(self, gateway: RunningGateway) -> None:
        ids = [f"4301120000139999{n:04d}" for n in range(5)]
        for device_id in ids:
            assert (await put(gateway, device_id)).status_code == 201
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            response = await gateway.http.get("/v1/devices", params=params)
            assert response.status_code == 200, response.text
            page = response.json()
            seen.extend(d["device_id"] for d in page["data"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted([IN_CONFIG.device_id, *ids])
        assert pages == 3

    async def test_filters_by_community_and_status(self, gateway: RunningGateway) -> None:
        await put(gateway, NEW_ID, community="jiaxin")
        jiaxin = (await gateway.http.get("/v1/devices", params={"community": "jiaxin"})).json()
        assert [d["device_id"] for d in jiaxin["data"]] == [NEW_ID]
        online = await gateway.http.get("/v1/devices", params={"status": "online"})
        assert online.json() == {"data": [], "next_cursor": None}
        unknown = await gateway.http.get(
            "/v1/devices", params={"status": "unknown", "community": COMMUNITY.code}
        )
        assert [d["device_id"] for d in unknown.json()["data"]] == [IN_CONFIG.device_id]

    @pytest.mark.parametrize(
        ("params", "code"),
        [
            ({"cursor": "garbage!"}, "bad_cursor"),
            ({"limit": 0}, "invalid_parameter"),
            ({"limit": 1001}, "invalid_parameter"),
            ({"status": "sleepy"}, "invalid_parameter"),
            ({"satus": "online"}, "unknown_parameter"),
        ],
    )
    async def test_bad_parameters_are_refused(
        self, gateway: RunningGateway, params: dict[str, Any], code: str
    ) -> None:
        response = await gateway.http.get("/v1/devices", params=params)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == code


class TestRegistryFollowsTheApiWhileRunning:
    """A device PUT while the gateway runs is placed from its next message, without restart."""

    async def test_next_message_of_a_newly_put_device_is_enriched(
        self, gateway: RunningGateway, broker_port: int
    ) -> None:
        device_id = NOT_IN_CONFIG.device_id
        await publish_door_event(broker_port, NOT_IN_CONFIG, serial=1)
        (before,) = await event_with_serial(gateway, device_id, 1)
        assert before["unregistered_device"] is True
        assert (before["building"], before["unit"]) == (None, None)
        assert before["direction"] == "unknown"

        response = await put(
            gateway,
            device_id,
            building=NOT_IN_CONFIG.building,
            unit=NOT_IN_CONFIG.unit,
            door=NOT_IN_CONFIG.door,
        )
        assert response.status_code == 201, response.text
        await publish_door_event(broker_port, NOT_IN_CONFIG, serial=2)
        after = (await event_with_serial(gateway, device_id, 2))[-1]
        assert after["unregistered_device"] is False
        assert (after["building"], after["unit"]) == (NOT_IN_CONFIG.building, NOT_IN_CONFIG.unit)
        assert after["direction"] == "in"  # reader 1, as the PUT's readers say

    async def test_a_child_put_while_running_may_be_relayed_by_its_parent(
        self, gateway: RunningGateway, broker_port: int
    ) -> None:
        account = await put(
            gateway,
            ACCOUNT,
            dialect="access-cloud",
            kind="platform",
            building=None,
            unit=None,
            door=None,
            readers={},
        )
        assert account.status_code == 201, account.text
        topic = f"{COMMUNITY.code}/access-cloud/{ACCOUNT}"
        await mosquitto_pub(broker_port, topic, [cloud_record(NEW_ID, 1)], account=YIDA_DEVICES)

        async def refused() -> bool:
            return [letter["reason"] for letter in await gateway.dead_letters()] == [
                "device_mismatch"
            ]

        await wait_until(refused, what="the unregistered door's record to be refused")
        child = await put(gateway, NEW_ID, dialect="access-cloud", parent=ACCOUNT)
        assert child.status_code == 201, child.text
        await mosquitto_pub(broker_port, topic, [cloud_record(NEW_ID, 2)], account=YIDA_DEVICES)
        (event,) = await event_with_serial(gateway, NEW_ID, 1)
        assert (event["building"], event["unit"], event["dialect"]) == ("B09", "U2", "access-cloud")
        assert event["unregistered_device"] is False


class TestParentIntegrity:
    """A parent is registered, in the community, relays, and has no parent of its own; a
    device others name as their parent stays such a device. Refusals are 422s naming the field,
    never echoing a value, and nothing is stored."""

    @staticmethod
    def refused(response: httpx.Response, field: str, message: str) -> None:
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert [problem["location"] for problem in error["details"]] == [["body", field]]
        assert message in error["details"][0]["message"]

    async def test_an_unregistered_parent_is_refused(self, gateway: RunningGateway) -> None:
        response = await put(gateway, NEW_ID, dialect="access-cloud", parent="NOPE-4711")
        self.refused(response, "parent", "is not a registered device")
        assert "NOPE-4711" not in response.text
        assert (await gateway.http.get(f"/v1/devices/{NEW_ID}")).status_code == 404

    async def test_a_parent_that_relays_nothing_is_refused(self, gateway: RunningGateway) -> None:
        response = await put(gateway, NEW_ID, parent=IN_CONFIG.device_id)  # a door controller
        self.refused(response, "parent", "a parent is a platform")
        assert IN_CONFIG.device_id not in response.text

    async def test_a_cycle_is_refused(self, gateway: RunningGateway) -> None:
        assert (await put_platform(gateway, "T10")).status_code == 201
        assert (await put_platform(gateway, "T11", parent="T10")).status_code == 201
        response = await put_platform(gateway, "T10", parent="T11")
        self.refused(response, "parent", "has a parent of its own")
        assert (await get(gateway, "T10"))["parent"] is None

    async def test_a_parent_with_a_parent_is_refused(self, gateway: RunningGateway) -> None:
        assert (await put_platform(gateway, "T10")).status_code == 201
        assert (await put_platform(gateway, "T11", parent="T10")).status_code == 201
        response = await put(gateway, NEW_ID, dialect="access-cloud", parent="T11")
        self.refused(response, "parent", "has a parent of its own")

    async def test_a_parent_keeps_what_its_children_need(self, gateway: RunningGateway) -> None:
        assert (await put_platform(gateway, ACCOUNT)).status_code == 201
        child = await put(gateway, NEW_ID, dialect="access-cloud", parent=ACCOUNT)
        assert child.status_code == 201, child.text
        demoted = await put(gateway, ACCOUNT, dialect="access-cloud")  # a door controller now
        self.refused(demoted, "kind", "other devices name this one")
        moved = await put_platform(gateway, ACCOUNT, community="jiaxin")
        self.refused(moved, "community", "must stay")
        assert (await put_platform(gateway, ACCOUNT, firmware="V2")).status_code == 200
        assert (await get(gateway, ACCOUNT))["kind"] == "platform"


class TestParentsAtStartUp:
    """The file's devices are checked against the store before they are stored: a parent
    neither declared nor registered stops the start, and nothing of the file is stored."""

    async def test_an_unregistered_parent_stops_the_start(
        self, embedded_mqtt: EmbeddedBroker, sqlite_url: str
    ) -> None:
        orphan = DeviceSpec(
            device_id=NEW_ID, dialect="access-cloud", community=COMMUNITY.code, parent="NOPE"
        )
        config = CONFIG.model_copy(update={"devices": [*CONFIG.devices, orphan]})
        url = embedded_mqtt.url(BROKER_ACCOUNTS.gateway)
        settings = gateway_settings(url, sqlite_url, mqtt_protocol="3.1.1")
        with pytest.raises(ConfigError, match=r"devices\.1\.parent: is not a registered device"):
            async with runtime_of(settings, config, SECRETS):
                pass
        async with running_gateway(settings, CONFIG) as gateway:  # the file was not stored
            assert (await gateway.http.get(f"/v1/devices/{NEW_ID}")).status_code == 404


def cloud_record(thing_code: str, number: int) -> bytes:
    """An access-cloud exit-button record for `thing_code`, a few minutes old."""
    moment = datetime.now(UTC) - timedelta(minutes=3, seconds=-number)
    document = {
        "recordId": f"R{number:08d}",
        "thingCode": thing_code,
        "openMethod": 100401,
        "openResult": 1,
        "openTime": int(moment.timestamp() * 1000),
    }
    return json.dumps(document).encode()


class TestStatusAndLastSeen:
    """Status and last_seen follow each message and status event, and silence."""

    async def test_a_message_makes_the_device_online_and_seen(
        self, gateway: RunningGateway, broker_port: int
    ) -> None:
        await publish_door_event(broker_port, IN_CONFIG, serial=7, at=datetime.now(UTC))
        (event,) = await event_with_serial(gateway, IN_CONFIG.device_id, 1)
        found = await get(gateway, IN_CONFIG.device_id)
        assert found["status"] == "online"
        assert found["last_seen"] == event["occurred_at"]  # event time, not arrival
        assert found["status_since"] == event["occurred_at"]

    async def test_status_events_move_status_firmware_and_address(
        self, gateway: RunningGateway
    ) -> None:
        # Written as the heartbeat dialect would produce them, straight through the store.
        device_id = IN_CONFIG.device_id
        now = datetime.now(UTC)
        await self.write_status(gateway, 1, "heartbeat", now, firmware="V5.7.1", ip="10.0.3.4")
        found = await get(gateway, device_id)
        assert (found["status"], found["firmware"], found["ip"]) == ("online", "V5.7.1", "10.0.3.4")
        assert datetime.fromisoformat(found["last_seen"]) == now

        await self.write_status(gateway, 2, "offline", now + timedelta(seconds=1))
        found = await get(gateway, device_id)
        assert (found["status"], found["firmware"]) == ("offline", "V5.7.1")
        offline = await gateway.http.get("/v1/devices", params={"status": "offline"})
        assert [d["device_id"] for d in offline.json()["data"]] == [device_id]

    async def test_a_silent_device_goes_offline(
        self, gateway: RunningGateway, broker_port: int
    ) -> None:
        device_id = NOT_IN_CONFIG.device_id
        await put(
            gateway,
            device_id,
            building=NOT_IN_CONFIG.building,
            unit=NOT_IN_CONFIG.unit,
            offline_after_s=3,  # long enough to read "online" first on a loaded machine
        )
        await publish_door_event(broker_port, NOT_IN_CONFIG, serial=3, at=datetime.now(UTC))
        await event_with_serial(gateway, device_id, 1)
        assert (await get(gateway, device_id))["status"] == "online"

        async def offline() -> bool:
            return bool((await get(gateway, device_id))["status"] == "offline")

        await wait_until(offline, timeout_s=30, what="the silent device to be marked offline")
        found = await get(gateway, device_id)
        silent_for = datetime.fromisoformat(found["status_since"]) - datetime.fromisoformat(
            found["last_seen"]
        )
        assert timedelta(seconds=3) <= silent_for < timedelta(seconds=30)  # not before its time
        # The configured controller was never heard, but it was registered moments ago: it
        # keeps its 600 seconds before it counts as silent.
        assert (await get(gateway, IN_CONFIG.device_id))["status"] == "unknown"

    @staticmethod
    async def write_status(
        gateway: RunningGateway,
        number: int,
        status: DeviceStatus,
        at: datetime,
        *,
        firmware: str | None = None,
        ip: str | None = None,
    ) -> None:
        event = DeviceStatusEvent(
            event_id=f"status-{number:06d}",
            community=COMMUNITY.code,
            device_id=IN_CONFIG.device_id,
            occurred_at=at,
            received_at=at,
            dialect="heartbeat",
            status=status,
            firmware=firmware,
            ip=ip,
        )
        await gateway.runtime.store.write_batch([event], [])
