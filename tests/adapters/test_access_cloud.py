"""Specification of the cloud door-access adapter, driven by the payload fixtures beside it."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.access_cloud import (
    IN_OUT_TYPES,
    OPEN_METHODS,
    OPEN_RESULTS,
    AccessCloudAdapter,
)
from adapters.base import Adapter, RawMessage, stable_event_id
from gateway.errors import PayloadError
from schemas.events import AccessEvent, DeviceEvent, device_event_adapter
from tests.adapters.support import (
    EPOCH,
    EPOCH_MILLISECONDS,
    MARKUP_NAMES,
    MAX_EPOCH_MS,
    MIN_EPOCH_MS,
    PII_DEVICE_IDS,
    PII_NAMES,
    PLANTED,
    PSEUDONYMIZER,
    Fixtures,
    assert_absent,
    device_ids,
    drops,
    error_texts,
    message_factory,
    mutate_fields,
    never_crash_tests,
    parse_checked,
    rejected,
)

FIXTURES = Fixtures.of("access_cloud")
ADAPTER = AccessCloudAdapter(PSEUDONYMIZER)
COMMUNITY = "yida"
DEVICE = "34020000001320000301"
TOPIC = f"{COMMUNITY}/access-cloud/{DEVICE}"
RECEIVED = datetime(2026, 11, 26, 0, 0, 13, tzinfo=UTC)
REASONS = {
    "malformed_json",
    "schema",
    "unknown_code",
    "bad_time",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
}

# Every raw personal value in the fixtures: none may reach an event or an error.
PERSONAL = [
    "张三",
    "李四",
    "王五",
    "赵六",
    "钱七",
    "孙八",
    "周九",
    "3188542196",
    "0000913377",
    "13812345678",
    "13987654321",
    "13700001111",
    "13600002222",
    "13500003333",
    "13400004444",
    "430112199001011234",
    "430112198507160021",
    "43011219850315002X",
    "U2026000301",
    "U2026000302",
]

METHOD_FIXTURES = {
    "card_granted": ("card", "granted", "in", "100101"),
    "card_denied": ("card", "denied", "in", "100101"),
    "face_granted": ("face", "granted", "out", "100201"),
    "face_denied": ("face", "denied", "in", "100201"),
    "bluetooth_open": ("remote", "granted", "in", "100301"),
    "phone_remote_open": ("remote", "granted", "unknown", "100302"),
    "phone_keypad_password": ("password", "granted", "in", "100303"),
    "exit_button": ("button", "granted", "out", "100401"),
    "keypad_password": ("password", "granted", "in", "100402"),
    "id_card": ("id_card", "granted", "in", "100501"),
    "visitor_call": ("remote", "granted", "in", "100601"),
    "qr_code": ("qr", "granted", "in", "100701"),
}
GOOD_FIXTURES = [*METHOD_FIXTURES, "no_record_id"]


fixture_bytes = FIXTURES.payload
fixture_json = FIXTURES.document
with_fields = FIXTURES.with_fields
without_fields = FIXTURES.without_fields
message = message_factory(community=COMMUNITY, topic=TOPIC, device_id=DEVICE, received_at=RECEIVED)


def access(payload: bytes, *, device_id: str | None = DEVICE) -> AccessEvent:
    events = ADAPTER.parse(message(payload, device_id=device_id))
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, AccessEvent)
    return event


def rejection(payload: bytes, *, device_id: str | None = DEVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


def card(value: str) -> str:
    return PSEUDONYMIZER.hash("card", value)


def user(value: str) -> str:
    return PSEUDONYMIZER.hash("cloud-user", value)


def id_number(value: str) -> str:
    return PSEUDONYMIZER.hash("id_number", value)


class TestAdapterContract:
    """The adapter is the `access-cloud` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert AccessCloudAdapter.dialect == "access-cloud"

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = AccessCloudAdapter(PSEUDONYMIZER)
        assert adapter.dialect == "access-cloud"

    def test_one_record_gives_one_event(self) -> None:
        assert len(ADAPTER.parse(message(fixture_bytes("card_granted")))) == 1


class TestCardRecord:
    """A card opening fills every field of the access event, the card only as a keyed hash."""

    def test_every_field(self) -> None:
        assert access(fixture_bytes("card_granted")) == AccessEvent(
            event_id=stable_event_id("access-cloud", DEVICE, "record", "R20261126080012000301"),
            community=COMMUNITY,
            device_id=DEVICE,
            occurred_at=datetime(2026, 11, 26, 0, 0, 12, tzinfo=UTC),
            received_at=RECEIVED,
            dialect="access-cloud",
            direction="in",
            method="card",
            result="granted",
            door="B03-U1-D1",
            reader=None,
            credential=card("3188542196"),
            vendor_code="100101",
        )

    def test_card_hash_joins_the_hikvision_card_hash(self) -> None:
        assert access(fixture_bytes("card_granted")).credential == PSEUDONYMIZER.hash(
            "card", "3188542196"
        )

    def test_denied_card(self) -> None:
        event = access(fixture_bytes("card_denied"))
        assert (event.method, event.result, event.credential) == (
            "card",
            "denied",
            card("0000913377"),
        )


class TestOpenMethods:
    """Every method code family maps to its open method, result, direction and vendor code."""

    @pytest.mark.parametrize(("name", "expected"), sorted(METHOD_FIXTURES.items()))
    def test_fixture(self, name: str, expected: tuple[str, str, str, str]) -> None:
        event = access(fixture_bytes(name))
        assert (event.method, event.result, event.direction, event.vendor_code) == expected

    def test_table_is_exactly_the_documented_mapping(self) -> None:
        documented = {
            100101: ("card", "unknown"),
            100201: ("face", "unknown"),
            100301: ("remote", "unknown"),
            100302: ("remote", "unknown"),
            100303: ("password", "unknown"),
            100401: ("button", "out"),
            100402: ("password", "unknown"),
            100501: ("id_card", "unknown"),
            100601: ("remote", "unknown"),
            100701: ("qr", "unknown"),
        }
        actual = {key: (code.method, code.direction) for key, code in OPEN_METHODS.items()}
        assert actual == documented

    def test_result_and_direction_tables(self) -> None:
        assert dict(OPEN_RESULTS) == {1: "granted", 0: "denied"}
        assert dict(IN_OUT_TYPES) == {1: "in", 2: "out"}

    @pytest.mark.parametrize("code", sorted(OPEN_METHODS))
    @pytest.mark.parametrize("result", sorted(OPEN_RESULTS))
    def test_every_method_and_result_parses(self, code: int, result: int) -> None:
        event = access(with_fields("card_granted", openMethod=code, openResult=result))
        assert event.method == OPEN_METHODS[code].method
        assert event.result == OPEN_RESULTS[result]
        assert event.vendor_code == str(code)

    def test_unknown_method_is_refused(self) -> None:
        error = rejection(fixture_bytes("unknown_method"))
        assert (error.reason, error.detail) == ("unknown_code", "openMethod 100999 is not mapped")

    def test_unknown_result_is_refused(self) -> None:
        error = rejection(fixture_bytes("unknown_result"))
        assert (error.reason, error.detail) == ("unknown_code", "openResult 2 is not mapped")

    @pytest.mark.parametrize("field", ["openMethod", "openResult"])
    def test_number_too_long_for_a_code_is_not_echoed(self, field: str) -> None:
        error = rejection(with_fields("card_granted", **{field: 3188542196}))
        assert (error.reason, error.detail) == ("unknown_code", f"{field} is not a known code")


class TestDirection:
    """inOutType decides the direction; otherwise the method's default, else unknown."""

    @pytest.mark.parametrize(("value", "direction"), [(1, "in"), (2, "out"), (0, "unknown")])
    def test_in_out_type(self, value: int, direction: str) -> None:
        assert access(with_fields("card_granted", inOutType=value)).direction == direction

    def test_absent_is_unknown(self) -> None:
        assert access(without_fields("card_granted", "inOutType")).direction == "unknown"

    def test_exit_button_defaults_to_out(self) -> None:
        assert access(fixture_bytes("exit_button")).direction == "out"

    @pytest.mark.parametrize(("value", "direction"), [(1, "in"), (0, "out"), (9, "out")])
    def test_exit_button_yields_only_to_a_known_type(self, value: int, direction: str) -> None:
        assert access(with_fields("exit_button", inOutType=value)).direction == direction

    @pytest.mark.parametrize("value", ["1", True, -1, 1.0, 2**32])
    def test_unusable_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", inOutType=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "inOutType")


class TestCredentials:
    """The credential hashes what the person presented: card, ID card for ID openings, else user."""

    @pytest.mark.parametrize(
        ("name", "credential"),
        [
            ("card_granted", card("3188542196")),
            ("card_denied", card("0000913377")),
            ("face_granted", user("U2026000302")),
            ("face_denied", None),
            ("bluetooth_open", user("U2026000303")),
            ("phone_remote_open", user("U2026000304")),
            ("phone_keypad_password", None),
            ("exit_button", None),
            ("keypad_password", None),
            ("id_card", id_number("43011219850315002X")),
            ("visitor_call", user("U2026000306")),
            ("qr_code", user("V2026000401")),
        ],
    )
    def test_fixture(self, name: str, credential: str | None) -> None:
        assert access(fixture_bytes(name)).credential == credential

    def test_id_number_is_not_hashed_for_other_methods(self) -> None:
        event = access(fixture_bytes("face_granted"))
        assert event.credential != id_number("430112198507160021")

    def test_id_number_wins_over_card_for_an_id_card_opening(self) -> None:
        payload = with_fields("id_card", cardNo="E0040150A1B2C3D4")
        assert access(payload).credential == id_number("43011219850315002X")

    def test_id_number_is_upper_cased_and_trimmed(self) -> None:
        payload = with_fields("id_card", idCardNo=" 43011219850315002x ")
        assert access(payload).credential == id_number("43011219850315002X")

    def test_id_card_opening_without_id_number_falls_back_to_the_card(self) -> None:
        payload = with_fields("id_card", idCardNo="", cardNo="E0040150A1B2C3D4")
        assert access(payload).credential == card("E0040150A1B2C3D4")

    def test_card_wins_over_user(self) -> None:
        assert access(fixture_bytes("card_granted")).credential == card("3188542196")

    def test_empty_card_falls_back_to_user(self) -> None:
        assert access(with_fields("card_granted", cardNo="")).credential == user("U2026000301")

    def test_numeric_user_id_is_hashed_as_its_digits(self) -> None:
        payload = with_fields("face_granted", userId=88010086)
        assert access(payload).credential == user("88010086")

    def test_empty_user_gives_no_credential(self) -> None:
        payload = with_fields("face_granted", userId="")
        assert access(payload).credential is None

    def test_namespaces_never_join(self) -> None:
        assert len({card("88010086"), user("88010086"), id_number("88010086")}) == 3

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("cardNo", 3188542196),
            ("cardNo", ["3188542196"]),
            ("userId", True),
            ("userId", -1),
            ("userId", 1.5),
            ("idCardNo", 430112199001011234),
            ("cardNo", "x" * 129),
        ],
    )
    def test_wrong_type_is_a_schema_error(self, field: str, value: object) -> None:
        error = rejection(with_fields("card_granted", **{field: value}))
        assert (error.reason, error.detail.split(":")[0].split(".")[0]) == ("schema", field)

    def test_lone_surrogate_in_a_card_number_is_a_schema_error(self) -> None:
        payload = fixture_bytes("card_granted").replace(b'"3188542196"', b'"\\ud800"')
        error = rejection(payload)
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "cardNo")


class TestPersonalData:
    """Names, phones, card and ID numbers never appear raw in an event or an error."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_no_raw_personal_value_in_the_event(self, name: str) -> None:
        dumped = access(fixture_bytes(name)).model_dump_json()
        for value in PERSONAL:
            assert value not in dumped
            assert value.lower() not in dumped

    def test_names_and_phones_are_ignored_whatever_their_type(self) -> None:
        for value in (None, 42, ["张", "三"], {"family": "张"}):
            payload = with_fields("card_granted", userName=value, phone=value)
            assert access(payload).credential == card("3188542196")

    @pytest.mark.parametrize(
        "payload",
        [
            fixture_bytes("card_number_as_number"),
            fixture_bytes("malformed"),
            with_fields("card_granted", cardNo=["3188542196", "张三"]),
            with_fields("card_granted", idCardNo=430112199001011234),
            with_fields("card_granted", userId={"name": "张三", "phone": "13812345678"}),
            with_fields("card_granted", openMethod="13812345678"),
            with_fields("card_granted", openMethod=3188542196),
            with_fields("card_granted", openResult=13812345678),
            with_fields("card_granted", openTime="430112199001011234"),
            with_fields("card_granted", openTime=430112199001011234),
            with_fields("card_granted", thingCode="138-1234-5678"),
            with_fields("card_granted", thingCode="13812345678" * 10),
        ],
    )
    def test_no_raw_personal_value_in_errors(self, payload: bytes) -> None:
        assert_absent(PERSONAL, *error_texts(rejection(payload)))


class TestEventTime:
    """openTime is epoch milliseconds; whether it is plausible is the pipeline's window's call."""

    def test_epoch_milliseconds_in_utc(self) -> None:
        occurred = access(fixture_bytes("card_granted")).occurred_at
        assert occurred == datetime(2026, 11, 26, 0, 0, 12, tzinfo=UTC)
        assert occurred.utcoffset() == timedelta(0)

    def test_milliseconds_are_kept(self) -> None:
        event = access(with_fields("card_granted", openTime=1795651212345))
        assert event.occurred_at == datetime(2026, 11, 26, 0, 0, 12, 345_000, tzinfo=UTC)

    def test_seconds_are_read_as_milliseconds_for_the_window_to_refuse(self) -> None:
        occurred = access(fixture_bytes("open_time_in_seconds")).occurred_at
        assert occurred == EPOCH + timedelta(milliseconds=1_795_651_212)

    @pytest.mark.parametrize("value", [0, -1, MIN_EPOCH_MS, MAX_EPOCH_MS])
    def test_every_calendar_instant_is_converted(self, value: int) -> None:
        occurred = access(with_fields("card_granted", openTime=value)).occurred_at
        assert occurred == EPOCH + timedelta(milliseconds=value)

    @pytest.mark.parametrize("value", [MIN_EPOCH_MS - 1, MAX_EPOCH_MS + 1, 10**30, -(10**30)])
    def test_time_beyond_the_calendar_is_bad_time(self, value: int) -> None:
        error = rejection(with_fields("card_granted", openTime=value))
        assert (error.reason, error.detail) == (
            "bad_time",
            "openTime is out of the calendar's range",
        )

    @pytest.mark.parametrize("value", ["2026-11-26 08:00:12", 1795651212000.0, True, None])
    def test_time_of_another_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", openTime=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "openTime")


class TestDeviceAndDoor:
    """thingCode names the device, the topic being the fallback; spaceCode names the door."""

    def test_thing_code_wins_over_topic(self) -> None:
        assert access(fixture_bytes("card_granted"), device_id="platform-1").device_id == DEVICE

    def test_topic_device_when_thing_code_is_absent(self) -> None:
        payload = without_fields("card_granted", "thingCode")
        assert access(payload, device_id="34020000001320000399").device_id == (
            "34020000001320000399"
        )

    def test_empty_thing_code_counts_as_absent(self) -> None:
        payload = with_fields("card_granted", thingCode="")
        assert access(payload).device_id == DEVICE
        assert rejection(payload, device_id=None).reason == "no_device_id"

    def test_no_device_anywhere_is_refused(self) -> None:
        payload = without_fields("card_granted", "thingCode")
        assert rejection(payload, device_id=None).reason == "no_device_id"

    def test_overlong_device_is_refused(self) -> None:
        assert rejection(with_fields("card_granted", thingCode="T" * 65)).reason == "bad_device_id"

    @pytest.mark.parametrize("value", [34020000001320000301, "T\x00", "\ud800", ["T"]])
    def test_unusable_thing_code_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", thingCode=value))
        assert (error.reason, error.detail.split(":")[0].split(".")[0]) == ("schema", "thingCode")

    def test_door_is_the_space_code(self) -> None:
        assert access(fixture_bytes("face_granted")).door == "B03-U1-D1"

    @pytest.mark.parametrize("payload_change", [{"spaceCode": ""}, {"spaceCode": None}])
    def test_empty_space_code_gives_no_door(self, payload_change: dict[str, Any]) -> None:
        assert access(with_fields("card_granted", **payload_change)).door is None

    @pytest.mark.parametrize("value", [1, "\ud800", ["D1"]])
    def test_space_code_that_is_no_text_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", spaceCode=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "spaceCode")


class TestScreenedFields:
    """A device id holding a personal number refuses the record; a bad door name is dropped."""

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_thing_code_is_refused(self, device_id: str) -> None:
        error = rejection(with_fields("card_granted", thingCode=device_id))
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], *error_texts(error))

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_topic_device_is_refused(self, device_id: str) -> None:
        payload = without_fields("card_granted", "thingCode")
        assert rejection(payload, device_id=device_id).reason == "pii_in_identifier"

    @pytest.mark.parametrize("device_id", ["door..1", "门禁-1", "door 1", "door/1"])
    def test_device_id_outside_the_alphabet_is_refused(self, device_id: str) -> None:
        assert rejection(with_fields("card_granted", thingCode=device_id)).reason == (
            "bad_device_id"
        )

    @pytest.mark.parametrize(
        ("door", "reason"),
        [
            *((door, "pii_in_identifier") for door in PII_NAMES),
            *((door, "markup") for door in MARKUP_NAMES),
            ("D\n1", "not_printable"),
            ("D\u202e1", "not_printable"),
            ("D" * 65, "too_long"),
        ],
    )
    def test_bad_door_name_is_dropped_and_the_event_kept(self, door: str, reason: str) -> None:
        event = access(with_fields("card_granted", spaceCode=door))
        assert (event.door, drops(event)) == (None, {"door": reason})
        assert event.credential == card("3188542196")
        assert_absent([door, *PLANTED], event.model_dump_json())

    def test_a_dropped_door_is_not_hashed_into_the_event_id(self) -> None:
        planted = access(with_fields("no_record_id", spaceCode=PII_NAMES[0]))
        assert planted.event_id == access(with_fields("no_record_id", spaceCode="")).event_id

    @pytest.mark.parametrize(
        "door", ["3栋1单元门", "B03-U1-D1", "A&B gate", "34020000001320000301"]
    )
    def test_valid_door_names_are_untouched(self, door: str) -> None:
        event = access(with_fields("card_granted", spaceCode=door))
        assert (event.door, event.dropped_fields) == (door, ())


class TestEventIds:
    """Ids come from device and record id; without one, from time, method and door."""

    def test_same_record_gives_the_same_id_whenever_received(self) -> None:
        payload = fixture_bytes("card_granted")
        later = ADAPTER.parse(message(payload, received_at=RECEIVED + timedelta(hours=2)))[0]
        assert later.event_id == access(payload).event_id

    def test_numeric_record_id_is_hashed_as_its_digits(self) -> None:
        event = access(with_fields("card_granted", recordId=4567))
        assert event.event_id == stable_event_id("access-cloud", DEVICE, "record", "4567")

    def test_same_record_id_on_another_device_differs(self) -> None:
        other = access(with_fields("card_granted", thingCode="34020000001320000302"))
        assert other.event_id != access(fixture_bytes("card_granted")).event_id

    def test_without_record_id_the_id_is_time_method_and_door(self) -> None:
        event = access(fixture_bytes("no_record_id"))
        assert event.event_id == stable_event_id(
            "access-cloud", DEVICE, "open", "1795651212000", "100101", "B03-U1-D1"
        )

    def test_empty_record_id_counts_as_absent(self) -> None:
        event = access(with_fields("card_granted", recordId=""))
        assert event.event_id == access(fixture_bytes("no_record_id")).event_id

    def test_without_record_id_another_door_differs(self) -> None:
        first = access(fixture_bytes("no_record_id"))
        second = access(with_fields("no_record_id", spaceCode="B03-U1-D2"))
        assert first.event_id != second.event_id

    def test_without_record_id_and_door(self) -> None:
        event = access(without_fields("no_record_id", "spaceCode"))
        assert event.event_id == stable_event_id(
            "access-cloud", DEVICE, "open", "1795651212000", "100101", ""
        )

    def test_all_fixtures_have_distinct_ids(self) -> None:
        ids = {access(fixture_bytes(name)).event_id for name in GOOD_FIXTURES}
        assert len(ids) == len(GOOD_FIXTURES)

    @pytest.mark.parametrize("value", [True, 1.5, -1, 2**64, "x" * 129, ["R1"]])
    def test_unusable_record_id_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", recordId=value))
        assert (error.reason, error.detail.split(":")[0].split(".")[0]) == ("schema", "recordId")


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_envelope(self, name: str) -> None:
        event = access(fixture_bytes(name))
        assert (event.community, event.received_at, event.dialect, event.device_id) == (
            COMMUNITY,
            RECEIVED,
            "access-cloud",
            DEVICE,
        )
        assert event.kind == "access"
        assert event.reader is None
        assert len(event.event_id) == 32

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        event = access(fixture_bytes(name))
        assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestRejectedPayloads:
    """A record that cannot become an event raises PayloadError with a precise reason."""

    @pytest.mark.parametrize(
        ("name", "reason", "detail"),
        [
            ("malformed", "malformed_json", "not UTF-8 JSON (JSONDecodeError)"),
            ("array", "malformed_json", "expected a JSON object, got an array"),
            ("missing_open_time", "schema", "openTime: Field required"),
            ("open_time_as_string", "schema", "openTime: Input should be a valid integer"),
            ("card_number_as_number", "schema", "cardNo: Input should be a valid string"),
            ("unknown_method", "unknown_code", "openMethod 100999 is not mapped"),
            ("unknown_result", "unknown_code", "openResult 2 is not mapped"),
        ],
    )
    def test_bad_fixture(self, name: str, reason: str, detail: str) -> None:
        error = rejection(fixture_bytes(name))
        assert (error.reason, error.detail) == (reason, detail)

    @pytest.mark.parametrize("field", ["openMethod", "openResult", "openTime"])
    def test_required_fields(self, field: str) -> None:
        error = rejection(without_fields("card_granted", field))
        assert (error.reason, error.detail) == ("schema", f"{field}: Field required")

    @pytest.mark.parametrize("value", ["100101", 100101.0, True, -1, None])
    def test_method_of_another_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("card_granted", openMethod=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "openMethod")

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"null",
            b"100101",
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b"[" + b"0," * 1_000_000 + b"0]",
            b'{"openTime": ' + b"9" * 5000 + b"}",
        ],
        ids=[
            "empty",
            "null",
            "number",
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
        error = rejection(with_fields("card_granted", cardNo=[0] * 100_000))
        assert (error.reason, error.detail.split(":")[0].split(".")[0]) == ("schema", "cardNo")

    def test_huge_array_and_deep_nesting_in_vendor_fields_are_ignored(self) -> None:
        nested: Any = 0
        for _ in range(200):
            nested = [nested]
        payload = with_fields("card_granted", faceFeature=[0.5] * 100_000, ext=nested)
        assert access(payload).credential == card("3188542196")

    def test_many_errors_are_summarised(self) -> None:
        payload = with_fields(
            "card_granted",
            openMethod="x",
            openResult="x",
            openTime="x",
            inOutType="x",
            spaceCode=1,
            thingCode=1,
        )
        error = rejection(payload)
        assert error.reason == "schema"
        assert error.detail.endswith("more)")


# Property tests: whatever arrives, the adapter answers with events or a PayloadError.

BASE = fixture_json("card_granted")
KEYS = sorted(BASE)
TEXTS = st.text(max_size=20) | st.sampled_from(["\ud800", "ok\udfff", "a\x00b", ""])
IDS = TEXTS | st.integers(-1, 2**65)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "recordId": IDS,
    "thingCode": TEXTS | st.text(min_size=60, max_size=70),
    "spaceCode": TEXTS,
    "openMethod": st.sampled_from(sorted(OPEN_METHODS)) | st.integers(-1, 2**33),
    "openResult": st.sampled_from([0, 1, 2]) | st.integers(-1, 2**33),
    "inOutType": st.sampled_from([0, 1, 2, 3]) | st.integers(-1, 2**33),
    "openTime": EPOCH_MILLISECONDS,
    "userId": IDS,
    "cardNo": TEXTS,
    "idCardNo": TEXTS,
}


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid record with a few fields replaced by arbitrary JSON or removed."""
    document = copy.deepcopy(BASE)
    mutate_fields(draw, document, KEYS, PLAUSIBLE, replaced=3, removed=1)
    return document


DEVICE_IDS = device_ids(DEVICE)


def events_or_payload_error(raw: RawMessage) -> list[DeviceEvent]:
    return parse_checked(ADAPTER, raw, REASONS, secrets=PERSONAL)


class TestNeverCrashes:
    """Whatever arrives, parse returns events or raises PayloadError, never another exception."""

    test_arbitrary_bytes, test_arbitrary_json = never_crash_tests(
        events_or_payload_error, message, DEVICE_IDS, max_examples=150
    )

    @settings(max_examples=150, deadline=None)
    @given(document=mutated_payloads(), device_id=DEVICE_IDS)
    def test_valid_record_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        for event in events_or_payload_error(
            message(json.dumps(document).encode(), device_id=device_id)
        ):
            assert_absent(PERSONAL, event.model_dump_json())
