"""Specification of the barrier-gate adapter, driven by the payload fixtures beside this file."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adapters.barrier_gate as barrier_gate_module
from adapters.barrier_gate import DIRECTION_CODES, BarrierGateAdapter
from adapters.base import Adapter, RawMessage, stable_event_id
from adapters.plates import JTT415_PLATE_COLORS
from gateway.errors import PayloadError
from schemas.events import DeviceEvent, VehiclePass, device_event_adapter
from tests.adapters.support import (
    MAX_EPOCH_MS,
    MIN_EPOCH_MS,
    PII_DEVICE_IDS,
    PLANTED,
    PSEUDONYMIZER,
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

FIXTURES = Fixtures.of("barrier_gate")
ADAPTER = BarrierGateAdapter(PSEUDONYMIZER)
COMMUNITY = "yida-town"
TOPIC_DEVICE = "YD-PARK-CTRL-1"
TOPIC = f"{COMMUNITY}/barrier-gate/{TOPIC_DEVICE}"
RECEIVED = datetime(2026, 11, 26, 0, 16, 0, tzinfo=UTC)
GATE = "YD-GATE-N1"
REASONS = {
    "malformed_json",
    "schema",
    "unknown_code",
    "bad_time",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
}

GOOD_FIXTURES = [
    "in_blue",
    "out_yellow",
    "in_black",
    "out_white",
    "in_green_new_energy",
    "in_other_colour",
    "in_unlisted_colour",
    "in_no_colour",
    "in_no_plate",
    "out_plate_null",
]
BAD_FIXTURES = {
    "malformed": "malformed_json",
    "array": "malformed_json",
    "missing_ts": "schema",
    "ts_as_string": "schema",
    "unknown_dir": "unknown_code",
    "unknown_dir_number": "unknown_code",
    "missing_dir": "schema",
    "conf_over_one": "schema",
    "wrong_type_lane": "schema",
}
WINDOW_FIXTURE = "ts_out_of_range"
PICTURE_FIXTURE = "inline_picture"
"""A pass kept without its picture (a `data:` URI), tested in `TestPictures`."""
"""A time the adapter reads (1970) and the pipeline's plausibility window refuses."""
IMAGE_DATA = FIXTURES.document("inline_picture")["pic"].split(",", 1)[1]

fixture_bytes = FIXTURES.payload
fixture_json = FIXTURES.document
message = message_factory(
    community=COMMUNITY, topic=TOPIC, device_id=TOPIC_DEVICE, received_at=RECEIVED
)


def vehicle(payload: bytes, *, device_id: str | None = TOPIC_DEVICE) -> VehiclePass:
    events = ADAPTER.parse(message(payload, device_id=device_id))
    assert len(events) == 1
    [event] = events
    assert isinstance(event, VehiclePass)
    return event


def rejection(payload: bytes, *, device_id: str | None = TOPIC_DEVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


def with_fields(name: str = "in_blue", /, **fields: Any) -> bytes:
    return FIXTURES.with_fields(name, **fields)


def without_field(field: str, name: str = "in_blue") -> bytes:
    return FIXTURES.without_fields(name, field)


def at(milliseconds: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=milliseconds)


class TestAdapterContract:
    """The adapter is the `barrier-gate` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert BarrierGateAdapter.dialect == "barrier-gate"

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = BarrierGateAdapter(PSEUDONYMIZER)
        assert adapter.dialect == "barrier-gate"

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_one_read_gives_one_vehicle_pass(self, name: str) -> None:
        assert vehicle(fixture_bytes(name)).kind == "vehicle_pass"


class TestPlateRead:
    """A plate read becomes a vehicle pass with its plate, colour, direction, lane and picture."""

    def test_entry_with_every_field_set(self) -> None:
        assert vehicle(fixture_bytes("in_blue")) == VehiclePass(
            event_id=stable_event_id("barrier-gate", GATE, "record", "YD-N1-20261126-000123"),
            community=COMMUNITY,
            device_id=GATE,
            occurred_at=datetime(2026, 11, 26, 0, 15, 30, 123_000, tzinfo=UTC),
            received_at=RECEIVED,
            dialect="barrier-gate",
            plate_no="湘A12345",
            has_plate=True,
            plate_color="blue",
            vehicle_class=None,
            vehicle_color=None,
            direction="in",
            lane="2",
            confidence=0.97,
            image_url="http://10.43.1.30/pic/20261126/000123.jpg",
        )

    @pytest.mark.parametrize(
        ("name", "plate", "colour", "direction"),
        [
            ("in_blue", "湘A12345", "blue", "in"),
            ("out_yellow", "湘AC8123", "yellow", "out"),
            ("in_black", "粤Z1234港", "black", "in"),
            ("out_white", "湘A1234警", "white", "out"),
            ("in_green_new_energy", "湘AD12345", "green", "in"),
            ("in_other_colour", "湘A23456", "other", "in"),
            ("in_unlisted_colour", "湘A34567", "other", "in"),
            ("in_no_colour", "湘A45678", "unknown", "in"),
            ("in_no_plate", None, "unknown", "in"),
            ("out_plate_null", None, "unknown", "out"),
        ],
    )
    def test_fixture(self, name: str, plate: str | None, colour: str, direction: str) -> None:
        event = vehicle(fixture_bytes(name))
        assert (event.plate_no, event.plate_color, event.direction) == (plate, colour, direction)
        assert event.has_plate is (plate is not None)

    @pytest.mark.parametrize(("code", "colour"), sorted(JTT415_PLATE_COLORS.items()))
    def test_every_colour_code(self, code: int, colour: str) -> None:
        assert vehicle(with_fields(plateColor=code)).plate_color == colour

    @pytest.mark.parametrize("code", [0, 6, 7, 8, 10, 99])
    def test_unlisted_colour_code_is_other(self, code: int) -> None:
        assert vehicle(with_fields(plateColor=code)).plate_color == "other"

    def test_null_colour_is_unknown(self) -> None:
        assert vehicle(with_fields(plateColor=None)).plate_color == "unknown"

    @pytest.mark.parametrize(
        ("code", "direction"), [("in", "in"), ("out", "out"), (1, "in"), (2, "out")]
    )
    def test_direction_codes(self, code: object, direction: str) -> None:
        assert vehicle(with_fields(dir=code)).direction == direction

    @pytest.mark.parametrize("lane", [0, 1, 255])
    def test_lane(self, lane: int) -> None:
        assert vehicle(with_fields(lane=lane)).lane == str(lane)

    @pytest.mark.parametrize("conf", [0, 0.5, 1, 1.0])
    def test_confidence(self, conf: float) -> None:
        assert vehicle(with_fields(conf=conf)).confidence == conf

    def test_optional_fields_may_be_absent(self) -> None:
        document = {"ts": 1795652130123, "plate": "湘A12345", "dir": "out"}
        event = vehicle(encode(document))
        assert (event.device_id, event.lane, event.confidence, event.image_url) == (
            TOPIC_DEVICE,
            None,
            None,
            None,
        )
        assert event.plate_color == "unknown"

    @pytest.mark.parametrize("field", ["lane", "conf", "pic", "recordId", "gateId"])
    def test_optional_fields_may_be_null(self, field: str) -> None:
        assert vehicle(with_fields(**{field: None})).plate_no == "湘A12345"


class TestPlates:
    """Plates are normalised, and unread plates are vehicles without a plate."""

    @pytest.mark.parametrize("raw", ["湘A·12345", "湘a 12345", "湘A-12345", "湘Ａ１２３４５"])
    def test_plate_is_normalised(self, raw: str) -> None:
        assert vehicle(with_fields(plate=raw)).plate_no == "湘A12345"

    @pytest.mark.parametrize("raw", ["未识别", "无牌", "无牌车", "", " ", None])
    def test_placeholder_is_no_plate(self, raw: str | None) -> None:
        event = vehicle(with_fields(plate=raw))
        assert (event.plate_no, event.has_plate) == (None, False)

    def test_plate_is_required_even_when_there_is_none(self) -> None:
        error = rejection(without_field("plate"))
        assert (error.reason, error.detail) == ("schema", "plate: Field required")

    def test_eight_character_new_energy_plate(self) -> None:
        assert vehicle(fixture_bytes("in_green_new_energy")).plate_no == "湘AD12345"


class TestScreenedFields:
    """Gate ids holding a personal number are refused; text that is no plate is dropped."""

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_gate_id_is_refused(self, device_id: str) -> None:
        error = rejection(with_fields(gateId=device_id))
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], *error_texts(error))

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_topic_device_is_refused(self, device_id: str) -> None:
        assert rejection(without_field("gateId"), device_id=device_id).reason == (
            "pii_in_identifier"
        )

    @pytest.mark.parametrize(
        "raw",
        [
            "13812345678",
            "138 1234 5678",
            "<b>湘A1</b>",
            "湘A12345678901",
            "湘A1",
            "Ж123456",
            "湘A试1234",
        ],
    )
    def test_text_that_is_no_plate_is_dropped_and_the_pass_kept(self, raw: str) -> None:
        event = vehicle(with_fields(plate=raw))
        assert (event.plate_no, event.has_plate, event.plate_standard) == (None, False, None)
        assert drops(event) == {"plate_no": "not_a_plate"}
        assert (event.direction, event.plate_color) == ("in", "blue")
        assert_absent([raw, *PLANTED], event.model_dump_json())

    @pytest.mark.parametrize("raw", ["AB1234", "湘A1234O", "粤Z12345港", "HK 1234"])
    def test_plate_text_off_the_grammar_is_kept_as_not_standard(self, raw: str) -> None:
        event = vehicle(with_fields(plate=raw))
        assert (event.has_plate, event.plate_standard, event.dropped_fields) == (True, False, ())
        assert event.plate_no == raw.replace(" ", "")

    @pytest.mark.parametrize("raw", ["湘A·12345", "湘AD12345", "粤Z1234港", "WJ粤1234X"])
    def test_standard_plate_is_marked_standard(self, raw: str) -> None:
        event = vehicle(with_fields(plate=raw))
        assert (event.plate_standard, event.dropped_fields) == (True, ())

    def test_no_plate_is_neither_standard_nor_not(self) -> None:
        assert vehicle(with_fields(plate=None)).plate_standard is None

    def test_a_dropped_plate_is_not_hashed_into_the_event_id(self) -> None:
        planted = vehicle(with_fields("out_yellow", plate="13812345678"))
        assert planted.event_id == vehicle(with_fields("out_yellow", plate="")).event_id


class TestEventTime:
    """`ts` is epoch milliseconds, kept in UTC to the millisecond."""

    def test_milliseconds_are_kept(self) -> None:
        occurred = vehicle(fixture_bytes("in_blue")).occurred_at
        assert occurred == at(1795652130123)
        assert occurred.isoformat() == "2026-11-26T00:15:30.123000+00:00"

    def test_clock_reset_is_converted_for_the_window_to_refuse(self) -> None:
        assert vehicle(fixture_bytes(WINDOW_FIXTURE)).occurred_at == at(1_000_000)

    @pytest.mark.parametrize("ts", [0, -1, MIN_EPOCH_MS, MAX_EPOCH_MS, 946_684_799_999])
    def test_every_calendar_instant_is_converted(self, ts: int) -> None:
        assert vehicle(with_fields(ts=ts)).occurred_at == at(ts)

    @pytest.mark.parametrize("ts", [MIN_EPOCH_MS - 1, MAX_EPOCH_MS + 1, 10**30])
    def test_time_beyond_the_calendar_is_bad_time(self, ts: int) -> None:
        error = rejection(with_fields(ts=ts))
        assert (error.reason, error.detail) == ("bad_time", "ts is out of the calendar's range")

    @pytest.mark.parametrize(
        "ts", ["1795652130123", 1795652130123.0, True, None, [1795652130123], "2026-11-26"]
    )
    def test_time_of_another_type_is_a_schema_error(self, ts: object) -> None:
        error = rejection(with_fields(ts=ts))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "ts")


class TestDeviceIdentity:
    """The payload's `gateId` names the gate; the topic's device code is the fallback."""

    def test_gate_id_wins_over_topic(self) -> None:
        assert vehicle(fixture_bytes("in_blue")).device_id == GATE

    def test_null_gate_id_falls_back_to_the_topic(self) -> None:
        assert vehicle(with_fields(gateId=None)).device_id == TOPIC_DEVICE

    def test_empty_gate_id_is_a_schema_error(self) -> None:
        assert rejection(with_fields(gateId="")).reason == "schema"

    def test_absent_gate_id_falls_back_to_the_topic(self) -> None:
        assert vehicle(fixture_bytes("out_plate_null")).device_id == TOPIC_DEVICE

    def test_no_device_anywhere_is_refused(self) -> None:
        error = rejection(fixture_bytes("out_plate_null"), device_id=None)
        assert (error.reason, error.detail) == (
            "no_device_id",
            "neither the payload's gateId nor the topic names the gate",
        )

    def test_gate_id_is_enough_without_a_topic_device(self) -> None:
        assert vehicle(fixture_bytes("in_blue"), device_id=None).device_id == GATE

    @pytest.mark.parametrize("value", ["G" * 65, "gate 1", "闸口1", "a/b", 1])
    def test_malformed_gate_id_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields(gateId=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "gateId")

    def test_overlong_topic_device_is_refused(self) -> None:
        error = rejection(fixture_bytes("out_plate_null"), device_id="D" * 65)
        assert error.reason == "bad_device_id"


class TestEventIds:
    """The id is the controller's record number, else the read itself; redelivery reproduces it."""

    def test_record_id(self) -> None:
        expected = stable_event_id("barrier-gate", GATE, "record", "YD-N1-20261126-000123")
        assert vehicle(fixture_bytes("in_blue")).event_id == expected

    def test_without_record_id_the_read_is_the_id(self) -> None:
        expected = stable_event_id("barrier-gate", GATE, "read", "1795652190123", "1", "湘AC8123")
        assert vehicle(fixture_bytes("out_yellow")).event_id == expected

    def test_no_plate_without_record_id(self) -> None:
        payload = without_field("recordId", "in_no_plate")
        expected = stable_event_id("barrier-gate", GATE, "read", "1795652610123", "1", "")
        assert vehicle(payload).event_id == expected

    def test_redelivery_gives_the_same_id(self) -> None:
        payload = fixture_bytes("out_yellow")
        first = ADAPTER.parse(message(payload))[0]
        later = ADAPTER.parse(message(payload, received_at=RECEIVED + timedelta(hours=1)))[0]
        assert first.event_id == later.event_id

    def test_reformatted_payload_keeps_the_id(self) -> None:
        pretty = json.dumps(fixture_json("out_yellow"), indent=2).encode()
        assert vehicle(pretty).event_id == vehicle(fixture_bytes("out_yellow")).event_id

    def test_plate_spelling_does_not_change_the_id(self) -> None:
        assert vehicle(with_fields("out_yellow", plate="湘A·C8123")).event_id == (
            vehicle(fixture_bytes("out_yellow")).event_id
        )

    def test_two_unread_plates_in_one_millisecond_on_two_lanes_differ(self) -> None:
        first = vehicle(with_fields("out_yellow", plate="", lane=1))
        second = vehicle(with_fields("out_yellow", plate="", lane=2))
        assert first.event_id != second.event_id

    def test_record_id_on_another_gate_differs(self) -> None:
        other = vehicle(with_fields(gateId="YD-GATE-S1"))
        assert other.event_id != vehicle(fixture_bytes("in_blue")).event_id

    def test_record_and_read_ids_never_collide(self) -> None:
        by_record = vehicle(with_fields("out_yellow", recordId="1795652190123"))
        assert by_record.event_id != vehicle(fixture_bytes("out_yellow")).event_id

    def test_all_fixtures_have_distinct_ids(self) -> None:
        ids = {vehicle(fixture_bytes(name)).event_id for name in GOOD_FIXTURES}
        assert len(ids) == len(GOOD_FIXTURES)


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_envelope(self, name: str) -> None:
        event = vehicle(fixture_bytes(name))
        assert (event.community, event.received_at, event.dialect) == (
            COMMUNITY,
            RECEIVED,
            "barrier-gate",
        )
        assert event.occurred_at.utcoffset() == timedelta(0)
        assert len(event.event_id) == 32

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        event = vehicle(fixture_bytes(name))
        assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestPictures:
    """Pictures are URLs judged by the event's screen: an unusable one is dropped and listed,
    the pass kept; inline image data is never kept or echoed."""

    def test_data_uri_is_dropped_and_the_pass_kept(self) -> None:
        event = vehicle(fixture_bytes("inline_picture"))
        assert (event.image_url, drops(event)) == (None, {"image_url": "not_a_url"})
        assert IMAGE_DATA[:40] not in event.model_dump_json()

    @pytest.mark.parametrize(
        "pic", [IMAGE_DATA, "/pic/1.jpg", "file:///pic/1.jpg", "ftp://10.0.0.1/a.jpg"]
    )
    def test_non_http_url_is_dropped_as_not_a_url(self, pic: str) -> None:
        event = vehicle(with_fields(pic=pic))
        assert (event.image_url, drops(event)) == (None, {"image_url": "not_a_url"})

    def test_overlong_url_is_dropped_as_too_long(self) -> None:
        event = vehicle(with_fields(pic="http://x/" + "a" * 2048))
        assert (event.image_url, drops(event)) == (None, {"image_url": "too_long"})

    def test_empty_pic_is_no_picture(self) -> None:
        event = vehicle(with_fields(pic=""))
        assert (event.image_url, drops(event)) == (None, {})

    def test_login_and_query_are_not_stored(self) -> None:
        event = vehicle(with_fields(pic="http://admin:secret@10.0.0.1/v.jpg?sig=1&t=2#f"))
        assert (event.image_url, drops(event)) == ("http://10.0.0.1/v.jpg", {})

    def test_a_name_in_the_path_drops_the_picture_and_keeps_the_pass(self) -> None:
        event = vehicle(with_fields(pic="http://10.0.0.1/欧阳锋.jpg"))
        assert (event.image_url, drops(event)) == (None, {"image_url": "non_ascii_path"})

    def test_a_space_in_the_path_is_percent_encoded(self) -> None:
        event = vehicle(with_fields(pic="http://x/a 1.jpg"))
        assert (event.image_url, drops(event)) == ("http://x/a%201.jpg", {})

    @pytest.mark.parametrize("field", ["picData", "image", "plateImage", "Data"])
    def test_inline_image_in_another_field_is_ignored(self, field: str) -> None:
        event = vehicle(with_fields(**{field: IMAGE_DATA * 100}))
        assert IMAGE_DATA[:40] not in event.model_dump_json()


class TestRejectedPayloads:
    """A payload that cannot become an event raises PayloadError with a precise reason."""

    @pytest.mark.parametrize(("name", "reason"), sorted(BAD_FIXTURES.items()))
    def test_bad_fixture(self, name: str, reason: str) -> None:
        assert rejection(fixture_bytes(name)).reason == reason

    def test_every_fixture_is_covered(self) -> None:
        assert sorted([*BAD_FIXTURES, *GOOD_FIXTURES, WINDOW_FIXTURE, PICTURE_FIXTURE]) == sorted(
            path.stem for path in FIXTURES.folder.glob("*.json")
        )

    @pytest.mark.parametrize(
        ("name", "detail"),
        [
            ("missing_ts", "ts: Field required"),
            ("missing_dir", "dir: Field required"),
            ("ts_as_string", "ts: Input should be a valid integer"),
            ("conf_over_one", "conf: Input should be less than or equal to 1"),
            ("wrong_type_lane", "lane: Input should be a valid integer"),
            ("array", "expected a JSON object, got an array"),
        ],
    )
    def test_detail(self, name: str, detail: str) -> None:
        assert rejection(fixture_bytes(name)).detail == detail

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"null",
            b"1795652130123",
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b'{"ts": ' + b"9" * 5000 + b"}",
        ],
        ids=[
            "empty",
            "null",
            "number",
            "not-utf8",
            "nested-arrays",
            "nested-objects",
            "huge-number",
        ],
    )
    def test_junk_is_malformed_json(self, payload: bytes) -> None:
        assert rejection(payload).reason == "malformed_json"

    def test_deeply_nested_vendor_field_is_ignored(self) -> None:
        junk: Any = 1
        for _ in range(200):
            junk = {"x": [junk]}
        assert vehicle(with_fields(extra=junk)).plate_no == "湘A12345"

    def test_huge_array_in_a_used_field_is_a_schema_error(self) -> None:
        error = rejection(with_fields(plate=[0] * 100_000))
        assert error.reason == "schema"
        assert len(error.detail) < 200

    def test_huge_array_in_a_vendor_field_is_ignored(self) -> None:
        assert vehicle(with_fields(history=[0] * 100_000)).plate_no == "湘A12345"

    def test_many_errors_are_summarised(self) -> None:
        payload = with_fields(ts="x", plate=1, dir=None, lane="x", conf="x", pic=1, gateId=1)
        error = rejection(payload)
        assert error.reason == "schema"
        assert error.detail.endswith("(+2 more)")


class TestSchemaValidation:
    """Controller extras are ignored, but a field we use with the wrong type is an error."""

    def test_extra_fields_are_ignored(self) -> None:
        assert vehicle(with_fields(barrierOpened=True, fee=5.5, owner={"x": 1})).lane == "2"

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("plate", 12345),
            ("plate", "湘" * 33),
            ("plate", "湘A\ud80012345"),
            ("plateColor", "1"),
            ("plateColor", 1.0),
            ("plateColor", True),
            ("plateColor", 100),
            ("plateColor", -1),
            ("dir", True),
            ("dir", 1.0),
            ("dir", ["in"]),
            ("dir", None),
            ("lane", -1),
            ("lane", 256),
            ("lane", 2.5),
            ("conf", -0.1),
            ("conf", 1.01),
            ("conf", "0.9"),
            ("conf", True),
            ("pic", 1),
            ("recordId", 123),
            ("recordId", ""),
            ("recordId", "r" * 65),
            ("recordId", "记录1"),
        ],
    )
    def test_wrong_field_is_a_schema_error(self, field: str, value: object) -> None:
        error = rejection(with_fields(**{field: value}))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", field)


class TestUnknownCodes:
    """A direction outside the table is refused, echoing it only when it is safe to."""

    def test_table_is_exactly_the_documented_codes(self) -> None:
        assert dict(DIRECTION_CODES) == {"in": "in", "out": "out", 1: "in", 2: "out"}

    @pytest.mark.parametrize(
        ("code", "shown"),
        [
            ("sideways", "'sideways'"),
            ("IN", "'IN'"),
            (0, "0"),
            (3, "3"),
            (-2, "-2"),
            (10**7, "(a large number)"),
            ("", "(a text value)"),
            ("进", "(a text value)"),
            ("in ", "(a text value)"),
            ("x" * 17, "(a text value)"),
            ("430112198807150036", "(a text value)"),
        ],
    )
    def test_unknown_direction(self, code: object, shown: str) -> None:
        error = rejection(with_fields(dir=code))
        assert (error.reason, error.detail) == ("unknown_code", f"dir {shown} is not mapped")

    def test_huge_direction_number_is_not_echoed(self) -> None:
        error = rejection(with_fields(dir=10**100))
        assert error.detail == "dir (a large number) is not mapped"


class TestFastPath:
    """A valid read is validated in one pass from its bytes, never decoded a second time."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_valid_fixture_skips_the_slow_path(
        self, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def never(payload: bytes) -> dict[str, object]:
            raise AssertionError("a valid read took the slow path")

        monkeypatch.setattr(barrier_gate_module, "decode_json_object", never)
        assert vehicle(fixture_bytes(name)).dialect == "barrier-gate"


# Property tests: whatever arrives, the adapter answers with an event or a PayloadError.

TEXTS = st.text(max_size=20) | st.sampled_from(["\ud800", "ok\udfff", ""])
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "ts": st.integers(-1, 5_000_000_000_000)
    | st.sampled_from([946_684_800_000, 4_102_444_800_000]),
    "plate": st.sampled_from(["湘A12345", "未识别", "湘AD12345", "", None]) | TEXTS,
    "plateColor": st.integers(-1, 100),
    "dir": st.sampled_from(["in", "out", 1, 2, 0, 3, "IN"]) | TEXTS | st.integers(),
    "lane": st.integers(-1, 300),
    "conf": st.floats(-0.5, 1.5) | st.integers(-1, 2),
    "pic": st.sampled_from(["http://x/a.jpg", "", "data:image/jpeg;base64," + IMAGE_DATA]) | TEXTS,
    "recordId": TEXTS | st.sampled_from(["r-1", "x" * 64, "x" * 65]),
    "gateId": TEXTS | st.sampled_from(["G-1", "x" * 64, "x" * 65]),
}
BASE = fixture_json("in_blue")
KEYS = sorted(PLAUSIBLE)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid read with a few fields replaced by arbitrary JSON or removed."""
    document = copy.deepcopy(BASE)
    mutate_fields(draw, document, KEYS, PLAUSIBLE, replaced=4, removed=2)
    return document


DEVICE_IDS = device_ids(TOPIC_DEVICE)


def events_or_payload_error(raw: RawMessage) -> list[DeviceEvent]:
    return parse_checked(ADAPTER, raw, REASONS, secrets=[IMAGE_DATA[:40]], count=1)


class TestNeverCrashes:
    """Whatever arrives, parse returns an event or raises PayloadError, never another exception."""

    test_arbitrary_bytes, test_arbitrary_json = never_crash_tests(
        events_or_payload_error, message, DEVICE_IDS, max_examples=150
    )

    @settings(max_examples=150, deadline=None)
    @given(document=mutated_payloads(), device_id=st.one_of(st.just(TOPIC_DEVICE), st.none()))
    def test_valid_read_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        events_or_payload_error(message(encode(document), device_id=device_id))
