"""The whole community's hour: every dialect, in event-time order, with exact ground truth."""

from collections import Counter
from datetime import datetime, timedelta, timezone
from itertools import islice, pairwise

import pytest

from schemas.events import DeviceEvent
from simulators.community import Community, generate_community
from simulators.hik_isapi import HikDoorStream
from simulators.traffic import EVENT_KINDS, SimMessage
from simulators.yida_mix import HourlyRates, YidaTraffic
from tests.simulators.parsing import GatewayParser

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)
DIALECTS = {
    "hik-isapi",
    "access-cloud",
    "gat1400",
    "barrier-gate",
    "visitor-cloud",
    "camera-alarm",
    "heartbeat",
}


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def hour(yida: Community) -> YidaTraffic:
    return YidaTraffic(yida, 7, START)


@pytest.fixture(scope="module")
def records(hour: YidaTraffic) -> list[SimMessage]:
    return list(hour.records())


@pytest.fixture(scope="module")
def events(yida: Community, records: list[SimMessage]) -> list[DeviceEvent]:
    return GatewayParser(yida).parse_all(records)


class TestGroundTruth:
    """`expected_counts` is exactly what the adapters make of the hour's messages."""

    def test_counts_match_the_adapters(self, hour: YidaTraffic, events: list[DeviceEvent]) -> None:
        parsed = Counter(event.kind for event in events)
        expected = hour.expected_counts()
        assert set(expected) == set(EVENT_KINDS)
        assert expected == {kind: parsed[kind] for kind in EVENT_KINDS}
        assert all(expected[kind] > 0 for kind in EVENT_KINDS)

    def test_some_messages_carry_several_events(self, records: list[SimMessage]) -> None:
        several = Counter(r.dialect for r in records if len(r.kinds) > 1)
        assert set(several) == {"gat1400", "visitor-cloud"}

    def test_event_ids_are_unique(self, events: list[DeviceEvent]) -> None:
        assert len({event.event_id for event in events}) == len(events)

    def test_every_event_comes_from_a_registered_device(
        self, yida: Community, events: list[DeviceEvent]
    ) -> None:
        registered = {device.device_id for device in yida.devices}
        assert {event.device_id for event in events} <= registered
        silent = registered - {event.device_id for event in events if event.kind != "device_status"}
        assert all(yida.device(device_id).dialect == "camera-alarm" for device_id in silent)


class TestMerge:
    """One stream of messages, in event-time order, inside the hour, every dialect present."""

    def test_order_and_window(self, hour: YidaTraffic, records: list[SimMessage]) -> None:
        assert all(a.at <= b.at for a, b in pairwise(records))
        assert records[0].at >= START
        assert hour.end is not None and records[-1].at < hour.end
        assert {r.dialect for r in records} == DIALECTS

    def test_deterministic(self, yida: Community, records: list[SimMessage]) -> None:
        assert list(YidaTraffic(yida, 7, START).records()) == records
        assert list(YidaTraffic(yida, 8, START).records()) != records

    def test_messages_are_the_records(self, hour: YidaTraffic, records: list[SimMessage]) -> None:
        assert list(hour.messages()) == [(r.topic, r.payload) for r in records]
        assert list(hour) == list(hour.messages())

    def test_door_events_are_hik_door_stream(
        self, yida: Community, records: list[SimMessage]
    ) -> None:
        doors = [(r.topic, r.payload) for r in records if r.dialect == "hik-isapi"]
        assert doors == HikDoorStream(yida, 7, START).take(len(doors))

    def test_a_rate_changes_only_its_stream(
        self, yida: Community, records: list[SimMessage]
    ) -> None:
        quieter = YidaTraffic(yida, 7, START, rates=HourlyRates(alarms=0.0))
        others = [r for r in records if r.dialect != "camera-alarm"]
        assert list(quieter.records()) == others


class TestMix:
    """A realistic hour: the rates the issue names, give or take chance."""

    def test_one_hour(self, hour: YidaTraffic, records: list[SimMessage]) -> None:
        counts = hour.expected_counts()
        messages = Counter(r.dialect for r in records)
        assert 500 < messages["hik-isapi"] < 700
        assert 25 < messages["access-cloud"] < 60
        assert 150 < counts["face_capture"] < 260
        assert 90 < messages["barrier-gate"] < 150
        assert 12 < messages["visitor-cloud"] < 30
        assert counts["behaviour_alarm"] <= 8
        # 21 cameras beat 30 times an hour, the 19 other devices 12 times.
        assert messages["heartbeat"] == pytest.approx(856, abs=3)

    def test_scaled_rates(self, yida: Community) -> None:
        fast = YidaTraffic(yida, 7, START, timedelta(minutes=6), HourlyRates().scaled(10))
        counts = fast.expected_counts()
        assert 500 < counts["access"] + counts["door_state"] < 900
        assert counts["device_status"] == pytest.approx(85, abs=3)  # heartbeats do not scale

    def test_the_demo_shows_every_kind_within_minutes(self, yida: Community) -> None:
        demo = YidaTraffic(
            yida, 7, START, timedelta(minutes=5), HourlyRates().scaled(30), power_on=True
        )
        first_minute = YidaTraffic(
            yida, 7, START, timedelta(minutes=1), HourlyRates().scaled(30), power_on=True
        )
        assert all(count > 0 for count in demo.expected_counts().values())
        assert first_minute.expected_counts()["device_status"] >= len(yida.devices)

    def test_endless_traffic_has_no_final_counts(self, yida: Community) -> None:
        endless = YidaTraffic(yida, 7, START, None)
        assert endless.end is None
        assert len(list(islice(endless.records(), 5000))) == 5000
        with pytest.raises(ValueError, match="duration"):
            endless.expected_counts()

    def test_refusals(self, yida: Community) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            YidaTraffic(yida, 7, datetime(2026, 11, 26))
        with pytest.raises(ValueError, match="duration"):
            YidaTraffic(yida, 7, START, timedelta(0))
        with pytest.raises(ValueError, match="negative"):
            HourlyRates(faces=-1.0)
        with pytest.raises(ValueError, match="factor"):
            HourlyRates().scaled(0)
