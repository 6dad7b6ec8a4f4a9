"""Every device's heartbeat on its status topic, routed by the generated binding."""

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from itertools import islice, pairwise, takewhile

import pytest

from schemas.events import DeviceStatusEvent
from simulators.community import Community, generate_community
from simulators.heartbeat import (
    DEFAULT_INTERVAL_S,
    DEFAULT_LAYOUT,
    POWER_ON_S,
    HeartbeatStream,
    interval_s,
    status_topic,
)
from simulators.traffic import SimMessage
from tests.simulators.parsing import GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
HOURS = 3


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def records(yida: Community) -> list[SimMessage]:
    end = START + timedelta(hours=HOURS)
    stream = HeartbeatStream(yida, random.Random(1), START)
    return list(takewhile(lambda r: r.at < end, stream))


class TestDeterminism:
    """The same generator state gives the same beats; another seed other phases."""

    def test_same_seed(self, yida: Community) -> None:
        first = list(islice(HeartbeatStream(yida, random.Random(3), START), 200))
        assert first == list(islice(HeartbeatStream(yida, random.Random(3), START), 200))
        assert first != list(islice(HeartbeatStream(yida, random.Random(4), START), 200))


class TestContract:
    """Each beat is one device_status event of the device its topic names."""

    def test_beats_parse_through_the_status_binding(
        self, yida: Community, records: list[SimMessage]
    ) -> None:
        parser = GatewayParser(yida)
        beats: dict[str, list[datetime]] = defaultdict(list)
        for record in records:
            (event,) = parser(record)
            assert isinstance(event, DeviceStatusEvent)
            assert record.topic == status_topic("yida", event.device_id)
            assert record.topic.split("/")[1] == "status"
            assert event.occurred_at == record.at
            assert event.status in {"heartbeat", "online"}
            assert event.firmware and event.ip
            beats[event.device_id].append(event.occurred_at)
        assert set(beats) == {device.device_id for device in yida.devices}
        for device_id, times in beats.items():
            interval = interval_s(yida.device(device_id))
            gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
            assert all(interval <= gap <= interval + 0.6 for gap in gaps), device_id

    def test_every_kind_beats_often_enough_to_stay_online(self, yida: Community) -> None:
        for device in yida.devices:
            allowed = 300 if device.kind in {"camera", "capture_camera"} else 600
            assert interval_s(device) <= allowed / 2
        assert DEFAULT_INTERVAL_S == 300

    def test_default_layout_needs_no_binding(self, yida: Community) -> None:
        parser = GatewayParser(yida)
        stream = HeartbeatStream(yida, random.Random(1), START, layout=DEFAULT_LAYOUT)
        for record in islice(stream, 50):
            assert record.topic.split("/")[1] == "heartbeat"
            (event,) = parser(record)
            assert event.kind == "device_status"

    def test_payload_shape(self, records: list[SimMessage]) -> None:
        document = json.loads(records[0].payload)
        assert list(document) == ["status", "ts", "firmware", "ip", "uptime"]
        assert isinstance(document["ts"], int) and document["uptime"] > 3000


class TestPowerOn:
    """Devices switched on at the start each say `online` first, within seconds, then beat."""

    def test_every_device_comes_online_first(self, yida: Community) -> None:
        stream = HeartbeatStream(yida, random.Random(1), START, power_on=True)
        first = list(islice(stream, len(yida.devices)))
        assert {json.loads(r.payload)["status"] for r in first} == {"online"}
        assert {r.topic for r in first} == {status_topic("yida", d.device_id) for d in yida.devices}
        assert all(r.at < START + timedelta(seconds=POWER_ON_S) for r in first)
        assert all(json.loads(r.payload)["uptime"] < 60 for r in first)
        following = next(iter(stream))
        assert json.loads(following.payload)["status"] in {"heartbeat", "online"}
