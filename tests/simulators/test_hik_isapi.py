"""Hikvision ISAPI door events: the payload contract and the event stream's properties."""

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from itertools import islice, pairwise

import pytest

from simulators.community import Community, generate_community
from simulators.hik_isapi import (
    SCENARIOS,
    DoorEvent,
    HikDoorStream,
    Minor,
    hik_document,
    hik_payload,
    hik_topic,
)

CST = timezone(timedelta(hours=8))
START = datetime(2026, 11, 26, 8, 0, tzinfo=CST)

TOP_KEYS = [
    "ipAddress",
    "portNo",
    "protocol",
    "macAddress",
    "channelID",
    "dateTime",
    "activePostCount",
    "eventType",
    "eventState",
    "eventDescription",
    "AccessControllerEvent",
]
INNER_KEY_ORDER = [
    "deviceName",
    "majorEventType",
    "subEventType",
    "cardNo",
    "cardType",
    "name",
    "employeeNoString",
    "cardReaderNo",
    "doorNo",
    "verifyNo",
    "serialNo",
    "currentVerifyMode",
    "attendanceStatus",
    "mask",
    "picturesNumber",
]
PERSON_MINORS = {
    Minor.CARD_PASSED,
    Minor.FACE_PASSED,
    Minor.FINGERPRINT_MATCHED,
    Minor.QR_PASSED,
    Minor.CARD_NO_PERMISSION,
}
NO_READER_MINORS = {
    Minor.EXIT_BUTTON,
    Minor.REMOTE_OPEN,
    Minor.DOOR_OPENED,
    Minor.DOOR_CLOSED,
    Minor.DOOR_FORCED_OPEN,
    Minor.DOOR_HELD_OPEN,
}


@pytest.fixture(scope="module")
def yida() -> Community:
    return generate_community()


@pytest.fixture(scope="module")
def events(yida: Community) -> list[DoorEvent]:
    """A long stream (about 80 simulated hours), long enough to show every minor code."""
    return HikDoorStream(yida, seed=7, start=START, events_per_hour=600).take_events(50_000)


def decoded(event: DoorEvent) -> dict[str, object]:
    document = json.loads(hik_payload(event))
    assert isinstance(document, dict)
    return document


def inner(document: dict[str, object]) -> dict[str, object]:
    detail = document["AccessControllerEvent"]
    assert isinstance(detail, dict)
    return detail


class TestPayloadShape:
    """A payload is UTF-8 JSON in exactly the documented shape and key order."""

    def test_documented_example(self, yida: Community) -> None:
        device = yida.devices[0]
        resident = yida.unit_residents("B01", "U1")[0]
        event = DoorEvent(
            device,
            Minor.CARD_PASSED,
            datetime(2026, 11, 26, 7, 58, 12, tzinfo=CST),
            4567,
            resident,
            1,
            "checkIn",
            verify_no=123,
        )
        assert decoded(event) == {
            "ipAddress": "10.43.0.3",
            "portNo": 80,
            "protocol": "HTTP",
            "macAddress": "44:19:b6:00:00:01",
            "channelID": 1,
            "dateTime": "2026-11-26T07:58:12+08:00",
            "activePostCount": 1,
            "eventType": "AccessControllerEvent",
            "eventState": "active",
            "eventDescription": "Access Controller Event",
            "AccessControllerEvent": {
                "deviceName": "B01-U1 unit door",
                "majorEventType": 5,
                "subEventType": 1,
                "cardNo": resident.card_no,
                "cardType": 1,
                "name": resident.name,
                "employeeNoString": resident.employee_no,
                "cardReaderNo": 1,
                "doorNo": 1,
                "verifyNo": 123,
                "serialNo": 4567,
                "currentVerifyMode": "cardOrFace",
                "attendanceStatus": "checkIn",
                "mask": "unknown",
            },
        }

    def test_every_payload_has_the_shape(self, events: list[DoorEvent]) -> None:
        for event in events[:5000]:
            document = decoded(event)
            assert list(document) == TOP_KEYS
            detail = inner(document)
            keys = list(detail)
            assert keys == [k for k in INNER_KEY_ORDER if k in detail], keys
            assert {"deviceName", "majorEventType", "subEventType", "doorNo", "serialNo"} <= set(
                keys
            )
            assert detail["majorEventType"] == 5
            assert detail["subEventType"] == event.minor
            assert detail["serialNo"] == event.serial
            assert detail["deviceName"] == event.device.door

    def test_fast_rendering_agrees_with_the_reference(self, events: list[DoorEvent]) -> None:
        for event in events[:5000]:
            assert decoded(event) == hik_document(event)

    def test_names_travel_as_utf8(self, yida: Community) -> None:
        resident = yida.unit_residents("B01", "U1")[0]
        event = DoorEvent(yida.devices[0], Minor.FACE_PASSED, START, 1, resident, 1, "checkIn")
        assert resident.name.encode() in hik_payload(event)


class TestKeyPresence:
    """Optional keys appear exactly when a real controller would send them."""

    def test_identity_keys(self, events: list[DoorEvent]) -> None:
        for event in events[:5000]:
            detail = inner(decoded(event))
            card_event = event.minor in {
                Minor.CARD_PASSED,
                Minor.CARD_NO_PERMISSION,
                Minor.CARD_UNKNOWN,
            }
            assert ("cardNo" in detail) == card_event
            assert ("employeeNoString" in detail) == (event.minor in PERSON_MINORS)
            assert ("name" in detail) == (event.minor in PERSON_MINORS)
            assert ("picturesNumber" in detail) == (
                event.minor in {Minor.FACE_PASSED, Minor.FACE_FAILED}
            )

    def test_reader_keys(self, events: list[DoorEvent]) -> None:
        for event in events[:5000]:
            detail = inner(decoded(event))
            at_reader = event.minor not in NO_READER_MINORS
            assert ("cardReaderNo" in detail) == at_reader
            assert ("verifyNo" in detail) == at_reader
            assert detail["currentVerifyMode"] == ("cardOrFace" if at_reader else "invalid")

    def test_attendance_follows_reader_direction(self, events: list[DoorEvent]) -> None:
        for event in events[:5000]:
            detail = inner(decoded(event))
            if event.minor in PERSON_MINORS:
                expected = {1: "checkIn", 2: "checkOut"}[event.reader]
                assert detail["attendanceStatus"] == expected
            else:
                assert "attendanceStatus" not in detail


class TestTimes:
    """`dateTime` is China Standard Time with +08:00, in event-time order from `start`."""

    def test_local_time_with_offset(self, events: list[DoorEvent]) -> None:
        for event in events[:2000]:
            stamp = decoded(event)["dateTime"]
            assert isinstance(stamp, str)
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", stamp)
            assert datetime.fromisoformat(stamp) == event.occurred_at

    def test_event_time_order(self, events: list[DoorEvent]) -> None:
        times = [e.occurred_at for e in events]
        assert times == sorted(times)
        assert times[0] >= START

    def test_start_in_another_zone_is_converted(self, yida: Community) -> None:
        stream = HikDoorStream(yida, seed=1, start=datetime(2026, 11, 26, tzinfo=UTC))
        stamp = json.loads(stream.take(1)[0][1])["dateTime"]
        assert isinstance(stamp, str) and stamp.startswith("2026-11-26T08:")

    def test_naive_times_are_refused(self, yida: Community) -> None:
        with pytest.raises(ValueError, match="timezone-aware"):
            HikDoorStream(yida, seed=1, start=datetime(2026, 11, 26))
        event = DoorEvent(
            yida.devices[0], Minor.DOOR_OPENED, datetime(2026, 1, 1), 1, None, 0, None
        )
        with pytest.raises(ValueError, match="timezone-aware"):
            hik_payload(event)

    def test_density_follows_events_per_hour(self, events: list[DoorEvent]) -> None:
        hours = (events[-1].occurred_at - events[0].occurred_at).total_seconds() / 3600
        assert 540 < len(events) / hours < 660


class TestDeterminism:
    """Same community, seed and start give byte-identical messages; another seed does not."""

    def test_same_seed_same_stream(self) -> None:
        first = HikDoorStream(generate_community(), seed=3, start=START).take(3000)
        second = HikDoorStream(generate_community(), seed=3, start=START).take(3000)
        assert first == second

    def test_other_seed_other_stream(self, yida: Community) -> None:
        first = HikDoorStream(yida, seed=3, start=START).take(100)
        assert first != HikDoorStream(yida, seed=4, start=START).take(100)

    def test_takes_continue_the_stream(self, yida: Community) -> None:
        whole = HikDoorStream(yida, seed=5, start=START).take(300)
        parts = HikDoorStream(yida, seed=5, start=START)
        assert parts.take(100) + list(islice(parts, 100)) + parts.take(100) == whole
        lazy = HikDoorStream(yida, seed=5, start=START).messages(300)
        assert list(lazy) == whole


class TestSerials:
    """Serial numbers rise by one per message per device, so every event is distinct."""

    def test_strictly_increasing_per_device(self, events: list[DoorEvent]) -> None:
        by_device: dict[str, list[int]] = defaultdict(list)
        for event in events:
            by_device[event.device.device_id].append(event.serial)
        for serials in by_device.values():
            assert all(b == a + 1 for a, b in pairwise(serials))

    def test_every_event_is_distinct(self, events: list[DoorEvent]) -> None:
        keys = {(e.device.device_id, e.serial) for e in events}
        assert len(keys) == len(events)


class TestTopics:
    """Each message goes to `{community}/hik-isapi/{device_id}` of a registered device."""

    def test_topics(self, yida: Community) -> None:
        stream = HikDoorStream(yida, seed=7, start=START)
        device_ids = {d.device_id for d in yida.devices}
        for topic, payload in stream.take(500):
            community, dialect, device_id = topic.split("/")
            assert (community, dialect) == ("yida", "hik-isapi")
            assert device_id in device_ids
            assert topic == hik_topic("yida", device_id)
            serial = inner(json.loads(payload))["serialNo"]
            assert isinstance(serial, int)


class TestMix:
    """The mix is realistic: every minor code shows up, residents' faces and cards dominate."""

    def test_every_minor_code_appears(self, events: list[DoorEvent]) -> None:
        assert {e.minor for e in events} == set(Minor)

    def test_residents_granted_by_face_and_card_dominate(self, events: list[DoorEvent]) -> None:
        counts = Counter(Minor(e.minor) for e in events)
        access = sum(n for m, n in counts.items() if m not in NO_READER_MINORS)
        granted = counts[Minor.FACE_PASSED] + counts[Minor.CARD_PASSED]
        assert granted > 0.75 * access
        assert granted > 0.4 * len(events)
        assert counts[Minor.FACE_PASSED] > counts[Minor.CARD_PASSED]

    def test_forced_and_held_open_are_rare(self, events: list[DoorEvent]) -> None:
        counts = Counter(Minor(e.minor) for e in events)
        assert 0 < counts[Minor.DOOR_FORCED_OPEN] < 0.005 * len(events)
        assert 0 < counts[Minor.DOOR_HELD_OPEN] < 0.005 * len(events)

    def test_scenario_table_covers_the_arrival_codes(self) -> None:
        assert len({s.name for s in SCENARIOS}) == len(SCENARIOS)
        assert all(s.weight > 0 for s in SCENARIOS)


class TestDoorStory:
    """Door sensor events tell a consistent story per door: opened/forced, then closed."""

    def test_open_close_pairs(self, events: list[DoorEvent]) -> None:
        opening = {Minor.DOOR_OPENED, Minor.DOOR_FORCED_OPEN}
        state: dict[str, str] = {}
        for event in events:
            door = event.device.device_id
            if event.minor in opening:
                assert state.get(door, "closed") == "closed"
                state[door] = "open"
            elif event.minor == Minor.DOOR_HELD_OPEN:
                assert state.get(door) == "open"
            elif event.minor == Minor.DOOR_CLOSED:
                assert state.get(door) == "open"
                state[door] = "closed"


class TestPeople:
    """Granted residents live behind the door; denials come from outsiders and strangers."""

    def test_unit_doors_admit_their_own_residents(
        self, yida: Community, events: list[DoorEvent]
    ) -> None:
        granted = {Minor.CARD_PASSED, Minor.FACE_PASSED, Minor.FINGERPRINT_MATCHED}
        for event in events[:5000]:
            device = event.device
            if event.minor in granted and device.building is not None:
                assert device.unit is not None and event.resident is not None
                assert event.resident in yida.unit_residents(device.building, device.unit)

    def test_unknown_cards_belong_to_nobody(self, yida: Community, events: list[DoorEvent]) -> None:
        known = {r.card_no for r in yida.residents()}
        unknown = [e for e in events if e.minor == Minor.CARD_UNKNOWN]
        assert unknown
        for event in unknown:
            assert event.resident is None
            assert event.presented_card is not None and event.presented_card not in known
            assert re.fullmatch(r"\d{10}", event.presented_card)


class TestScale:
    """A 100,000-message take works in one go (the benchmarks' size); no timing asserted."""

    def test_hundred_thousand(self, yida: Community) -> None:
        messages = HikDoorStream(yida, seed=9, start=START, events_per_hour=36_000).take(100_000)
        assert len(messages) == 100_000
        last = json.loads(messages[-1][1])
        assert last["eventType"] == "AccessControllerEvent"
