"""A device speaks only for itself, through a real gateway process: Mosquitto, `mosquitto_pub`,
the device registry loaded from the store at start-up (SQLite and PostgreSQL).

A barrier gate naming a door controller and devices publishing under another dialect's topic
become counted dead letters (`device_mismatch`, `dialect_mismatch`); a cloud account relaying
for a door registered under it is stored under the door, placed in the door's building and
unit; every valid message around them is stored.
"""

import json
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulators.community import generate_community
from simulators.config_toml import community_config_toml
from simulators.heartbeat import status_payload, status_topic
from simulators.hik_isapi import HikDoorStream
from testkit.gateway_process import GatewayProcess
from testkit.harness import mosquitto_pub, wait_until, write_file
from testkit.services import MosquittoService

COMMUNITY = generate_community()
DOOR = COMMUNITY.devices[0].device_id
"""B01-U1's hik-isapi unit-door controller."""
BARRIER = "YD-GATE-N1"
ACCOUNT = "ac-yida-09"
CHILD = "43011200001325000009"
CLUBHOUSE = next(d for d in COMMUNITY.devices_of("access-cloud") if d.building is None).device_id
"""A registered access-cloud door with no parent: no account may speak for it."""
EXTRA_DEVICES = f"""
[[devices]]
device_id = "{ACCOUNT}"
dialect = "access-cloud"
community = "yida"
kind = "platform"

[[devices]]
device_id = "{CHILD}"
dialect = "access-cloud"
community = "yida"
building = "B02"
unit = "U1"
door = "B02-U1 bicycle store"
parent = "{ACCOUNT}"
"""
NOW = datetime.now(UTC)


def plate_read(gate_id: str, number: int) -> bytes:
    moment = NOW - timedelta(minutes=10, seconds=-number)
    document = {
        "recordId": f"YD-N1-{number:06d}",
        "gateId": gate_id,
        "ts": int(moment.timestamp() * 1000),
        "plate": "湘A·D1234",
        "dir": "in",
        "lane": 1,
    }
    return json.dumps(document, ensure_ascii=False).encode()


def cloud_record(thing_code: str, number: int) -> bytes:
    moment = NOW - timedelta(minutes=10, seconds=-number)
    document = {
        "recordId": f"R{number:08d}",
        "thingCode": thing_code,
        "openMethod": 100401,
        "openResult": 1,
        "openTime": int(moment.timestamp() * 1000),
    }
    return json.dumps(document).encode()


def traffic() -> tuple[list[tuple[str, bytes]], list[tuple[str, bytes]], dict[str, int]]:
    """Valid messages, refused ones, and how many of each dead-letter reason they make."""
    start = NOW - timedelta(hours=1)
    doors = HikDoorStream(COMMUNITY, seed=9, start=start, events_per_hour=1800).take(40)
    door_topic, door_payload = next((t, p) for t, p in doors if t.endswith(DOOR))
    barrier_topic = f"yida/barrier-gate/{BARRIER}"
    account_topic = f"yida/access-cloud/{ACCOUNT}"
    valid = [
        *doors,
        (barrier_topic, plate_read(BARRIER, 1)),
        (barrier_topic, plate_read(BARRIER, 2)),
        (account_topic, cloud_record(CHILD, 3)),
        (account_topic, cloud_record(ACCOUNT, 4)),
        (status_topic("yida", BARRIER), status_payload("online", NOW, "V1.0", "10.0.9.1", 60)),
    ]
    refused = [
        (barrier_topic, plate_read(DOOR, 5)),  # a barrier gate naming a door controller
        (account_topic, cloud_record(CLUBHOUSE, 6)),  # a registered door not under the account
        (f"yida/hik-isapi/{BARRIER}", door_payload),  # a barrier gate on the ISAPI topic
        (door_topic.replace("hik-isapi", "access-cloud"), cloud_record(DOOR, 7)),
    ]
    return valid, refused, {"device_mismatch": 2, "dialect_mismatch": 2}


async def publish(messages: list[tuple[str, bytes]], port: int) -> None:
    """Each topic's messages in order, with `mosquitto_pub`, one client per topic."""
    by_topic: dict[str, list[bytes]] = defaultdict(list)
    for topic, payload in messages:
        by_topic[topic].append(payload)
    for topic, payloads in by_topic.items():
        await mosquitto_pub(port, topic, payloads)


class TestSenderIdentityEndToEnd:
    """Foreign claims and wrong dialects are counted dead letters; relayed events are placed
    where the child stands; nothing valid around them is lost."""

    async def test_mismatches_are_dead_letters_and_the_rest_is_stored(
        self, mosquitto: MosquittoService, database: str, tmp_path: Path
    ) -> None:
        valid, refused, reasons = traffic()
        config = write_file(
            tmp_path / "yida.toml", community_config_toml(COMMUNITY) + EXTRA_DEVICES
        )
        gateway = GatewayProcess(
            mosquitto.url, database, tmp_path / "gateway.log", config=str(config), log_format="text"
        )
        gateway.start()
        try:
            await publish([*refused, *valid], mosquitto.port)

            def everything_processed() -> bool:
                letters = gateway.get_json("/v1/dead-letters?limit=100")["data"]
                events = gateway.get_json("/v1/events?limit=1000")["data"]
                return len(letters) == len(refused) and len(events) == len(valid)

            await wait_until(everything_processed, what="every message to be processed")
            letters = gateway.get_json("/v1/dead-letters?limit=100")["data"]
            relayed = gateway.get_json(f"/v1/events?device_id={CHILD}")["data"]
            account = gateway.get_json(f"/v1/events?device_id={ACCOUNT}")["data"]
            door = gateway.get_json(f"/v1/events?device_id={DOOR}")["data"]
            metrics = gateway.get("/metrics").decode()
        finally:
            gateway.stop()

        assert Counter(letter["reason"] for letter in letters) == reasons
        assert all(letter["topic"].startswith("yida/") for letter in letters)
        (child_event,) = relayed
        assert (child_event["building"], child_event["unit"]) == ("B02", "U1")
        assert (child_event["dialect"], child_event["unregistered_device"]) == (
            "access-cloud",
            False,
        )
        assert len(account) == 1
        assert all(event["dialect"] == "hik-isapi" for event in door)
        for reason, count in reasons.items():
            assert f'scgw_rejections_total{{reason="{reason}"}} {count:.1f}' in metrics
        log = (tmp_path / "gateway.log").read_text(encoding="utf-8")
        assert "dead letter" in log
