"""Specification of the camera behaviour-alarm adapter, driven by the payload fixtures beside it."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, RawMessage, stable_event_id
from adapters.camera_alarm import ALARM_TYPES, CameraAlarmAdapter
from gateway.errors import PayloadError
from schemas.events import BehaviourAlarm, DeviceEvent, device_event_adapter
from tests.adapters.support import (
    MARKUP_NAMES,
    PII_DEVICE_IDS,
    PII_NAMES,
    PLANTED,
    PSEUDONYMIZER,
    TIMES,
    Fixtures,
    assert_absent,
    device_ids,
    drops,
    encode,
    error_texts,
    message_factory,
    mutate_fields,
    never_crash_tests,
    parse_checked,
    rejected,
)

FIXTURES = Fixtures.of("camera_alarm")
ADAPTER = CameraAlarmAdapter(PSEUDONYMIZER)
COMMUNITY = "yida"
DEVICE = "34020000001320000101"
TOPIC = f"{COMMUNITY}/camera-alarm/{DEVICE}"
RECEIVED = datetime(2026, 11, 26, 0, 0, 1, 250_000, tzinfo=UTC)
REASONS = {
    "malformed_json",
    "schema",
    "bad_time",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
}

TYPED_FIXTURES = {
    "fire_lane_occupied": "fire_lane_occupied",
    "high_altitude_throw": "high_altitude_throw",
    "ebike_in_elevator": "ebike_in_elevator",
    "intrusion": "intrusion",
    "field_detection": "intrusion",
    "loitering": "loitering",
    "smoke_detection": "smoke_or_fire",
    "fire_detection": "smoke_or_fire",
    "people_gathering": "crowd",
    "chinese_type": "high_altitude_throw",
    "minimal": "loitering",
}
GOOD_FIXTURES = [*TYPED_FIXTURES, "unknown_type", "credentials_in_url_and_inline_picture"]


fixture_bytes = FIXTURES.payload
fixture_json = FIXTURES.document
with_fields = FIXTURES.with_fields
without_field = FIXTURES.without_fields
message = message_factory(community=COMMUNITY, topic=TOPIC, device_id=DEVICE, received_at=RECEIVED)


def alarm(payload: bytes, *, device_id: str | None = DEVICE) -> BehaviourAlarm:
    events = ADAPTER.parse(message(payload, device_id=device_id))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, BehaviourAlarm)
    return event


def rejection(payload: bytes, *, device_id: str | None = DEVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


class TestAdapterContract:
    """The adapter is the `camera-alarm` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert CameraAlarmAdapter.dialect == "camera-alarm"

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = CameraAlarmAdapter(PSEUDONYMIZER)
        assert adapter.dialect == "camera-alarm"

    def test_one_message_gives_one_event(self) -> None:
        assert len(ADAPTER.parse(message(fixture_bytes("fire_lane_occupied")))) == 1


class TestFullAlarm:
    """A complete alarm fills every field of the canonical event."""

    def test_fire_lane_alarm(self) -> None:
        occurred = datetime(2026, 11, 26, 0, 0, 0, tzinfo=UTC)
        assert alarm(fixture_bytes("fire_lane_occupied")) == BehaviourAlarm(
            event_id=stable_event_id(
                "camera-alarm", DEVICE, "alarm", "HK20261126080000000101", occurred.isoformat()
            ),
            community=COMMUNITY,
            device_id=DEVICE,
            occurred_at=occurred,
            received_at=RECEIVED,
            dialect="camera-alarm",
            alarm_type="fire_lane_occupied",
            original_type=None,
            confidence=0.92,
            zone="B03 north fire lane",
            image_url="http://10.1.2.30/picture/20261126/080000_0101.jpg",
        )

    def test_minimal_alarm_leaves_optional_fields_empty(self) -> None:
        event = alarm(fixture_bytes("minimal"))
        assert event.alarm_type == "loitering"
        assert event.occurred_at == datetime(2026, 11, 26, 15, 45, tzinfo=UTC)
        assert (event.confidence, event.zone, event.image_url, event.original_type) == (
            None,
            None,
            None,
            None,
        )


class TestAlarmTypes:
    """Vendor type names map to canonical alarm types through one declarative table."""

    @pytest.mark.parametrize(("name", "alarm_type"), sorted(TYPED_FIXTURES.items()))
    def test_fixture(self, name: str, alarm_type: str) -> None:
        event = alarm(fixture_bytes(name))
        assert (event.alarm_type, event.original_type) == (alarm_type, None)

    def test_table_is_exactly_the_documented_mapping(self) -> None:
        documented = {
            "fire_lane_occupied": {
                "fireLaneOccupied",
                "fireEscapeDetection",
                "fireLaneBlocked",
                "fireLaneParking",
                "消防通道占用",
            },
            "high_altitude_throw": {
                "highAltitudeThrow",
                "highAltitudeParabolic",
                "throwingObjectDetection",
                "高空抛物",
            },
            "ebike_in_elevator": {
                "ebikeInElevator",
                "electricBicycleDetection",
                "electricBikeEnterElevator",
                "电动车进电梯",
            },
            "intrusion": {
                "intrusion",
                "fieldDetection",
                "regionEntrance",
                "lineDetection",
                "区域入侵",
            },
            "loitering": {"loitering", "loiteringDetection", "徘徊"},
            "smoke_or_fire": {
                "smokeOrFire",
                "smokeDetection",
                "fireDetection",
                "smokeAndFireDetection",
                "烟火检测",
            },
            "crowd": {"crowd", "peopleGathering", "crowdDetection", "人员聚集"},
        }
        actual: dict[str, set[str]] = {}
        for name, alarm_type in ALARM_TYPES.items():
            actual.setdefault(alarm_type, set()).add(name)
        assert actual == documented

    @pytest.mark.parametrize(("name", "alarm_type"), sorted(ALARM_TYPES.items()))
    def test_every_table_name_parses_to_its_type(self, name: str, alarm_type: str) -> None:
        event = alarm(with_fields("fire_lane_occupied", eventType=name))
        assert (event.alarm_type, event.original_type) == (alarm_type, None)

    @pytest.mark.parametrize("alarm_type", sorted(set(ALARM_TYPES.values())))
    def test_canonical_names_match_themselves(self, alarm_type: str) -> None:
        assert alarm(with_fields("minimal", eventType=alarm_type)).alarm_type == alarm_type

    @pytest.mark.parametrize(
        "spelling",
        [
            "FireEscapeDetection",
            "FIRE_ESCAPE_DETECTION",
            "fire-escape-detection",
            "fire escape detection",
            " fireEscapeDetection ",
            "fire_lane_occupied",
            "FIRE-LANE-OCCUPIED",
        ],
    )
    def test_case_and_punctuation_are_ignored(self, spelling: str) -> None:
        assert alarm(with_fields("minimal", eventType=spelling)).alarm_type == "fire_lane_occupied"


class TestUnknownTypes:
    """An unknown type is kept as `other`, with the vendor's type only as a short plain token."""

    def test_unknown_fixture_becomes_other(self) -> None:
        event = alarm(fixture_bytes("unknown_type"))
        assert (event.alarm_type, event.original_type) == ("other", "helmetDetection")
        assert event.confidence == 0.73
        assert event.zone == "B02 construction site"

    @pytest.mark.parametrize(
        ("event_type", "original"),
        [
            ("maskDetection", "maskDetection"),
            ("other", "other"),
            ("x" * 40, "x" * 40),
            ("x" * 41, "x" * 40),
            ("vmd';--", "vmd"),
            ("face mask", "facemask"),
            ("ANPR.v2", "ANPRv2"),
            ("card_3188542196", "card_"),
            ("张三3188542196 mask", "mask"),
            ("13812345678", None),
            ("占道经营", None),
            ("张三", None),
            ("123", "123"),
        ],
    )
    def test_original_type_is_sanitised(self, event_type: str, original: str | None) -> None:
        event = alarm(with_fields("minimal", eventType=event_type))
        assert (event.alarm_type, event.original_type) == ("other", original)


class TestConfidence:
    """Confidence is a percentage from 0 to 100, held as a fraction."""

    @pytest.mark.parametrize(
        ("value", "fraction"), [(0, 0.0), (100, 1.0), (92, 0.92), (95.5, 0.955), (0.5, 0.005)]
    )
    def test_percentage_becomes_fraction(self, value: float, fraction: float) -> None:
        assert alarm(with_fields("minimal", confidence=value)).confidence == pytest.approx(fraction)

    def test_absent_or_null_is_none(self) -> None:
        assert alarm(without_field("fire_lane_occupied", "confidence")).confidence is None
        assert alarm(with_fields("fire_lane_occupied", confidence=None)).confidence is None

    @pytest.mark.parametrize("value", [-1, 100.01, 120, 1e308])
    def test_out_of_range_is_a_schema_error(self, value: float) -> None:
        error = rejection(with_fields("fire_lane_occupied", confidence=value))
        assert error.reason == "schema"
        assert error.detail.startswith("confidence:")

    @pytest.mark.parametrize("payload", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_finite_is_a_schema_error(self, payload: bytes) -> None:
        document = b'{"eventType": "crowd", "alarmTime": "2026-11-26T08:00:00+08:00", '
        error = rejection(document + b'"confidence": ' + payload + b"}")
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "confidence")

    @pytest.mark.parametrize("value", ["92", True, [92], {"value": 92}])
    def test_other_types_are_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("fire_lane_occupied", confidence=value))
        assert error.reason == "schema"
        assert "confidence" in error.detail


class TestZone:
    """The zone is a name: trimmed, an empty zone is none, a bad one is dropped and counted."""

    @pytest.mark.parametrize(
        ("zone", "kept"),
        [
            ("B03 north fire lane", "B03 north fire lane"),
            ("  B03 north fire lane \r\n", "B03 north fire lane"),
            ("3栋北侧消防通道", "3栋北侧消防通道"),
            ("", None),
            (" \n ", None),
        ],
    )
    def test_kept(self, zone: str, kept: str | None) -> None:
        event = alarm(with_fields("fire_lane_occupied", zone=zone))
        assert (event.zone, event.dropped_fields) == (kept, ())

    @pytest.mark.parametrize(
        ("zone", "reason"),
        [
            *((zone, "pii_in_identifier") for zone in PII_NAMES),
            *((zone, "markup") for zone in MARKUP_NAMES),
            ("B03\tnorth\r\nfire\x00lane", "not_printable"),
            ("z" * 65, "too_long"),
        ],
    )
    def test_bad_zone_is_dropped_and_the_alarm_kept(self, zone: str, reason: str) -> None:
        event = alarm(with_fields("fire_lane_occupied", zone=zone))
        assert (event.zone, drops(event)) == (None, {"zone": reason})
        assert event.alarm_type == "fire_lane_occupied"
        assert_absent([zone, *PLANTED], event.model_dump_json())

    def test_a_dropped_zone_is_not_hashed_into_the_event_id(self) -> None:
        document = fixture_json("fire_lane_occupied")
        del document["alarmId"]
        planted = alarm(encode({**document, "zone": PII_NAMES[0]}))
        assert planted.event_id == alarm(encode({**document, "zone": ""})).event_id

    def test_wrong_type_is_a_schema_error(self) -> None:
        error = rejection(fixture_bytes("zone_as_object"))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "zone")


class TestPictureWithPersonalNumber:
    """A picture URL holding a personal number is dropped; ordinary picture URLs are kept."""

    @pytest.mark.parametrize(
        "url",
        [
            "http://10.1.2.30/snap/13812345678_1.jpg",
            f"https://oss.example.com/{PLANTED[0]}/a.jpg",
            "http://10.1.2.30/snap/%31%33%38%31%32%33%34%35%36%37%38.jpg",
            "http://10.1.2.30/snap/138%2531234%2535678.jpg",
        ],
    )
    def test_dropped(self, url: str) -> None:
        event = alarm(with_fields("fire_lane_occupied", picUrl=url))
        assert (event.image_url, drops(event)) == (None, {"image_url": "pii_in_identifier"})

    def test_timestamped_picture_is_kept(self) -> None:
        url = "http://10.1.2.30/picture/20261126/080000_0101.jpg"
        assert alarm(with_fields("fire_lane_occupied", picUrl=url)).image_url == url


class TestDeviceIdsWithPersonalNumbers:
    """A camera id holding a personal number is refused, from the payload or the topic."""

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_payload_device_is_refused(self, device_id: str) -> None:
        error = rejection(with_fields("fire_lane_occupied", deviceId=device_id), device_id=None)
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], *error_texts(error))

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_topic_device_is_refused(self, device_id: str) -> None:
        error = rejection(fixture_bytes("fire_lane_occupied"), device_id=device_id)
        assert error.reason == "pii_in_identifier"

    @pytest.mark.parametrize("device_id", ["cam..1", "摄像头1", "cam 1"])
    def test_device_id_outside_the_alphabet_is_refused(self, device_id: str) -> None:
        error = rejection(fixture_bytes("fire_lane_occupied"), device_id=device_id)
        assert error.reason == "bad_device_id"


class TestPicture:
    """The picture is an http(s) reference without a login, query or fragment; unusable
    pictures are dropped and listed, the alarm kept."""

    def test_credentials_are_removed_and_inline_picture_ignored(self) -> None:
        event = alarm(fixture_bytes("credentials_in_url_and_inline_picture"))
        assert event.image_url == "http://10.1.2.30/picture/20261126/080500_0112.jpg"
        dumped = event.model_dump_json()
        assert "Hik12345" not in dumped
        assert "admin" not in dumped
        assert "/9j/4AAQ" not in dumped

    @pytest.mark.parametrize(
        "url",
        [
            "https://oss.example.com/alarm/a.jpg",
            "http://[fd00::30]:8080/picture/1.jpg",
            "http://10.1.2.30/a.jpg",
        ],
    )
    def test_usable_url_is_kept_as_sent(self, url: str) -> None:
        assert alarm(with_fields("fire_lane_occupied", picUrl=url)).image_url == url

    @pytest.mark.parametrize(
        ("url", "stored"),
        [
            (
                "http://admin:12345@[fd00::30]:8080/picture/1.jpg?x=1#f",
                "http://[fd00::30]:8080/picture/1.jpg",
            ),
            (
                "HTTP://10.1.2.30/a.jpg?Expires=1795651200&Signature=abc%2B",
                "http://10.1.2.30/a.jpg",
            ),
            ("http://10.1.2.30/a b.jpg", "http://10.1.2.30/a%20b.jpg"),
        ],
    )
    def test_login_query_and_fragment_are_removed(self, url: str, stored: str) -> None:
        event = alarm(with_fields("fire_lane_occupied", picUrl=url))
        assert (event.image_url, drops(event)) == (stored, {})

    @pytest.mark.parametrize(
        "url",
        [
            "data:image/jpeg;base64,/9j/4AAQSkZJRg==",
            "ftp://10.1.2.30/a.jpg",
            "/picture/a.jpg",
            "http://",
            "http://admin@/a.jpg",
            "http://[fd00::30/a.jpg",
            "http://10.1.2.30/a\x00.jpg",
            "javascript:alert(1)",
        ],
    )
    def test_unusable_url_is_dropped_and_listed_but_the_alarm_kept(self, url: str) -> None:
        event = alarm(with_fields("fire_lane_occupied", picUrl=url))
        assert (event.image_url, drops(event)) == (None, {"image_url": "not_a_url"})
        assert event.alarm_type == "fire_lane_occupied"

    def test_overlong_url_is_dropped_as_too_long(self) -> None:
        event = alarm(with_fields("fire_lane_occupied", picUrl="http://10.1.2.30/" + "a" * 2100))
        assert (event.image_url, drops(event)) == (None, {"image_url": "too_long"})

    def test_empty_url_is_no_picture_and_no_drop(self) -> None:
        event = alarm(with_fields("fire_lane_occupied", picUrl=""))
        assert (event.image_url, drops(event)) == (None, {})

    def test_wrong_type_is_a_schema_error(self) -> None:
        error = rejection(with_fields("fire_lane_occupied", picUrl=["http://10.1.2.30/a.jpg"]))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "picUrl")


class TestEventTime:
    """The alarm time must carry an offset and is kept in UTC."""

    def test_offset_time_is_converted_to_utc(self) -> None:
        occurred = alarm(fixture_bytes("intrusion")).occurred_at
        assert occurred == datetime(2026, 11, 25, 18, 17, 44, tzinfo=UTC)
        assert occurred.utcoffset() == timedelta(0)

    def test_naive_time_is_refused(self) -> None:
        error = rejection(fixture_bytes("naive_alarm_time"))
        assert error.reason == "bad_time"
        assert "offset" in error.detail

    @pytest.mark.parametrize("text", ["yesterday", "", "2026-11-26", "0001-01-01T00:00:00+08:00"])
    def test_unusable_time_is_refused(self, text: str) -> None:
        assert rejection(with_fields("fire_lane_occupied", alarmTime=text)).reason == "bad_time"

    @pytest.mark.parametrize("value", [1795651200000, None, ["2026-11-26T08:00:00+08:00"]])
    def test_time_of_another_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("fire_lane_occupied", alarmTime=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "alarmTime")


class TestDeviceIdentity:
    """The topic's device code names the camera; the payload's deviceId is only the fallback."""

    def test_topic_wins_over_payload(self) -> None:
        payload = with_fields("fire_lane_occupied", deviceId="34020000001320000199")
        assert alarm(payload).device_id == DEVICE

    def test_payload_device_id_when_topic_has_none(self) -> None:
        payload = with_fields("fire_lane_occupied", deviceId="34020000001320000199")
        assert alarm(payload, device_id=None).device_id == "34020000001320000199"

    def test_no_device_id_anywhere_is_refused(self) -> None:
        assert rejection(fixture_bytes("minimal"), device_id=None).reason == "no_device_id"

    def test_empty_payload_device_id_counts_as_none(self) -> None:
        payload = with_fields("fire_lane_occupied", deviceId="")
        assert rejection(payload, device_id=None).reason == "no_device_id"

    def test_overlong_device_id_is_refused(self) -> None:
        payload = with_fields("fire_lane_occupied", deviceId="D" * 65)
        assert rejection(payload, device_id=None).reason == "bad_device_id"
        assert rejection(fixture_bytes("minimal"), device_id="D" * 65).reason == "bad_device_id"

    @pytest.mark.parametrize("value", [34020000001320000101, "3402\x00", "\ud800"])
    def test_unusable_payload_device_id_is_a_schema_error(self, value: object) -> None:
        payload = with_fields("fire_lane_occupied", deviceId=value)
        error = rejection(payload, device_id=None)
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "deviceId")


class TestEventIds:
    """Event ids are stable under redelivery and distinct for distinct alarms."""

    def test_same_alarm_gives_the_same_id_whenever_received(self) -> None:
        payload = fixture_bytes("fire_lane_occupied")
        first = alarm(payload)
        later = ADAPTER.parse(message(payload, received_at=RECEIVED + timedelta(hours=1)))[0]
        assert first.event_id == later.event_id

    def test_reserialised_payload_keeps_the_id(self) -> None:
        compact = json.dumps(fixture_json("fire_lane_occupied"), separators=(",", ":")).encode()
        assert alarm(compact).event_id == alarm(fixture_bytes("fire_lane_occupied")).event_id

    def test_numeric_alarm_id_is_accepted(self) -> None:
        event = alarm(with_fields("fire_lane_occupied", alarmId=4567))
        occurred = datetime(2026, 11, 26, tzinfo=UTC).isoformat()
        assert event.event_id == stable_event_id("camera-alarm", DEVICE, "alarm", "4567", occurred)

    def test_different_alarm_id_gives_a_different_id(self) -> None:
        other = alarm(with_fields("fire_lane_occupied", alarmId="HK20261126080000000199"))
        assert other.event_id != alarm(fixture_bytes("fire_lane_occupied")).event_id

    def test_same_alarm_id_on_another_camera_gives_a_different_id(self) -> None:
        payload = fixture_bytes("fire_lane_occupied")
        other = alarm(payload, device_id="34020000001320000102")
        assert other.event_id != alarm(payload).event_id

    def test_without_alarm_id_the_id_is_type_time_and_zone(self) -> None:
        event = alarm(without_field("fire_lane_occupied", "alarmId"))
        occurred = datetime(2026, 11, 26, tzinfo=UTC).isoformat()
        assert event.event_id == stable_event_id(
            "camera-alarm",
            DEVICE,
            "type",
            "fireEscapeDetection",
            occurred,
            "B03 north fire lane",
        )

    def test_without_alarm_id_another_zone_gives_a_different_id(self) -> None:
        first = alarm(without_field("fire_lane_occupied", "alarmId"))
        document = fixture_json("fire_lane_occupied")
        del document["alarmId"]
        document["zone"] = "B03 south fire lane"
        assert alarm(encode(document)).event_id != first.event_id

    def test_without_alarm_id_confidence_does_not_change_the_id(self) -> None:
        document = fixture_json("fire_lane_occupied")
        del document["alarmId"]
        first = alarm(encode(document))
        document["confidence"] = 93
        assert alarm(encode(document)).event_id == first.event_id

    def test_all_fixtures_have_distinct_ids(self) -> None:
        ids = {alarm(fixture_bytes(name)).event_id for name in GOOD_FIXTURES}
        assert len(ids) == len(GOOD_FIXTURES)

    @pytest.mark.parametrize("value", ["", True, 1.5, -1, 2**64, "x" * 129, ["a"]])
    def test_unusable_alarm_id_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("fire_lane_occupied", alarmId=value))
        assert (error.reason, error.detail.split(".")[0].split(":")[0]) == ("schema", "alarmId")


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_envelope(self, name: str) -> None:
        event = alarm(fixture_bytes(name))
        assert (event.community, event.received_at, event.dialect) == (
            COMMUNITY,
            RECEIVED,
            "camera-alarm",
        )
        assert event.device_id == DEVICE
        assert event.kind == "behaviour_alarm"
        assert len(event.event_id) == 32

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        event = alarm(fixture_bytes(name))
        assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestRejectedPayloads:
    """A payload that cannot become an alarm raises PayloadError with a precise reason."""

    @pytest.mark.parametrize(
        ("name", "reason", "detail"),
        [
            ("malformed", "malformed_json", "not UTF-8 JSON (JSONDecodeError)"),
            ("array", "malformed_json", "expected a JSON object, got an array"),
            ("missing_event_type", "schema", "eventType: Field required"),
            ("missing_alarm_time", "schema", "alarmTime: Field required"),
            ("confidence_as_string", "schema", "confidence: Input should be a valid number"),
            (
                "confidence_out_of_range",
                "schema",
                "confidence: Input should be less than or equal to 100",
            ),
            ("zone_as_object", "schema", "zone: Input should be a valid string"),
            (
                "naive_alarm_time",
                "bad_time",
                "alarmTime has no UTC offset; device time is never guessed",
            ),
        ],
    )
    def test_bad_fixture(self, name: str, reason: str, detail: str) -> None:
        error = rejection(fixture_bytes(name))
        assert (error.reason, error.detail) == (reason, detail)

    @pytest.mark.parametrize("value", ["", " ", "!!!", "x" * 129, 7, None, ["crowd"]])
    def test_event_type_must_name_something(self, value: object) -> None:
        error = rejection(with_fields("fire_lane_occupied", eventType=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "eventType")

    def test_lone_surrogate_in_event_type_is_a_schema_error(self) -> None:
        payload = fixture_bytes("minimal").replace(b'"loiteringDetection"', b'"x\\ud800"')
        error = rejection(payload)
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "eventType")

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"null",
            b'"fireEscapeDetection"',
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b"[" + b"0," * 1_000_000 + b"0]",
            b'{"confidence": ' + b"9" * 5000 + b"}",
        ],
        ids=[
            "empty",
            "null",
            "string",
            "not-utf8",
            "nested-arrays",
            "nested-objects",
            "huge-array",
            "huge-number",
        ],
    )
    def test_junk_is_malformed_json(self, payload: bytes) -> None:
        assert rejection(payload).reason == "malformed_json"

    def test_huge_array_in_a_used_field_is_a_schema_error(self) -> None:
        error = rejection(with_fields("fire_lane_occupied", zone=[0] * 100_000))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "zone")

    def test_huge_array_and_deep_nesting_in_vendor_fields_are_ignored(self) -> None:
        nested: Any = 0
        for _ in range(200):
            nested = {"n": nested}
        payload = with_fields("fire_lane_occupied", targets=[0] * 100_000, extra=nested)
        assert alarm(payload).alarm_type == "fire_lane_occupied"

    def test_many_errors_are_summarised(self) -> None:
        payload = with_fields(
            "fire_lane_occupied",
            eventType=1,
            alarmTime=1,
            alarmId=True,
            deviceId=1,
            confidence="x",
            zone=1,
            picUrl=1,
        )
        error = rejection(payload)
        assert error.reason == "schema"
        assert error.detail.endswith("more)")


class TestPersonalData:
    """Numbers and names in vendor text never reach the event or an error message."""

    @pytest.mark.parametrize(
        "payload",
        [
            with_fields("fire_lane_occupied", eventType=3188542196),
            with_fields("fire_lane_occupied", zone={"owner": "张三", "card": "3188542196"}),
            with_fields("fire_lane_occupied", alarmTime="3188542196 张三"),
            with_fields("fire_lane_occupied", confidence="3188542196"),
            with_fields("fire_lane_occupied", deviceId=["张三", "3188542196"]),
            with_fields("fire_lane_occupied", eventType="张三3188542196" * 20),
        ],
    )
    def test_no_value_in_errors(self, payload: bytes) -> None:
        assert_absent(["3188542196", "张三"], *error_texts(rejection(payload, device_id=None)))

    @pytest.mark.parametrize("event_type", ["张三3188542196", "card_3188542196", "13812345678"])
    def test_no_number_in_the_original_type(self, event_type: str) -> None:
        dumped = alarm(with_fields("minimal", eventType=event_type)).model_dump_json()
        assert_absent(["3188542196", "13812345678", "张三"], dumped)


# Property tests: whatever arrives, the adapter answers with events or a PayloadError.

BASE = fixture_json("fire_lane_occupied")
KEYS = sorted(BASE)
TEXTS = st.text(max_size=40) | st.sampled_from(["\ud800", "ok\udfff", "a\x00b"])
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "alarmTime": TIMES | TEXTS,
    "eventType": st.sampled_from(sorted(ALARM_TYPES)) | TEXTS,
    "alarmId": TEXTS | st.integers(-1, 2**65),
    "deviceId": TEXTS | st.text(min_size=60, max_size=70),
    "confidence": st.floats(-1, 101) | st.integers(-1, 101),
    "zone": TEXTS,
    "picUrl": TEXTS | st.sampled_from(["http://a/b.jpg", "http://u:p@[::1]/x", "http://[::1"]),
}


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid alarm with a few fields replaced by arbitrary JSON or removed."""
    document = copy.deepcopy(BASE)
    mutate_fields(draw, document, KEYS, PLAUSIBLE, replaced=3, removed=1)
    return document


DEVICE_IDS = device_ids(DEVICE)


def events_or_payload_error(raw: RawMessage) -> list[DeviceEvent]:
    return parse_checked(ADAPTER, raw, REASONS)


class TestNeverCrashes:
    """Whatever arrives, parse returns events or raises PayloadError, never another exception."""

    test_arbitrary_bytes, test_arbitrary_json = never_crash_tests(
        events_or_payload_error, message, DEVICE_IDS, max_examples=150
    )

    @settings(max_examples=150, deadline=None)
    @given(document=mutated_payloads(), device_id=st.one_of(st.just(DEVICE), DEVICE_IDS))
    def test_valid_payload_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        for event in events_or_payload_error(
            message(json.dumps(document).encode(), device_id=device_id)
        ):
            assert isinstance(event, BehaviourAlarm)
            assert event.occurred_at.utcoffset() == timedelta(0)
            if event.original_type is not None:
                assert len(event.original_type) <= 40
            if event.zone is not None:
                assert not any(char < " " or "\x7f" <= char <= "\x9f" for char in event.zone)
