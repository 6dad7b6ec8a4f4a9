"""Behaviour alarms from the lift-lobby and fire-lane cameras, in the adapter's format."""

import json
import random
from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import islice, takewhile

import pytest

from schemas.events import BehaviourAlarm
from simulators.camera_alarm import (
    FIRE_LANE_ALARMS,
    LIFT_LOBBY_ALARMS,
    AlarmStream,
)
from simulators.community import Community, generate_community
from simulators.traffic import SimMessage
from tests.simulators.parsing import GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
HOURS = 200


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def records(yida: Community) -> list[SimMessage]:
    end = START + timedelta(hours=HOURS)
    return list(takewhile(lambda r: r.at < end, AlarmStream(yida, random.Random(2), START)))


class TestDeterminism:
    """The same generator state gives the same alarms; another seed other ones."""

    def test_same_seed(self, yida: Community) -> None:
        first = list(islice(AlarmStream(yida, random.Random(3), START), 50))
        assert first == list(islice(AlarmStream(yida, random.Random(3), START), 50))
        assert first != list(islice(AlarmStream(yida, random.Random(4), START), 50))


class TestContract:
    """Every alarm parses into one behaviour alarm of the type its camera can raise."""

    def test_alarms(self, yida: Community, records: list[SimMessage]) -> None:
        parser = GatewayParser(yida)
        lobby_types = {t.canonical for t, _ in LIFT_LOBBY_ALARMS}
        lane_types = {t.canonical for t, _ in FIRE_LANE_ALARMS}
        seen: Counter[str] = Counter()
        for record in records:
            (event,) = parser(record)
            assert isinstance(event, BehaviourAlarm)
            device = yida.device(event.device_id)
            assert record.topic == f"yida/camera-alarm/{device.device_id}"
            assert event.occurred_at == record.at
            assert event.zone == device.location
            assert event.original_type is None  # every vendor name is mapped
            assert event.alarm_type in (lobby_types if device.unit else lane_types)
            seen[event.alarm_type] += 1
        assert seen.most_common(1)[0][0] == "ebike_in_elevator"
        assert set(seen) == lobby_types | lane_types
        ids = [json.loads(r.payload)["alarmId"] for r in records]
        assert len(set(ids)) == len(ids)

    def test_rate(self, records: list[SimMessage]) -> None:
        assert 1.6 * HOURS < len(records) < 2.4 * HOURS
