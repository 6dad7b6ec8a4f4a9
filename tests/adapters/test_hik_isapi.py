"""Specification of the Hikvision ISAPI adapter, driven by the payload fixtures beside this file."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, RawMessage, payload_event_id, stable_event_id
from adapters.hik_isapi import EVENT_CODES, AccessCode, DoorCode, HikIsapiAdapter
from adapters.registry import BUILTIN_ADAPTERS
from gateway.errors import PayloadError
from schemas.events import AccessEvent, DeviceEvent, DoorStateEvent, device_event_adapter
from tests.adapters.support import (
    PII_DEVICE_IDS,
    PLANTED,
    PSEUDONYMIZER,
    TIMES,
    Fixtures,
    assert_absent,
    device_ids,
    encode,
    error_texts,
    message_factory,
    mutate_fields,
    never_crash_tests,
    parse_checked,
    rejected,
)

FIXTURES = Fixtures.of("hik_isapi")
ADAPTER = HikIsapiAdapter(PSEUDONYMIZER)
COMMUNITY = "yida-town"
DEVICE = "34020000001320000001"
TOPIC = f"scgw/{COMMUNITY}/hik-isapi/{DEVICE}/event"
RECEIVED = datetime(2026, 11, 25, 23, 58, 13, 500_000, tzinfo=UTC)
REASONS = {
    "malformed_json",
    "schema",
    "unsupported_event",
    "unknown_code",
    "bad_time",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
}

ACCESS_FIXTURES = [
    "card_granted",
    "card_no_permission",
    "card_unknown",
    "face_verified",
    "face_failed",
    "qr_passed",
    "password_passed",
    "remote_open",
    "fingerprint_matched",
    "fingerprint_failed",
    "exit_button",
]
DOOR_FIXTURES = ["door_opened", "door_closed", "door_forced_open", "door_held_open"]
GOOD_FIXTURES = [*ACCESS_FIXTURES, *DOOR_FIXTURES, "card_granted_with_device_id"]
# A card number, an employee number and a name the fixtures carry raw.
RAW_PERSONAL = ["3188542196", "88010086", "张三"]


fixture_bytes = FIXTURES.payload
fixture_json = FIXTURES.document
with_fields = FIXTURES.with_fields
message = message_factory(community=COMMUNITY, topic=TOPIC, device_id=DEVICE, received_at=RECEIVED)


def parse_one(payload: bytes, *, device_id: str | None = DEVICE) -> DeviceEvent:
    events = ADAPTER.parse(message(payload, device_id=device_id))
    assert len(events) == 1
    return events[0]


def access(payload: bytes, *, device_id: str | None = DEVICE) -> AccessEvent:
    event = parse_one(payload, device_id=device_id)
    assert isinstance(event, AccessEvent)
    return event


def door_state(payload: bytes) -> DoorStateEvent:
    event = parse_one(payload)
    assert isinstance(event, DoorStateEvent)
    return event


def rejection(payload: bytes, *, device_id: str | None = DEVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


def with_event_fields(fixture: str, /, **fields: Any) -> bytes:
    document = fixture_json(fixture)
    document["AccessControllerEvent"].update(fields)
    return encode(document)


def without_event_field(name: str, field: str) -> bytes:
    document = fixture_json(name)
    del document["AccessControllerEvent"][field]
    return encode(document)


def card(value: str) -> str:
    return PSEUDONYMIZER.hash("card", value)


def employee(value: str) -> str:
    return PSEUDONYMIZER.hash("employee", value)


class TestAdapterContract:
    """The adapter is the built-in `hik-isapi` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert HikIsapiAdapter.dialect == "hik-isapi"

    def test_is_registered_as_builtin(self) -> None:
        assert HikIsapiAdapter in BUILTIN_ADAPTERS

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = HikIsapiAdapter(PSEUDONYMIZER)
        assert adapter.dialect == "hik-isapi"

    def test_one_notification_gives_one_event(self) -> None:
        assert len(ADAPTER.parse(message(fixture_bytes("card_granted")))) == 1


class TestCardEvents:
    """Card swipes become access events with a hashed credential."""

    def test_valid_card_is_granted_with_every_field_set(self) -> None:
        event = access(fixture_bytes("card_granted"))
        occurred = datetime(2026, 11, 25, 23, 58, 12, tzinfo=UTC)
        assert event == AccessEvent(
            event_id=stable_event_id("hik-isapi", DEVICE, "4567", occurred.isoformat(), "1"),
            community=COMMUNITY,
            device_id=DEVICE,
            occurred_at=occurred,
            received_at=RECEIVED,
            dialect="hik-isapi",
            direction="in",
            method="card",
            result="granted",
            door="1",
            reader=1,
            credential=card("3188542196"),
            vendor_code="5/0x1",
        )
        assert event.kind == "access"
        assert event.building is None
        assert event.unit is None
        assert event.unregistered_device is False

    def test_card_without_permission_is_denied(self) -> None:
        event = access(fixture_bytes("card_no_permission"))
        assert (event.method, event.result, event.vendor_code) == ("card", "denied", "5/0x6")
        assert (event.door, event.reader) == ("1", 2)
        assert event.credential == card("3188542197")

    def test_unknown_card_number_is_denied(self) -> None:
        event = access(fixture_bytes("card_unknown"))
        assert (event.method, event.result, event.vendor_code) == ("card", "denied", "5/0x9")
        assert (event.door, event.reader) == ("2", 1)
        assert event.credential == card("0000913377")

    def test_card_number_wins_over_employee_number(self) -> None:
        assert access(fixture_bytes("card_granted")).credential == card("3188542196")

    def test_card_and_employee_hashes_never_join(self) -> None:
        same_digits = with_event_fields("card_granted", cardNo="", employeeNoString="3188542196")
        assert access(same_digits).credential == employee("3188542196")
        assert employee("3188542196") != card("3188542196")


class TestFaceEvents:
    """Face verifications become face access events keyed by the employee number."""

    def test_verified_face_is_granted_with_employee_credential(self) -> None:
        event = access(fixture_bytes("face_verified"))
        assert (event.method, event.result, event.vendor_code) == ("face", "granted", "5/0x4b")
        assert (event.door, event.reader, event.direction) == ("1", 2, "out")
        assert event.credential == employee("88020231")

    def test_failed_face_is_denied_without_credential(self) -> None:
        event = access(fixture_bytes("face_failed"))
        assert (event.method, event.result, event.vendor_code) == ("face", "denied", "5/0x4c")
        assert (event.door, event.reader, event.direction) == ("1", 1, "unknown")
        assert event.credential is None


class TestOtherMethods:
    """QR code, password, remote and fingerprint codes map to their method and result."""

    @pytest.mark.parametrize(
        ("name", "method", "result", "direction", "reader", "credential", "vendor_code"),
        [
            ("qr_passed", "qr", "granted", "in", 1, employee("88030017"), "5/0x9c"),
            (
                "password_passed",
                "password",
                "granted",
                "unknown",
                1,
                employee("88030018"),
                "5/0xb5",
            ),
            ("remote_open", "remote", "granted", "unknown", None, None, "5/0x400"),
            (
                "fingerprint_matched",
                "fingerprint",
                "granted",
                "in",
                1,
                employee("88040001"),
                "5/0x26",
            ),
            ("fingerprint_failed", "fingerprint", "denied", "unknown", 1, None, "5/0x27"),
        ],
    )
    def test_fields(
        self,
        name: str,
        method: str,
        result: str,
        direction: str,
        reader: int | None,
        credential: str | None,
        vendor_code: str,
    ) -> None:
        event = access(fixture_bytes(name))
        assert (event.method, event.result, event.direction) == (method, result, direction)
        assert (event.door, event.reader) == ("1", reader)
        assert event.credential == credential
        assert event.vendor_code == vendor_code


class TestExitButton:
    """The exit button is a granted outward passage unless the attendance status says otherwise."""

    def test_defaults_to_out(self) -> None:
        event = access(fixture_bytes("exit_button"))
        assert (event.method, event.result, event.direction) == ("button", "granted", "out")
        assert (event.door, event.reader, event.credential) == ("1", None, None)
        assert event.vendor_code == "5/0x17"

    def test_unrecognised_attendance_status_keeps_out(self) -> None:
        payload = with_event_fields("exit_button", attendanceStatus="undefined")
        assert access(payload).direction == "out"

    def test_check_in_overrides_default(self) -> None:
        payload = with_event_fields("exit_button", attendanceStatus="checkIn")
        assert access(payload).direction == "in"


class TestDoorStates:
    """Door-sensor codes become door-state events that carry no person data."""

    @pytest.mark.parametrize(
        ("name", "state", "door", "vendor_code"),
        [
            ("door_opened", "opened", "1", "5/0x19"),
            ("door_closed", "closed", "1", "5/0x1a"),
            ("door_forced_open", "forced_open", "2", "5/0x1b"),
            ("door_held_open", "held_open", "2", "5/0x1c"),
        ],
    )
    def test_state(self, name: str, state: str, door: str, vendor_code: str) -> None:
        event = door_state(fixture_bytes(name))
        assert (event.kind, event.state, event.door, event.vendor_code) == (
            "door_state",
            state,
            door,
            vendor_code,
        )

    def test_card_fields_on_a_door_code_are_dropped(self) -> None:
        payload = with_event_fields("door_forced_open", cardNo="3188542196", name="张三")
        dumped = door_state(payload).model_dump_json()
        assert "3188542196" not in dumped
        assert card("3188542196") not in dumped
        assert "credential" not in dumped


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_envelope(self, name: str) -> None:
        event = parse_one(fixture_bytes(name))
        assert event.community == COMMUNITY
        assert event.received_at == RECEIVED
        assert event.dialect == "hik-isapi"
        assert event.device_id == DEVICE
        assert len(event.event_id) == 32
        assert int(event.event_id, 16) >= 0

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        event = parse_one(fixture_bytes(name))
        assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestEventTime:
    """Device time must carry an offset and is kept in UTC."""

    def test_offset_time_is_converted_to_utc_on_the_previous_day(self) -> None:
        occurred = access(fixture_bytes("card_granted")).occurred_at
        assert occurred == datetime(2026, 11, 25, 23, 58, 12, tzinfo=UTC)
        assert occurred.utcoffset() == timedelta(0)
        assert occurred.isoformat() == "2026-11-25T23:58:12+00:00"

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-11-26T07:58:12Z", datetime(2026, 11, 26, 7, 58, 12, tzinfo=UTC)),
            ("2026-11-26T07:58:12-05:00", datetime(2026, 11, 26, 12, 58, 12, tzinfo=UTC)),
            (
                "2026-11-26T07:58:12.250+08:00",
                datetime(2026, 11, 25, 23, 58, 12, 250_000, tzinfo=UTC),
            ),
        ],
    )
    def test_other_offsets(self, text: str, expected: datetime) -> None:
        assert access(with_fields("card_granted", dateTime=text)).occurred_at == expected

    def test_naive_time_is_refused(self) -> None:
        error = rejection(fixture_bytes("naive_datetime"))
        assert error.reason == "bad_time"
        assert "offset" in error.detail

    @pytest.mark.parametrize("text", ["yesterday", "", "2026-11-26", "26/11/2026 07:58:12+08:00"])
    def test_unparseable_or_dateless_time_is_refused(self, text: str) -> None:
        assert rejection(with_fields("card_granted", dateTime=text)).reason == "bad_time"

    @pytest.mark.parametrize("text", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59-08:00"])
    def test_time_outside_the_utc_range_is_refused(self, text: str) -> None:
        assert rejection(with_fields("card_granted", dateTime=text)).reason == "bad_time"

    @pytest.mark.parametrize("value", [1764115092, None, ["2026-11-26T07:58:12+08:00"]])
    def test_time_of_another_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", dateTime=value))
        assert error.reason == "schema"
        assert "dateTime" in error.detail


class TestDirection:
    """The attendance status decides the direction; otherwise the code's default, else unknown."""

    @pytest.mark.parametrize(
        ("status", "direction"),
        [("checkIn", "in"), ("checkOut", "out"), ("undefined", "unknown"), ("breakOut", "unknown")],
    )
    def test_attendance_status(self, status: str, direction: str) -> None:
        payload = with_event_fields("card_granted", attendanceStatus=status)
        assert access(payload).direction == direction

    def test_absent_status_is_unknown(self) -> None:
        payload = without_event_field("card_granted", "attendanceStatus")
        assert access(payload).direction == "unknown"

    def test_status_of_another_type_is_a_schema_error(self) -> None:
        payload = with_event_fields("card_granted", attendanceStatus=1)
        assert rejection(payload).reason == "schema"


class TestDeviceIdentity:
    """The topic's device code names the device; the payload's deviceID is only the fallback."""

    def test_topic_wins_over_payload(self) -> None:
        event = parse_one(fixture_bytes("card_granted_with_device_id"))
        assert event.device_id == DEVICE

    def test_payload_device_id_when_topic_has_none(self) -> None:
        event = parse_one(fixture_bytes("card_granted_with_device_id"), device_id=None)
        assert event.device_id == "34020000001320000009"

    def test_no_device_id_anywhere_is_refused(self) -> None:
        assert rejection(fixture_bytes("card_granted"), device_id=None).reason == "no_device_id"

    def test_empty_payload_device_id_counts_as_none(self) -> None:
        payload = with_fields("card_granted", deviceID="")
        assert rejection(payload, device_id=None).reason == "no_device_id"

    def test_overlong_device_id_is_refused(self) -> None:
        payload = with_fields("card_granted", deviceID="D" * 65)
        assert rejection(payload, device_id=None).reason == "bad_device_id"
        assert rejection(fixture_bytes("card_granted"), device_id="D" * 65).reason == (
            "bad_device_id"
        )

    def test_payload_device_id_of_another_type_is_a_schema_error(self) -> None:
        payload = with_fields("card_granted", deviceID=34020000001320000009)
        assert rejection(payload, device_id=None).reason == "schema"

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_payload_device_id_is_refused(self, device_id: str) -> None:
        error = rejection(with_fields("card_granted", deviceID=device_id), device_id=None)
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], *error_texts(error))

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_topic_device_is_refused(self, device_id: str) -> None:
        error = rejection(fixture_bytes("door_forced_open"), device_id=device_id)
        assert error.reason == "pii_in_identifier"

    @pytest.mark.parametrize("device_id", ["ctrl..1", "门禁1", "ctrl 1", "+8613812345"])
    def test_device_id_outside_the_alphabet_is_refused(self, device_id: str) -> None:
        payload = with_fields("card_granted", deviceID=device_id)
        assert rejection(payload, device_id=None).reason == "bad_device_id"


class TestEventIds:
    """Event ids are stable under redelivery and distinct for distinct events."""

    def test_same_bytes_give_the_same_id(self) -> None:
        payload = fixture_bytes("card_granted")
        first = ADAPTER.parse(message(payload))[0]
        later = ADAPTER.parse(message(payload, received_at=RECEIVED + timedelta(minutes=5)))[0]
        assert first.event_id == later.event_id

    def test_reserialised_payload_keeps_the_id(self) -> None:
        reformatted = json.dumps(fixture_json("card_granted"), indent=None).encode()
        assert reformatted != fixture_bytes("card_granted")
        assert parse_one(reformatted).event_id == parse_one(fixture_bytes("card_granted")).event_id

    def test_different_serial_gives_a_different_id(self) -> None:
        first = parse_one(fixture_bytes("card_granted"))
        second = parse_one(with_event_fields("card_granted", serialNo=4568))
        assert first.event_id != second.event_id

    def test_same_serial_on_another_device_gives_a_different_id(self) -> None:
        payload = fixture_bytes("card_granted")
        other = parse_one(payload, device_id="34020000001320000002")
        assert parse_one(payload).event_id != other.event_id

    def test_same_serial_with_another_code_gives_a_different_id(self) -> None:
        first = parse_one(fixture_bytes("card_granted"))
        second = parse_one(with_event_fields("card_granted", subEventType=0x06))
        assert first.event_id != second.event_id

    def test_all_fixtures_have_distinct_ids(self) -> None:
        ids = {parse_one(fixture_bytes(name)).event_id for name in GOOD_FIXTURES}
        assert len(ids) == len(GOOD_FIXTURES) - 1  # the deviceID variant is the same event

    def test_without_serial_the_id_hashes_topic_and_payload(self) -> None:
        payload = without_event_field("card_granted", "serialNo")
        event = parse_one(payload)
        assert event.event_id == payload_event_id("hik-isapi", message(payload))
        assert parse_one(payload).event_id == event.event_id

    def test_without_serial_different_payloads_give_different_ids(self) -> None:
        first = without_event_field("card_granted", "serialNo")
        second = without_event_field("card_no_permission", "serialNo")
        assert parse_one(first).event_id != parse_one(second).event_id


class TestPersonalData:
    """Card numbers, employee numbers and names never leave the adapter in raw form."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_no_raw_personal_value_in_the_event(self, name: str) -> None:
        detail = fixture_json(name)["AccessControllerEvent"]
        raw = [detail.get(key) for key in ("cardNo", "employeeNoString", "name")]
        dumped = parse_one(fixture_bytes(name)).model_dump_json()
        for value in filter(None, raw):
            assert value not in dumped
            assert json.dumps(value) not in dumped

    @pytest.mark.parametrize(
        "payload",
        [
            fixture_bytes("card_number_as_number"),
            with_event_fields("card_granted", employeeNoString=88010086),
            with_event_fields("card_granted", cardNo=["3188542196", "张三"]),
            with_event_fields("card_granted", subEventType="3188542196"),
            with_event_fields("card_granted", doorNo="张三"),
            with_fields("card_granted", dateTime="3188542196 张三"),
            with_event_fields("card_granted", subEventType=0x2A),
            with_fields("card_granted", eventType="张三3188542196"),
            with_fields("card_granted", eventType="card_3188542196"),
            with_fields("card_granted", eventType="card_3188542196_zhangsan_and_more_text_xy"),
        ],
    )
    def test_no_raw_personal_value_in_errors(self, payload: bytes) -> None:
        assert_absent(RAW_PERSONAL, *error_texts(rejection(payload)))

    def test_name_is_ignored_whatever_its_type(self) -> None:
        for name in (None, 42, ["张", "三"], {"family": "张"}):
            assert access(with_event_fields("card_granted", name=name)).credential == card(
                "3188542196"
            )

    def test_empty_card_falls_back_to_employee_number(self) -> None:
        payload = with_event_fields("card_granted", cardNo="")
        assert access(payload).credential == employee("88010086")

    def test_no_card_and_empty_employee_number_gives_no_credential(self) -> None:
        payload = with_event_fields("card_granted", cardNo=None, employeeNoString="")
        assert access(payload).credential is None

    def test_lone_surrogate_in_a_card_number_is_a_schema_error(self) -> None:
        payload = fixture_bytes("card_granted").replace(b'"3188542196"', b'"\\ud800"')
        error = rejection(payload)
        assert error.reason == "schema"
        assert "cardNo" in error.detail


class TestRejectedPayloads:
    """A payload that cannot become an event raises PayloadError with a precise reason."""

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("malformed", "malformed_json"),
            ("array", "malformed_json"),
            ("wrong_type_minor", "schema"),
            ("missing_access_event", "schema"),
            ("card_number_as_number", "schema"),
            ("naive_datetime", "bad_time"),
            ("unknown_minor", "unknown_code"),
            ("unsupported_event", "unsupported_event"),
        ],
    )
    def test_bad_fixture(self, name: str, reason: str) -> None:
        assert rejection(fixture_bytes(name)).reason == reason

    def test_array_detail_names_the_json_type(self) -> None:
        assert rejection(fixture_bytes("array")).detail == "expected a JSON object, got an array"

    def test_wrong_type_detail_names_the_field_path(self) -> None:
        detail = rejection(fixture_bytes("wrong_type_minor")).detail
        assert detail.startswith("AccessControllerEvent.subEventType:")

    def test_missing_event_object_detail_names_it(self) -> None:
        detail = rejection(fixture_bytes("missing_access_event")).detail
        assert detail == "AccessControllerEvent: Field required"

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"null",
            b'"AccessControllerEvent"',
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b"[" + b"0," * 1_000_000 + b"0]",
            b'{"portNo": ' + b"9" * 5000 + b"}",
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
        payload = with_event_fields("card_granted", cardNo=[0] * 100_000)
        assert rejection(payload).reason == "schema"

    def test_huge_array_in_a_vendor_field_is_ignored(self) -> None:
        payload = with_event_fields("card_granted", vendorExtension=[0] * 100_000)
        assert access(payload).credential == card("3188542196")

    def test_many_errors_are_summarised(self) -> None:
        payload = with_event_fields(
            "card_granted",
            subEventType="x",
            majorEventType="x",
            serialNo="x",
            cardReaderNo="x",
            doorNo="x",
            cardNo=1,
            employeeNoString=1,
        )
        error = rejection(payload)
        assert error.reason == "schema"
        assert error.detail.endswith("(+2 more)")


class TestSchemaValidation:
    """Vendor extras are ignored, but a field we use with the wrong type is an error."""

    @pytest.mark.parametrize("reader", [65_536, 430112199001011234])
    def test_a_reader_number_beyond_the_events_range_is_a_schema_error(self, reader: int) -> None:
        """A card reader's number is a small code: a long number there is refused, named."""
        error = rejection(with_event_fields("card_granted", cardReaderNo=reader))
        assert error.reason == "schema" and "cardReaderNo" in error.detail

    def test_extra_fields_are_ignored(self) -> None:
        document = fixture_json("card_granted")
        document["firmwareExtra"] = {"anything": [1, 2, 3]}
        document["AccessControllerEvent"]["helmet"] = "yes"
        assert access(encode(document)).credential == card("3188542196")

    def test_unused_known_fields_may_have_any_type(self) -> None:
        payload = with_event_fields(
            "card_granted", currentVerifyMode=7, mask=None, verifyNo="x", deviceName=[1]
        )
        assert access(payload).result == "granted"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("subEventType", "abc"),
            ("subEventType", "75"),
            ("subEventType", 75.0),
            ("subEventType", True),
            ("subEventType", None),
            ("majorEventType", -5),
            ("majorEventType", 2**40),
            ("serialNo", "4567"),
            ("doorNo", -1),
            ("cardReaderNo", "1"),
            ("cardNo", 3188542196),
            ("employeeNoString", 88010086),
            ("AccessControllerEvent", None),
        ],
    )
    def test_wrong_type_is_a_schema_error(self, field: str, value: object) -> None:
        if field == "AccessControllerEvent":
            payload = with_fields("card_granted", **{field: value})
        else:
            payload = with_event_fields("card_granted", **{field: value})
        error = rejection(payload)
        assert error.reason == "schema"
        assert field in error.detail

    def test_access_event_object_must_be_an_object(self) -> None:
        payload = with_fields("card_granted", AccessControllerEvent=[{"subEventType": 1}])
        assert rejection(payload).reason == "schema"

    @pytest.mark.parametrize("value", [None, 1, ["AccessControllerEvent"]])
    def test_event_type_must_be_a_string(self, value: object) -> None:
        error = rejection(with_fields("card_granted", eventType=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "eventType")

    def test_event_type_is_required(self) -> None:
        document = fixture_json("card_granted")
        del document["eventType"]
        assert rejection(encode(document)).reason == "schema"


class TestUnknownCodes:
    """A code pair outside the table is refused, naming the pair in hexadecimal."""

    def test_unmapped_minor(self) -> None:
        error = rejection(fixture_bytes("unknown_minor"))
        assert (error.reason, error.detail) == ("unknown_code", "major 5 minor 0x2a is not mapped")

    def test_mapped_minor_under_another_major(self) -> None:
        error = rejection(with_event_fields("card_granted", majorEventType=2, subEventType=0x27))
        assert (error.reason, error.detail) == ("unknown_code", "major 2 minor 0x27 is not mapped")

    def test_table_is_exactly_the_documented_mapping(self) -> None:
        documented: dict[tuple[int, int], tuple[str, ...]] = {
            (5, 0x01): ("card", "granted", "unknown"),
            (5, 0x06): ("card", "denied", "unknown"),
            (5, 0x09): ("card", "denied", "unknown"),
            (5, 0x4B): ("face", "granted", "unknown"),
            (5, 0x4C): ("face", "denied", "unknown"),
            (5, 0x9C): ("qr", "granted", "unknown"),
            (5, 0xB5): ("password", "granted", "unknown"),
            (5, 0x400): ("remote", "granted", "unknown"),
            (5, 0x26): ("fingerprint", "granted", "unknown"),
            (5, 0x27): ("fingerprint", "denied", "unknown"),
            (5, 0x17): ("button", "granted", "out"),
            (5, 0x19): ("opened",),
            (5, 0x1A): ("closed",),
            (5, 0x1B): ("forced_open",),
            (5, 0x1C): ("held_open",),
        }
        actual = {
            key: (code.method, code.result, code.direction)
            if isinstance(code, AccessCode)
            else (code.state,)
            for key, code in EVENT_CODES.items()
        }
        assert actual == documented

    @pytest.mark.parametrize("key", sorted(EVENT_CODES))
    def test_every_mapped_code_parses(self, key: tuple[int, int]) -> None:
        major, minor = key
        payload = with_event_fields(
            "card_granted", majorEventType=major, subEventType=minor, attendanceStatus="x"
        )
        event = parse_one(payload)
        code = EVENT_CODES[key]
        assert event.kind == ("door_state" if isinstance(code, DoorCode) else "access")
        assert event.vendor_code == f"{major}/{minor:#x}"


class TestUnsupportedEvents:
    """Other ISAPI event types are refused before their shape is checked."""

    def test_heartbeat_is_named(self) -> None:
        error = rejection(fixture_bytes("unsupported_event"))
        assert (error.reason, error.detail) == (
            "unsupported_event",
            "event type 'heartBeat' is not supported",
        )

    @pytest.mark.parametrize(
        "event_type",
        ["", "a b", "张三", "x" * 41, "AccessControllerEvent\n", "vmd';--", "_x", "9x", "card1234"],
    )
    def test_unsafe_event_type_is_not_echoed(self, event_type: str) -> None:
        error = rejection(with_fields("unsupported_event", eventType=event_type))
        assert (error.reason, error.detail) == ("unsupported_event", "unsupported event type")


# Property tests: whatever arrives, the adapter answers with events or a PayloadError.

BASE = fixture_json("card_granted")
TOP_KEYS = sorted([*BASE, "deviceID"])
EVENT_KEYS = sorted(BASE["AccessControllerEvent"])
# Values that are right or nearly right for the fields we read, so mutations also reach the
# success paths and the boundaries, not only the type checks.
# Lone surrogates are valid JSON escapes but not UTF-8; hypothesis rarely draws them alone.
TEXTS = st.text(max_size=20) | st.sampled_from(["\ud800", "ok\udfff"])
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "dateTime": TIMES | TEXTS,
    "deviceID": TEXTS | st.text(min_size=60, max_size=70),
    "eventType": st.just("AccessControllerEvent") | st.text(max_size=45),
    "majorEventType": st.sampled_from([2, 3, 5]) | st.integers(-1, 2**32),
    "subEventType": st.sampled_from(sorted(minor for _, minor in EVENT_CODES)) | st.integers(),
    "serialNo": st.integers(-1, 2**32),
    "cardNo": TEXTS,
    "employeeNoString": TEXTS,
    "cardReaderNo": st.integers(-1, 2**32),
    "doorNo": st.integers(-1, 2**32),
    "attendanceStatus": st.sampled_from(["checkIn", "checkOut", "undefined"]),
}


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid notification with a few fields replaced by arbitrary JSON or removed."""
    document = copy.deepcopy(BASE)
    event = document["AccessControllerEvent"]
    mutate_fields(draw, event, EVENT_KEYS, PLAUSIBLE, replaced=3, removed=1)
    mutate_fields(draw, document, TOP_KEYS, PLAUSIBLE, replaced=2, removed=1)
    return document


DEVICE_IDS = device_ids(DEVICE)
MOSTLY_TOPIC_DEVICE_IDS = st.one_of(st.just(DEVICE), st.just(DEVICE), st.none())


def events_or_payload_error(raw: RawMessage) -> list[DeviceEvent]:
    return parse_checked(ADAPTER, raw, REASONS)


class TestNeverCrashes:
    """Whatever arrives, parse returns events or raises PayloadError, never another exception."""

    test_arbitrary_bytes, test_arbitrary_json = never_crash_tests(
        events_or_payload_error, message, DEVICE_IDS, max_examples=200
    )

    @settings(max_examples=200, deadline=None)
    @given(text=TIMES | TEXTS)
    def test_arbitrary_event_time(self, text: str) -> None:
        payload = json.dumps({**BASE, "dateTime": text}).encode()
        for event in events_or_payload_error(message(payload)):
            assert event.occurred_at.utcoffset() == timedelta(0)

    @settings(max_examples=200, deadline=None)
    @given(document=mutated_payloads(), device_id=MOSTLY_TOPIC_DEVICE_IDS)
    def test_valid_payload_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        events = events_or_payload_error(
            message(json.dumps(document).encode(), device_id=device_id)
        )
        for event in events:
            assert_absent(RAW_PERSONAL, event.model_dump_json())
