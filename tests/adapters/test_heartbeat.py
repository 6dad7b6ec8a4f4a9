"""Specification of the heartbeat and last-will adapter, driven by the fixtures beside it."""

import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, RawMessage, stable_event_id
from adapters.heartbeat import STATUSES, HeartbeatAdapter
from gateway.errors import PayloadError
from schemas.events import DeviceEvent, DeviceStatusEvent, device_event_adapter
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
    encode,
    error_texts,
    message_factory,
    mutate_fields,
    never_crash_tests,
    parse_checked,
    rejected,
)

FIXTURES = Fixtures.of("heartbeat")
ADAPTER = HeartbeatAdapter(PSEUDONYMIZER)
COMMUNITY = "yida"
DEVICE = "34020000001320000001"
TOPIC = f"{COMMUNITY}/status/{DEVICE}"
RECEIVED = datetime(2026, 11, 26, 0, 5, 0, 500_000, tzinfo=UTC)
REASONS = {
    "malformed_json",
    "schema",
    "unknown_code",
    "bad_time",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
}

JSON_FIXTURES = ["heartbeat", "online", "offline", "without_ts", "with_device_id"]
WORD_FIXTURES = ["last_will_offline", "last_will_online"]


def fixture_bytes(name: str) -> bytes:
    return FIXTURES.payload(name, ".txt" if name.startswith("last_will") else ".json")


fixture_json = FIXTURES.document
with_fields = FIXTURES.with_fields
message = message_factory(community=COMMUNITY, topic=TOPIC, device_id=DEVICE, received_at=RECEIVED)


def status(
    payload: bytes,
    *,
    device_id: str | None = DEVICE,
    received_at: datetime = RECEIVED,
    topic: str = TOPIC,
) -> DeviceStatusEvent:
    events = ADAPTER.parse(
        message(payload, device_id=device_id, received_at=received_at, topic=topic)
    )
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, DeviceStatusEvent)
    return event


def rejection(payload: bytes, *, device_id: str | None = DEVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


class TestAdapterContract:
    """The adapter is the `heartbeat` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert HeartbeatAdapter.dialect == "heartbeat"

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = HeartbeatAdapter(PSEUDONYMIZER)
        assert adapter.dialect == "heartbeat"

    def test_one_message_gives_one_event(self) -> None:
        assert len(ADAPTER.parse(message(fixture_bytes("heartbeat")))) == 1


class TestJsonStatus:
    """A JSON body gives its status, device time, firmware and address."""

    def test_heartbeat_with_every_field(self) -> None:
        assert status(fixture_bytes("heartbeat")) == DeviceStatusEvent(
            event_id=stable_event_id("heartbeat", DEVICE, "heartbeat", "ts", "1795651200000"),
            community=COMMUNITY,
            device_id=DEVICE,
            occurred_at=datetime(2026, 11, 26, 0, 0, tzinfo=UTC),
            received_at=RECEIVED,
            dialect="heartbeat",
            status="heartbeat",
            firmware="V5.7.1",
            ip="10.1.2.3",
        )

    @pytest.mark.parametrize(
        ("name", "expected", "occurred"),
        [
            ("online", "online", datetime(2026, 11, 25, 23, 40, tzinfo=UTC)),
            ("offline", "offline", datetime(2026, 11, 26, 0, 5, tzinfo=UTC)),
            ("with_device_id", "heartbeat", datetime(2026, 11, 26, 0, 0, tzinfo=UTC)),
        ],
    )
    def test_fixture(self, name: str, expected: str, occurred: datetime) -> None:
        event = status(fixture_bytes(name))
        assert (event.status, event.occurred_at) == (expected, occurred)

    def test_graceful_offline_has_no_firmware_or_address(self) -> None:
        event = status(fixture_bytes("offline"))
        assert (event.firmware, event.ip) == (None, None)

    def test_statuses_table(self) -> None:
        assert dict(STATUSES) == {
            "online": "online",
            "offline": "offline",
            "heartbeat": "heartbeat",
            "keepalive": "heartbeat",
        }

    @pytest.mark.parametrize(("word", "expected"), sorted(STATUSES.items()))
    def test_every_status_word_parses(self, word: str, expected: str) -> None:
        assert status(with_fields("heartbeat", status=word)).status == expected

    @pytest.mark.parametrize(
        ("word", "expected"),
        [("ONLINE", "online"), (" Offline ", "offline"), ("KeepAlive", "heartbeat")],
    )
    def test_case_and_surrounding_space_are_ignored(self, word: str, expected: str) -> None:
        assert status(with_fields("heartbeat", status=word)).status == expected

    def test_unknown_status_is_refused_by_name(self) -> None:
        error = rejection(fixture_bytes("unknown_status"))
        assert (error.reason, error.detail) == ("unknown_code", "status 'rebooting' is not mapped")

    @pytest.mark.parametrize("word", ["", "张三", "card3188542196", "on line", "x" * 33, "a\nb"])
    def test_unsafe_unknown_status_is_not_echoed(self, word: str) -> None:
        error = rejection(with_fields("heartbeat", status=word))
        assert (error.reason, error.detail) == ("unknown_code", "status is not a known status")


class TestLastWill:
    """Bare-word bodies, as devices set their MQTT last will, are statuses timed on receipt."""

    def test_offline_will(self) -> None:
        assert status(fixture_bytes("last_will_offline")) == DeviceStatusEvent(
            event_id=stable_event_id(
                "heartbeat", DEVICE, "offline", "received", RECEIVED.isoformat()
            ),
            community=COMMUNITY,
            device_id=DEVICE,
            occurred_at=RECEIVED,
            received_at=RECEIVED,
            dialect="heartbeat",
            status="offline",
            time_source="arrival",
        )

    def test_online_birth_message(self) -> None:
        event = status(fixture_bytes("last_will_online"))
        assert (event.status, event.occurred_at) == ("online", RECEIVED)

    @pytest.mark.parametrize(
        ("payload", "expected"),
        [
            (b"OFFLINE", "offline"),
            (b"Offline\n", "offline"),
            (b"  online\r\n", "online"),
            (b"heartbeat", "heartbeat"),
            (b"keepalive", "heartbeat"),
        ],
    )
    def test_case_and_white_space_are_ignored(self, payload: bytes, expected: str) -> None:
        assert status(payload).status == expected

    @pytest.mark.parametrize("word", [b"rebooting", b"true", b"null", b"NaN", b"lost-conn"])
    def test_unknown_word_is_refused_by_name(self, word: bytes) -> None:
        error = rejection(word)
        assert (error.reason, error.detail) == (
            "unknown_code",
            f"bare-word status {word.decode()!r} is not mapped",
        )

    @pytest.mark.parametrize(
        ("payload", "reason"),
        [
            (b"1", "malformed_json"),
            (b"off line", "malformed_json"),
            (b"offline!", "malformed_json"),
            (b'"offline"', "malformed_json"),
            (b"x" * 33, "malformed_json"),
            ("离线".encode(), "malformed_json"),
        ],
    )
    def test_anything_but_a_plain_word_is_not_a_will(self, payload: bytes, reason: str) -> None:
        assert rejection(payload).reason == reason

    def test_will_needs_the_topic_to_name_the_device(self) -> None:
        error = rejection(fixture_bytes("last_will_offline"), device_id=None)
        assert (error.reason, error.detail) == (
            "no_device_id",
            "neither the topic nor the payload names the device",
        )


class TestAnyTopic:
    """The topic's shape is never read: routing has already bound it and named the device."""

    @pytest.mark.parametrize(
        "topic",
        [
            f"yida/status/{DEVICE}",
            f"yida/heartbeat/{DEVICE}",
            f"devices/{DEVICE}/lwt",
            "tele/gate-1/LWT",
            "x",
        ],
    )
    def test_topic_does_not_matter(self, topic: str) -> None:
        for name in ("heartbeat", "last_will_offline"):
            event = status(fixture_bytes(name), topic=topic)
            assert event.device_id == DEVICE


class TestDeviceIdentity:
    """The routed device names the event; the payload's deviceId is only the fallback."""

    def test_topic_wins_over_payload(self) -> None:
        assert status(fixture_bytes("with_device_id")).device_id == DEVICE

    def test_payload_device_id_when_routing_has_none(self) -> None:
        event = status(fixture_bytes("with_device_id"), device_id=None)
        assert event.device_id == "34020000001320000009"

    def test_no_device_id_anywhere_is_refused(self) -> None:
        assert rejection(fixture_bytes("heartbeat"), device_id=None).reason == "no_device_id"

    def test_empty_payload_device_id_counts_as_none(self) -> None:
        payload = with_fields("heartbeat", deviceId="")
        assert rejection(payload, device_id=None).reason == "no_device_id"

    def test_overlong_device_id_is_refused(self) -> None:
        payload = with_fields("heartbeat", deviceId="D" * 65)
        assert rejection(payload, device_id=None).reason == "bad_device_id"
        assert rejection(b"offline", device_id="D" * 65).reason == "bad_device_id"

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_payload_device_id_is_refused(self, device_id: str) -> None:
        error = rejection(with_fields("heartbeat", deviceId=device_id), device_id=None)
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], *error_texts(error))

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_topic_device_is_refused(self, device_id: str) -> None:
        assert rejection(b"offline", device_id=device_id).reason == "pii_in_identifier"
        assert rejection(fixture_bytes("heartbeat"), device_id=device_id).reason == (
            "pii_in_identifier"
        )

    @pytest.mark.parametrize("value", [34020000001320000009, "D\x00", "\ud800", ["D"]])
    def test_unusable_payload_device_id_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("heartbeat", deviceId=value), device_id=None)
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "deviceId")


class TestEventTime:
    """`ts` is epoch milliseconds; without it the receipt time stands in."""

    def test_ts_in_utc(self) -> None:
        occurred = status(fixture_bytes("heartbeat")).occurred_at
        assert occurred == datetime(2026, 11, 26, tzinfo=UTC)
        assert occurred.utcoffset() == timedelta(0)

    @pytest.mark.parametrize("document", [{"status": "online"}, {"status": "online", "ts": None}])
    def test_without_ts_the_receipt_time_is_used(self, document: dict[str, Any]) -> None:
        event = status(encode(document))
        assert (event.occurred_at, event.time_source) == (RECEIVED, "arrival")

    def test_with_ts_the_time_is_the_device_s(self) -> None:
        assert status(fixture_bytes("heartbeat")).time_source == "device"

    def test_seconds_are_read_as_milliseconds_for_the_window_to_refuse(self) -> None:
        occurred = status(fixture_bytes("ts_in_seconds")).occurred_at
        assert occurred == EPOCH + timedelta(milliseconds=1_795_651_200)

    @pytest.mark.parametrize("value", [0, -1, MIN_EPOCH_MS, MAX_EPOCH_MS])
    def test_every_calendar_instant_is_converted(self, value: int) -> None:
        occurred = status(with_fields("heartbeat", ts=value)).occurred_at
        assert occurred == EPOCH + timedelta(milliseconds=value)

    @pytest.mark.parametrize("value", [MIN_EPOCH_MS - 1, MAX_EPOCH_MS + 1, 10**30])
    def test_ts_beyond_the_calendar_is_bad_time(self, value: int) -> None:
        error = rejection(with_fields("heartbeat", ts=value))
        assert (error.reason, error.detail) == ("bad_time", "ts is out of the calendar's range")

    @pytest.mark.parametrize("value", ["1795651200000", 1795651200000.0, True, [1]])
    def test_ts_of_another_type_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("heartbeat", ts=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "ts")


class TestEventIds:
    """Ids are device, status and ts; without ts, the receipt time, so later wills are kept."""

    def test_repeated_heartbeat_with_the_same_ts_has_the_same_id(self) -> None:
        payload = fixture_bytes("heartbeat")
        later = status(payload, received_at=RECEIVED + timedelta(minutes=1))
        assert later.event_id == status(payload).event_id

    def test_reserialised_heartbeat_keeps_the_id(self) -> None:
        compact = json.dumps(fixture_json("heartbeat"), separators=(",", ":")).encode()
        assert status(compact).event_id == status(fixture_bytes("heartbeat")).event_id

    def test_firmware_and_address_do_not_change_the_id(self) -> None:
        other = status(with_fields("heartbeat", firmware="V5.7.2", ip="10.1.2.4"))
        assert other.event_id == status(fixture_bytes("heartbeat")).event_id

    def test_next_heartbeat_has_another_id(self) -> None:
        other = status(with_fields("heartbeat", ts=1795651260000))
        assert other.event_id != status(fixture_bytes("heartbeat")).event_id

    def test_another_status_at_the_same_ts_has_another_id(self) -> None:
        other = status(with_fields("heartbeat", status="online"))
        assert other.event_id != status(fixture_bytes("heartbeat")).event_id

    def test_another_device_has_another_id(self) -> None:
        payload = fixture_bytes("heartbeat")
        assert status(payload, device_id="D2").event_id != status(payload).event_id

    def test_a_later_will_from_the_same_device_is_a_new_event(self) -> None:
        payload = fixture_bytes("last_will_offline")
        later = status(payload, received_at=RECEIVED + timedelta(days=1))
        assert later.event_id != status(payload).event_id
        assert later.occurred_at == RECEIVED + timedelta(days=1)

    def test_bare_word_and_json_without_ts_agree(self) -> None:
        assert status(b"offline").event_id == status(b'{"status": "offline"}').event_id

    def test_all_fixtures_have_distinct_ids(self) -> None:
        names = [*JSON_FIXTURES, *WORD_FIXTURES]
        ids = {status(fixture_bytes(name)).event_id for name in names}
        assert len(ids) == len(names) - 1  # with_device_id is the heartbeat fixture's twin


class TestFirmwareAndAddress:
    """Firmware is a name (trimmed, dropped when bad); only a real IP address is kept, canonical."""

    @pytest.mark.parametrize(
        ("firmware", "kept"),
        [
            ("V5.7.1", "V5.7.1"),
            ("V2.1.0 build 241015", "V2.1.0 build 241015"),
            (" V5.7.1\r\n", "V5.7.1"),
            ("", None),
            ("\t", None),
        ],
    )
    def test_firmware(self, firmware: str, kept: str | None) -> None:
        event = status(with_fields("heartbeat", firmware=firmware))
        assert (event.firmware, event.dropped_fields) == (kept, ())

    @pytest.mark.parametrize(
        ("firmware", "reason"),
        [
            (PII_NAMES[0], "pii_in_identifier"),
            (MARKUP_NAMES[0], "markup"),
            ("V5.7.1\n\x00build 1", "not_printable"),
            ("v" * 80, "too_long"),
        ],
    )
    def test_bad_firmware_is_dropped_and_the_status_kept(self, firmware: str, reason: str) -> None:
        event = status(with_fields("heartbeat", firmware=firmware))
        assert (event.firmware, drops(event), event.status) == (
            None,
            {"firmware": reason},
            "heartbeat",
        )

    @pytest.mark.parametrize(
        ("ip", "kept"),
        [
            ("10.1.2.3", "10.1.2.3"),
            (" 10.1.2.3 ", "10.1.2.3"),
            ("FD00::0001", "fd00::1"),
            ("fe80::1%eth0", "fe80::1"),
            ("fe80::1%\x00", "fe80::1"),
            ("", None),
        ],
    )
    def test_address_is_kept_canonical(self, ip: str, kept: str | None) -> None:
        event = status(with_fields("heartbeat", ip=ip))
        assert (event.ip, event.dropped_fields) == (kept, ())

    @pytest.mark.parametrize(
        ("ip", "reason"),
        [
            ("139.1234.5678", "pii_in_identifier"),
            ("tel:13912345678", "pii_in_identifier"),
            ("10.1.2.300", "not_an_ip"),
            ("010.1.2.3", "not_an_ip"),
            ("10.1.2.3:8000", "not_an_ip"),
            ("gateway.local", "not_an_ip"),
        ],
    )
    def test_bad_address_is_dropped_and_listed(self, ip: str, reason: str) -> None:
        event = status(with_fields("heartbeat", ip=ip))
        assert (event.ip, drops(event), event.status) == (None, {"ip": reason}, "heartbeat")

    def test_without_ts_fixture(self) -> None:
        event = status(fixture_bytes("without_ts"))
        assert (event.status, event.firmware, event.ip) == (
            "heartbeat",
            "V2.1.0 build 241015",
            "fe80::1",
        )
        assert event.occurred_at == RECEIVED

    @pytest.mark.parametrize("field", ["firmware", "ip"])
    @pytest.mark.parametrize("value", [571, ["V5"], {"v": 5}, True])
    def test_wrong_type_is_a_schema_error(self, field: str, value: object) -> None:
        error = rejection(with_fields("heartbeat", **{field: value}))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", field)


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", [*JSON_FIXTURES, *WORD_FIXTURES])
    def test_envelope(self, name: str) -> None:
        event = status(fixture_bytes(name))
        assert (event.community, event.received_at, event.dialect, event.device_id) == (
            COMMUNITY,
            RECEIVED,
            "heartbeat",
            DEVICE,
        )
        assert event.kind == "device_status"
        assert len(event.event_id) == 32

    @pytest.mark.parametrize("name", [*JSON_FIXTURES, *WORD_FIXTURES])
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        event = status(fixture_bytes(name))
        assert device_event_adapter.validate_json(event.model_dump_json()) == event


class TestRejectedPayloads:
    """A body that is neither a status object nor a status word is refused, precisely."""

    @pytest.mark.parametrize(
        ("name", "reason", "detail"),
        [
            ("malformed", "malformed_json", "not UTF-8 JSON (JSONDecodeError)"),
            ("array", "malformed_json", "expected a JSON object, got an array"),
            ("missing_status", "schema", "status: Field required"),
            ("status_as_number", "schema", "status: Input should be a valid string"),
            ("ts_as_string", "schema", "ts: Input should be a valid integer"),
            ("unknown_status", "unknown_code", "status 'rebooting' is not mapped"),
        ],
    )
    def test_bad_fixture(self, name: str, reason: str, detail: str) -> None:
        error = rejection(fixture_bytes(name))
        assert (error.reason, error.detail) == (reason, detail)

    def test_overlong_status_is_a_schema_error(self) -> None:
        error = rejection(with_fields("heartbeat", status="x" * 65))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "status")

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"   ",
            b"[]",
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"a":' * 100_000,
            b"[" + b"0," * 1_000_000 + b"0]",
            b'{"ts": ' + b"9" * 5000 + b"}",
        ],
        ids=[
            "empty",
            "blank",
            "array",
            "not-utf8",
            "nested-arrays",
            "nested-objects",
            "huge-array",
            "huge-number",
        ],
    )
    def test_junk_is_malformed_json(self, payload: bytes) -> None:
        assert rejection(payload).reason == "malformed_json"

    def test_json_null_is_a_word_not_a_document(self) -> None:
        error = rejection(b"null")
        assert (error.reason, error.detail) == (
            "unknown_code",
            "bare-word status 'null' is not mapped",
        )

    def test_huge_array_in_a_used_field_is_a_schema_error(self) -> None:
        error = rejection(with_fields("heartbeat", firmware=[0] * 100_000))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "firmware")

    def test_huge_array_and_deep_nesting_in_vendor_fields_are_ignored(self) -> None:
        nested: Any = 0
        for _ in range(200):
            nested = {"n": nested}
        payload = with_fields("heartbeat", sensors=[0] * 100_000, diagnostics=nested)
        assert status(payload).status == "heartbeat"


# Property tests: whatever arrives, the adapter answers with events or a PayloadError.

BASE = fixture_json("with_device_id")
KEYS = sorted(BASE)
TEXTS = st.text(max_size=20) | st.sampled_from(["\ud800", "ok\udfff", "a\x00b", ""])
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from(sorted(STATUSES)) | TEXTS,
    "ts": EPOCH_MILLISECONDS,
    "deviceId": TEXTS | st.text(min_size=60, max_size=70),
    "firmware": TEXTS,
    "ip": TEXTS | st.ip_addresses().map(str),
}
WORDS = st.sampled_from([b"offline", b"online", b"heartbeat", b"OFFLINE\n"]) | st.from_regex(
    rb"\A\s*[A-Za-z][A-Za-z_-]{0,40}\s*\Z"
)


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid status body with a few fields replaced by arbitrary JSON or removed."""
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
    @given(payload=WORDS, device_id=DEVICE_IDS)
    def test_arbitrary_words(self, payload: bytes, device_id: str | None) -> None:
        for event in events_or_payload_error(message(payload, device_id=device_id)):
            assert event.occurred_at == RECEIVED

    @settings(max_examples=150, deadline=None)
    @given(document=mutated_payloads(), device_id=DEVICE_IDS)
    def test_valid_body_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        for event in events_or_payload_error(
            message(json.dumps(document).encode(), device_id=device_id)
        ):
            assert isinstance(event, DeviceStatusEvent)
            if event.firmware is not None:
                assert 0 < len(event.firmware) <= 64
                assert not any(char < " " for char in event.firmware)
