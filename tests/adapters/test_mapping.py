"""Specification of mapping dialects (`adapters.mapping`): JSON dialects described in config.

The two example dialects in `config/` are checked against the coded adapters they mirror:
`acme-door` against `hik-isapi` on the Hikvision fixtures, `parkline-gate` against
`barrier-gate` on the barrier-format fixtures beside this file. Events are compared on every
field except `event_id` and `dialect`: both are namespaced by the dialect's name
(`stable_event_id(dialect, ...)`), so two dialects can never produce one id, and must not (two
dialects' events colliding in deduplication would silently drop one). The ids are checked to
be built from the same material instead.
"""

import contextlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.barrier_gate import BarrierGateAdapter
from adapters.base import Adapter, RawMessage, payload_event_id, stable_event_id
from adapters.hik_isapi import HikIsapiAdapter
from adapters.mapping import (
    MappingAdapter,
    MappingSpec,
    mapping_adapter,
    parse_path,
    parse_template,
    parse_topic_template,
)
from gateway.config import load_config
from gateway.errors import PayloadError
from schemas.events import (
    AccessEvent,
    DeviceEvent,
    DoorStateEvent,
    VehiclePass,
    VisitorEvent,
)
from schemas.privacy import Pseudonymizer, credential_ref
from tests.adapters.support import (
    MARKUP_NAMES,
    PII_DEVICE_IDS,
    PII_NAMES,
    PLANTED,
    assert_absent,
    drops,
)

PSEUDONYMIZER = Pseudonymizer("test-key-0123456789abcdef")
ROOT = Path(__file__).parents[2]
HIK_FIXTURES = Path(__file__).parent / "fixtures" / "hik_isapi"
PARKLINE_FIXTURES = Path(__file__).parent / "fixtures" / "mapping" / "parkline"
COMMUNITY = "yida"
DEVICE = "43011200001320000017"
RECEIVED = datetime(2026, 11, 25, 23, 58, 13, 500_000, tzinfo=UTC)
NOT_COMPARED = {"event_id", "dialect"}

HIK_GOOD = [
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
    "door_opened",
    "door_closed",
    "door_forced_open",
    "door_held_open",
    "card_granted_with_device_id",
]
PARKLINE_GOOD = sorted(
    path.stem for path in PARKLINE_FIXTURES.glob("*.json") if "bad" not in path.stem
)


def example(file_name: str) -> MappingSpec:
    [spec] = load_config(ROOT / "config" / file_name).dialects
    return spec


ACME = mapping_adapter(example("mapping-acme-door.toml"))(PSEUDONYMIZER)
PARKLINE = mapping_adapter(example("mapping-parkline-gate.toml"))(PSEUDONYMIZER)
HIK = HikIsapiAdapter(PSEUDONYMIZER)
BARRIER = BarrierGateAdapter(PSEUDONYMIZER)


def message(
    payload: bytes | dict[str, Any],
    *,
    topic: str = f"acme/{COMMUNITY}/{DEVICE}/event",
    device_id: str | None = DEVICE,
    received_at: datetime = RECEIVED,
) -> RawMessage:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return RawMessage(
        topic=topic,
        payload=body,
        received_at=received_at,
        community=COMMUNITY,
        device_id=device_id,
    )


def parse_one(adapter: Adapter, payload: bytes | dict[str, Any], **kwargs: Any) -> DeviceEvent:
    events = adapter.parse(message(payload, **kwargs))
    assert len(events) == 1
    return events[0]


def rejection(adapter: Adapter, payload: bytes | dict[str, Any], **kwargs: Any) -> PayloadError:
    with pytest.raises(PayloadError) as info:
        adapter.parse(message(payload, **kwargs))
    return info.value


def compared(event: DeviceEvent) -> dict[str, Any]:
    return event.model_dump(exclude=NOT_COMPARED)


def dialect(fields: dict[str, Any], *, kind: str = "access", **extra: Any) -> Adapter:
    """An adapter for a dialect given as the dict TOML would parse into."""
    spec = MappingSpec.model_validate(
        {"name": "test-dialect", "kind": kind, "fields": fields, **extra}
    )
    return mapping_adapter(spec)(PSEUDONYMIZER)


ACCESS_BASE: dict[str, Any] = {
    "occurred_at": {"path": "time", "format": "epoch_ms"},
    "direction": {"const": "unknown"},
    "method": {"const": "card"},
    "result": {"const": "granted"},
    "vendor_code": {"const": "acme"},
}
TIME_MS = 1795652130123
OCCURRED = datetime.fromtimestamp(TIME_MS / 1000, UTC)


def access_dialect(**fields: Any) -> Adapter:
    return dialect({**ACCESS_BASE, **fields})


def access(adapter: Adapter, payload: dict[str, Any], **kwargs: Any) -> AccessEvent:
    event = parse_one(adapter, {"time": TIME_MS, **payload}, **kwargs)
    assert isinstance(event, AccessEvent)
    return event


def access_rejection(adapter: Adapter, payload: dict[str, Any]) -> PayloadError:
    return rejection(adapter, {"time": TIME_MS, **payload})


class TestAdapterContract:
    """A configured dialect becomes an adapter class named after it, like a built-in one."""

    def test_class_carries_the_dialect_name(self) -> None:
        factory = mapping_adapter(example("mapping-acme-door.toml"))
        assert factory.dialect == "acme-door"
        assert issubclass(factory, MappingAdapter)

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = mapping_adapter(example("mapping-parkline-gate.toml"))(PSEUDONYMIZER)
        assert adapter.dialect == "parkline-gate"

    def test_events_carry_the_dialect_name(self) -> None:
        event = parse_one(ACME, (HIK_FIXTURES / "card_granted.json").read_bytes())
        assert event.dialect == "acme-door"

    def test_two_dialects_get_two_classes(self) -> None:
        first = mapping_adapter(example("mapping-acme-door.toml"))
        second = mapping_adapter(example("mapping-parkline-gate.toml"))
        assert first is not second
        assert first.dialect != second.dialect


class TestMirrorsHikIsapi:
    """`config/mapping-acme-door.toml` gives the events `hik-isapi` gives, on its fixtures."""

    @pytest.mark.parametrize("name", HIK_GOOD)
    def test_same_event_fields(self, name: str) -> None:
        payload = (HIK_FIXTURES / f"{name}.json").read_bytes()
        device_id = None if name.endswith("with_device_id") else DEVICE
        coded = parse_one(HIK, payload, device_id=device_id)
        mapped = parse_one(ACME, payload, device_id=device_id)
        assert type(mapped) is type(coded)
        assert compared(mapped) == compared(coded)

    @pytest.mark.parametrize("name", HIK_GOOD)
    def test_event_ids_are_built_from_the_same_material(self, name: str) -> None:
        payload = (HIK_FIXTURES / f"{name}.json").read_bytes()
        detail = json.loads(payload)["AccessControllerEvent"]
        coded = parse_one(HIK, payload)
        mapped = parse_one(ACME, payload)
        material = (
            str(detail["serialNo"]),
            coded.occurred_at.isoformat(),
            str(detail["subEventType"]),
        )
        assert coded.event_id == stable_event_id("hik-isapi", DEVICE, *material)
        assert mapped.event_id == stable_event_id("acme-door", DEVICE, *material)

    def test_access_events_in_full(self) -> None:
        payload = (HIK_FIXTURES / "card_granted.json").read_bytes()
        event = parse_one(ACME, payload)
        assert isinstance(event, AccessEvent)
        assert (event.direction, event.method, event.result) == ("in", "card", "granted")
        assert (event.door, event.reader, event.vendor_code) == ("1", 1, "5/0x1")
        assert event.credential == PSEUDONYMIZER.hash("card", "3188542196")

    def test_door_events_in_full(self) -> None:
        event = parse_one(ACME, (HIK_FIXTURES / "door_forced_open.json").read_bytes())
        assert isinstance(event, DoorStateEvent)
        assert event.state == "forced_open"
        assert event.vendor_code == "5/0x1b"

    def test_employee_number_is_the_fallback_credential(self) -> None:
        event = parse_one(ACME, (HIK_FIXTURES / "face_verified.json").read_bytes())
        assert isinstance(event, AccessEvent)
        assert event.credential == PSEUDONYMIZER.hash("employee", "88020231")

    def test_names_and_raw_numbers_never_reach_the_event(self) -> None:
        payload = (HIK_FIXTURES / "card_granted.json").read_bytes()
        serialised = parse_one(ACME, payload).model_dump_json()
        for raw in ("3188542196", "88010086", "张三"):
            assert raw not in serialised

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("malformed", "malformed_json"),
            ("array", "malformed_json"),
            ("unsupported_event", "unsupported_event"),
            ("unknown_minor", "unknown_code"),
            ("naive_datetime", "bad_time"),
            ("missing_access_event", "schema"),
            ("wrong_type_minor", "schema"),
        ],
    )
    def test_same_rejection_reasons(self, name: str, reason: str) -> None:
        payload = (HIK_FIXTURES / f"{name}.json").read_bytes()
        assert rejection(HIK, payload).reason == reason
        assert rejection(ACME, payload).reason == reason

    def test_card_number_sent_as_a_number_is_hashed_in_decimal(self) -> None:
        # Deliberately more lenient than hik-isapi (a schema error there): types vary by
        # firmware, meaning does not.
        document = json.loads((HIK_FIXTURES / "card_number_as_number.json").read_bytes())
        number = document["AccessControllerEvent"]["cardNo"]
        event = parse_one(ACME, json.dumps(document).encode())
        assert isinstance(event, AccessEvent)
        assert event.credential == PSEUDONYMIZER.hash("card", str(number))


class TestMirrorsBarrierGate:
    """`config/mapping-parkline-gate.toml` gives the vehicle passes `barrier-gate` gives."""

    @pytest.mark.parametrize("name", PARKLINE_GOOD)
    def test_same_event_fields(self, name: str) -> None:
        payload = (PARKLINE_FIXTURES / f"{name}.json").read_bytes()
        coded = parse_one(BARRIER, payload, device_id="PL-N1")
        mapped = parse_one(PARKLINE, payload, device_id="PL-N1", topic="parkline/yida/PL-N1/plate")
        assert isinstance(mapped, VehiclePass)
        assert compared(mapped) == compared(coded)

    def test_every_good_fixture_is_compared(self) -> None:
        assert len(PARKLINE_GOOD) == 7

    def test_record_id_identifies_the_pass(self) -> None:
        payload = (PARKLINE_FIXTURES / "in_blue.json").read_bytes()
        event = parse_one(PARKLINE, payload)
        assert event.event_id == stable_event_id(
            "parkline-gate", "YD-GATE-N1", "PL-N1-20261126-000123"
        )

    def test_without_record_id_the_payload_identifies_the_pass(self) -> None:
        payload = (PARKLINE_FIXTURES / "out_no_record_nulls.json").read_bytes()
        event = parse_one(PARKLINE, payload)
        assert event.event_id == payload_event_id("parkline-gate", message(payload))

    def test_plate_read_in_full(self) -> None:
        event = parse_one(PARKLINE, (PARKLINE_FIXTURES / "in_blue.json").read_bytes())
        assert isinstance(event, VehiclePass)
        assert (event.plate_no, event.has_plate, event.plate_color) == ("湘A12345", True, "blue")
        assert (event.direction, event.lane, event.confidence) == ("in", "2", 0.97)
        assert event.device_id == "YD-GATE-N1"

    @pytest.mark.parametrize(
        ("name", "reason"),
        [
            ("bad_unknown_dir", "unknown_code"),
            ("bad_missing_dir", "schema"),
            ("bad_missing_ts", "schema"),
            ("bad_conf_percent", "schema"),
            ("bad_malformed", "malformed_json"),
        ],
    )
    def test_same_rejection_reasons(self, name: str, reason: str) -> None:
        payload = (PARKLINE_FIXTURES / f"{name}.json").read_bytes()
        assert rejection(BARRIER, payload).reason == reason
        assert rejection(PARKLINE, payload).reason == reason

    def test_same_drop_of_an_inline_picture(self) -> None:
        """Both keep the pass and drop the `data:` picture as `not_a_url`, listed on the event."""
        payload = (PARKLINE_FIXTURES / "bad_inline_picture.json").read_bytes()
        for adapter in (BARRIER, PARKLINE):
            event = parse_one(adapter, payload)
            assert isinstance(event, VehiclePass)
            assert (event.image_url, drops(event)) == (None, {"image_url": "not_a_url"})

    def test_same_reading_of_a_clock_reset_for_the_window_to_refuse(self) -> None:
        payload = (PARKLINE_FIXTURES / "bad_ts_out_of_range.json").read_bytes()
        barrier, parkline = parse_one(BARRIER, payload), parse_one(PARKLINE, payload)
        assert barrier.occurred_at == parkline.occurred_at < datetime(1971, 1, 1, tzinfo=UTC)


class TestPaths:
    """Dotted paths with [n] indices find values; missing, null and "" count as absent."""

    def test_nested_objects_and_array_elements(self) -> None:
        adapter = access_dialect(door={"path": "data.items[1].door"})
        event = access(adapter, {"data": {"items": [{"door": "a"}, {"door": "b"}]}})
        assert event.door == "b"

    def test_negative_index_counts_from_the_end(self) -> None:
        adapter = access_dialect(door={"path": "doors[-1]"})
        assert access(adapter, {"doors": ["a", "b", "c"]}).door == "c"

    @pytest.mark.parametrize(
        "payload",
        [
            {},
            {"data": None},
            {"data": {"door": None}},
            {"data": {"door": ""}},
            {"data": "text"},
            {"data": []},
        ],
    )
    def test_absent_optional_field_is_left_out(self, payload: dict[str, Any]) -> None:
        assert access(access_dialect(door={"path": "data.door"}), payload).door is None

    def test_absent_required_field_names_field_and_path(self) -> None:
        adapter = access_dialect(method={"path": "data.openType", "map": {"1": "card"}})
        error = access_rejection(adapter, {"data": {}})
        assert (error.reason, error.detail) == ("schema", "method path data.openType missing")

    def test_required_marks_an_optional_field_required(self) -> None:
        adapter = access_dialect(door={"path": "data.door", "required": True})
        assert access_rejection(adapter, {}).detail == "door path data.door missing"

    def test_object_where_a_value_is_expected_is_a_schema_error(self) -> None:
        error = access_rejection(access_dialect(door={"path": "data"}), {"data": {"door": 1}})
        assert (error.reason, error.detail) == (
            "schema",
            "door at data is an object, not a single value",
        )

    def test_path_parsing(self) -> None:
        assert parse_path("data.items[0].plate") == ("data", "items", 0, "plate")
        assert parse_path("a[-1][2]") == ("a", -1, 2)

    @pytest.mark.parametrize("bad", ["", ".a", "a.", "a..b", "a[x]", "[0]", "a[0", "a.{b}"])
    def test_malformed_paths_are_refused(self, bad: str) -> None:
        with pytest.raises(ValueError, match="path"):
            parse_path(bad)

    def test_paths_are_bounded(self) -> None:
        parse_path(".".join("a" * 16))
        with pytest.raises(ValueError, match="deeper than 16"):
            parse_path(".".join("a" * 17))


class TestSources:
    """Constants, templates, topic captures and alternatives fill fields without code."""

    def test_const(self) -> None:
        assert access(access_dialect(door={"const": "north gate"}), {}).door == "north gate"

    def test_template_with_hex_and_literal_braces(self) -> None:
        adapter = access_dialect(vendor_code={"template": "{{{major}}}/{minor:hex}"})
        assert access(adapter, {"major": 5, "minor": 75}).vendor_code == "{5}/0x4b"

    def test_template_with_an_absent_placeholder_is_absent(self) -> None:
        adapter = access_dialect(door={"template": "{building}-{door}"})
        assert access(adapter, {"building": "B1"}).door is None

    def test_hex_of_a_non_integer_is_a_schema_error(self) -> None:
        adapter = access_dialect(vendor_code={"template": "{minor:hex}"})
        assert access_rejection(adapter, {"minor": "4b"}).reason == "schema"

    @pytest.mark.parametrize("minor", [-1, 2**32, 430112199001011234])
    def test_hex_of_a_number_beyond_32_bits_is_a_schema_error(self, minor: int) -> None:
        """A code is 32 bits; a longer number (an ID number in the wrong field) is no code."""
        adapter = access_dialect(vendor_code={"template": "{minor:hex}"})
        assert access_rejection(adapter, {"minor": minor}).reason == "schema"

    def test_capture_of_a_topic_level(self) -> None:
        adapter = dialect(
            {**ACCESS_BASE, "door": {"capture": "door"}},
            topic="acme/{community}/{device_id}/door/{door}",
        )
        event = access(adapter, {}, topic=f"acme/yida/{DEVICE}/door/east")
        assert event.door == "east"

    def test_capture_is_absent_when_the_message_came_another_way(self) -> None:
        adapter = dialect(
            {**ACCESS_BASE, "door": {"capture": "door"}},
            topic="acme/{community}/{device_id}/door/{door}",
        )
        assert access(adapter, {}, topic=f"yida/test-dialect/{DEVICE}").door is None

    def test_first_alternative_with_a_value_wins(self) -> None:
        adapter = access_dialect(door={"first": [{"path": "a"}, {"path": "b"}, {"const": "c"}]})
        assert access(adapter, {"b": "from b"}).door == "from b"
        assert access(adapter, {"a": "from a", "b": "from b"}).door == "from a"
        assert access(adapter, {}).door == "c"


class TestMaps:
    """Vendor codes map to canonical values; an unmapped code is refused unless configured."""

    def test_numbers_and_their_text_map_alike(self) -> None:
        adapter = access_dialect(method={"path": "type", "map": {"1": "card", "2": "face"}})
        assert access(adapter, {"type": 2}).method == "face"
        assert access(adapter, {"type": "2"}).method == "face"

    def test_booleans_map_as_true_and_false(self) -> None:
        adapter = access_dialect(
            result={"path": "ok", "map": {"true": "granted", "false": "denied"}}
        )
        assert access(adapter, {"ok": False}).result == "denied"

    def test_unmapped_value_is_unknown_code(self) -> None:
        adapter = access_dialect(
            method={"path": "type", "map": {"1": "card"}, "default": "unknown"}
        )
        error = access_rejection(adapter, {"type": 9})
        assert (error.reason, error.detail) == (
            "unknown_code",
            "method: the value at type is not mapped",
        )

    def test_unmapped_gives_a_value_for_unlisted_codes(self) -> None:
        adapter = access_dialect(
            method={"path": "type", "map": {"1": "card"}, "unmapped": "unknown"}
        )
        assert access(adapter, {"type": 9}).method == "unknown"

    def test_default_is_for_absent_values(self) -> None:
        adapter = access_dialect(
            method={"path": "type", "map": {"1": "card"}, "default": "unknown"}
        )
        assert access(adapter, {}).method == "unknown"

    def test_unmapped_optional_field_is_refused_too(self) -> None:
        adapter = access_dialect(direction={"path": "dir", "map": {"0": "in", "1": "out"}})
        assert access_rejection(adapter, {"dir": 7}).reason == "unknown_code"

    def test_a_miss_in_an_alternative_tries_the_next(self) -> None:
        adapter = access_dialect(
            direction={
                "first": [{"path": "a", "map": {"x": "in"}}, {"path": "b", "map": {"y": "out"}}]
            }
        )
        assert access(adapter, {"a": "?", "b": "y"}).direction == "out"
        assert access_rejection(adapter, {"a": "?", "b": "?"}).reason == "unknown_code"


class TestTimes:
    """Device times become UTC instants; an offset is never guessed."""

    def at(self, spec: dict[str, Any], value: object) -> datetime:
        adapter = dialect({**ACCESS_BASE, "occurred_at": spec})
        return access(adapter, {"time": value}).occurred_at

    def refused(self, spec: dict[str, Any], value: object) -> PayloadError:
        adapter = dialect({**ACCESS_BASE, "occurred_at": spec})
        return rejection(adapter, {"time": value})

    def test_epoch_milliseconds(self) -> None:
        assert self.at({"path": "time", "format": "epoch_ms"}, TIME_MS) == OCCURRED
        assert self.at({"path": "time", "format": "epoch_ms"}, str(TIME_MS)) == OCCURRED

    def test_epoch_seconds(self) -> None:
        expected = datetime(2026, 11, 26, 0, 0, 1, 500_000, tzinfo=UTC)
        assert self.at({"path": "time", "format": "epoch_s"}, 1795651201.5) == expected

    def test_iso8601_with_offset(self) -> None:
        when = self.at({"path": "time", "format": "iso8601"}, "2026-11-26T08:00:00+08:00")
        assert when == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)

    def test_iso8601_without_offset_needs_a_timezone(self) -> None:
        spec = {"path": "time", "format": "iso8601"}
        assert self.refused(spec, "2026-11-26T08:00:00").reason == "bad_time"
        when = self.at({**spec, "timezone": "+08:00"}, "2026-11-26T08:00:00")
        assert when == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)

    def test_strptime_pattern_with_timezone(self) -> None:
        spec = {"path": "time", "format": "%Y-%m-%d %H:%M:%S", "timezone": "+08:00"}
        assert self.at(spec, "2026-11-26 08:00:00") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)

    def test_compact_local_time_with_a_zone_name(self) -> None:
        spec = {"path": "time", "format": "%Y%m%d%H%M%S", "timezone": "Asia/Shanghai"}
        assert self.at(spec, "20261126080000") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)

    def test_pattern_with_its_own_offset(self) -> None:
        spec = {"path": "time", "format": "%Y%m%d%H%M%S%z"}
        assert self.at(spec, "20261126080000+0800") == datetime(2026, 11, 26, 0, 0, tzinfo=UTC)

    @pytest.mark.parametrize(
        ("spec", "value"),
        [
            ({"path": "time", "format": "epoch_ms"}, 10**20),
            ({"path": "time", "format": "epoch_s"}, 10**12 + 1),
            ({"path": "time", "format": "epoch_s"}, 253_402_300_800),
            ({"path": "time", "format": "epoch_ms"}, "soon"),
            ({"path": "time", "format": "epoch_ms"}, True),
            ({"path": "time", "format": "epoch_s"}, "NaN"),
            ({"path": "time", "format": "iso8601"}, "yesterday"),
            ({"path": "time", "format": "%Y-%m-%d", "timezone": "UTC"}, "26/11/2026"),
            ({"path": "time", "format": "%Y-%m-%d", "timezone": "UTC"}, 20261126),
        ],
    )
    def test_unreadable_times_are_bad_time(self, spec: dict[str, Any], value: object) -> None:
        error = self.refused(spec, value)
        assert error.reason == "bad_time"
        assert "time" in error.detail

    def test_missing_time_is_a_schema_error(self) -> None:
        error = rejection(access_dialect(), {})
        assert (error.reason, error.detail) == ("schema", "occurred_at path time missing")


class TestScale:
    """`scale` turns vendor numbers into canonical units, exactly as division would."""

    def test_percentage_to_a_fraction(self) -> None:
        adapter = dialect(
            {
                "occurred_at": {"path": "time", "format": "epoch_ms"},
                "confidence": {"path": "conf", "scale": 0.01},
            },
            kind="vehicle_pass",
        )
        for percent in (0, 7, 87, 95, 100):
            event = parse_one(adapter, {"time": TIME_MS, "conf": percent})
            assert isinstance(event, VehiclePass)
            assert event.confidence == percent / 100

    def test_text_that_is_not_a_number_is_a_schema_error(self) -> None:
        adapter = dialect(
            {
                "occurred_at": {"path": "time", "format": "epoch_ms"},
                "confidence": {"path": "conf", "scale": 0.01},
            },
            kind="vehicle_pass",
        )
        assert rejection(adapter, {"time": TIME_MS, "conf": "high"}).reason == "schema"


VISITOR_FIELDS: dict[str, Any] = {
    "occurred_at": {"path": "time", "format": "epoch_ms"},
    "action": {"const": "registered"},
    "visit_id": {"path": "visitId"},
    "visitor_ref": {"path": "idNo", "hash": "id_number"},
    "id_masked": {"path": "idNo", "mask": "id_number"},
    "phone_masked": {"path": "phone", "mask": "phone"},
    "name_masked": {"path": "name", "mask": "name"},
}
VISITOR = dialect(VISITOR_FIELDS, kind="visitor")
ID_NUMBER = "43011219900101123X"


def visitor(payload: dict[str, Any]) -> VisitorEvent:
    event = parse_one(VISITOR, {"time": TIME_MS, "visitId": "v-1", **payload})
    assert isinstance(event, VisitorEvent)
    return event


class TestPersonalData:
    """Personal values enter events only as keyed hashes or display masks."""

    def test_credential_is_the_keyed_hash(self) -> None:
        event = access(
            access_dialect(credential={"path": "card", "hash": "card"}), {"card": "12345678"}
        )
        assert event.credential == PSEUDONYMIZER.hash("card", "12345678")

    def test_namespaces_keep_kinds_of_identifier_apart(self) -> None:
        card = access(access_dialect(credential={"path": "n", "hash": "card"}), {"n": "1234"})
        employee = access(
            access_dialect(credential={"path": "n", "hash": "employee"}), {"n": "1234"}
        )
        assert card.credential != employee.credential

    def test_id_numbers_are_hashed_trimmed_and_upper_cased(self) -> None:
        event = visitor({"idNo": f" {ID_NUMBER.lower()} "})
        assert event.visitor_ref == PSEUDONYMIZER.hash("id_number", ID_NUMBER)

    def test_a_card_hashes_like_an_imported_card(self) -> None:
        event = access(
            access_dialect(credential={"path": "card", "hash": "card"}), {"card": " 0012345678 "}
        )
        assert event.credential == credential_ref(PSEUDONYMIZER, "card", "0012345678")

    def test_masks(self) -> None:
        event = visitor({"idNo": ID_NUMBER, "phone": "+86 138-0013-8000", "name": "张三丰"})
        assert event.id_masked == "430112********123X"
        assert event.phone_masked == "138****8000"
        assert event.name_masked == "张**"

    def test_a_one_character_name_is_fully_masked(self) -> None:
        assert visitor({"name": "张"}).name_masked == "*"

    def test_raw_values_never_reach_the_event(self) -> None:
        serialised = visitor(
            {"idNo": ID_NUMBER, "phone": "13800138000", "name": "张三丰"}
        ).model_dump_json()
        for raw in (ID_NUMBER, "13800138000", "张三丰", "三丰"):
            assert raw not in serialised

    @pytest.mark.parametrize(
        ("field", "value"),
        [("phone", "call me maybe"), ("phone", "12"), ("idNo", "not an id!"), ("name", "x" * 65)],
    )
    def test_values_that_cannot_be_masked_are_refused_not_shown(
        self, field: str, value: str
    ) -> None:
        error = rejection(VISITOR, {"time": TIME_MS, "visitId": "v-1", field: value})
        assert error.reason == "schema"
        assert value not in error.detail

    def test_only_text_and_integers_are_hashed(self) -> None:
        adapter = access_dialect(credential={"path": "card", "hash": "card"})
        assert access(adapter, {"card": 1234}).credential == PSEUDONYMIZER.hash("card", "1234")
        assert access_rejection(adapter, {"card": 12.5}).reason == "schema"
        assert access_rejection(adapter, {"card": True}).reason == "schema"

    def test_lone_surrogates_are_refused(self) -> None:
        adapter = access_dialect(credential={"path": "card", "hash": "card"})
        error = rejection(adapter, b'{"time": 1795652130123, "card": "\\ud800"}')
        assert (error.reason, error.detail) == (
            "schema",
            "credential at card is not valid Unicode text",
        )


class TestCanonicalValues:
    """The interpreter keeps the canonical contract: text, plates, picture URLs, schemas."""

    def test_numbers_become_text_in_text_fields(self) -> None:
        assert access(access_dialect(door={"path": "door"}), {"door": 3}).door == "3"

    def test_text_becomes_an_integer_where_the_model_takes_one(self) -> None:
        assert access(access_dialect(reader={"path": "reader"}), {"reader": "2"}).reader == 2

    def test_plates_are_normalised_and_has_plate_follows(self) -> None:
        adapter = dialect(
            {"occurred_at": {"path": "time", "format": "epoch_ms"}, "plate_no": {"path": "plate"}},
            kind="vehicle_pass",
        )
        read = parse_one(adapter, {"time": TIME_MS, "plate": "湘a·12345"})
        unread = parse_one(adapter, {"time": TIME_MS, "plate": "无牌"})
        assert isinstance(read, VehiclePass) and isinstance(unread, VehiclePass)
        assert (read.plate_no, read.has_plate) == ("湘A12345", True)
        assert (unread.plate_no, unread.has_plate) == (None, False)

    @pytest.mark.parametrize(
        "url", ["data:image/jpeg;base64,AAAA", "/9j/4AAQSkZJRg", "file:///etc/passwd"]
    )
    def test_pictures_are_references_only(self, url: str) -> None:
        """A mapped picture that is no http(s) URL is dropped and listed; the event is kept."""
        adapter = dialect(
            {"occurred_at": {"path": "time", "format": "epoch_ms"}, "image_url": {"path": "pic"}},
            kind="vehicle_pass",
        )
        event = parse_one(adapter, {"time": TIME_MS, "pic": url})
        assert isinstance(event, VehiclePass)
        assert (event.image_url, drops(event)) == (None, {"image_url": "not_a_url"})

    def test_mapped_pictures_are_screened_like_coded_ones(self) -> None:
        """Login, query and fragment are removed, a phone in the path drops the picture."""
        adapter = dialect(
            {"occurred_at": {"path": "time", "format": "epoch_ms"}, "image_url": {"path": "pic"}},
            kind="vehicle_pass",
        )
        kept = parse_one(adapter, {"time": TIME_MS, "pic": "http://a:b@h/p.jpg?name=x#y"})
        assert isinstance(kept, VehiclePass)
        assert (kept.image_url, drops(kept)) == ("http://h/p.jpg", {})
        phone = parse_one(
            adapter, {"time": TIME_MS, "pic": "http://h/%31%33%38%31%32%33%34%35%36%37%38"}
        )
        assert isinstance(phone, VehiclePass)
        assert (phone.image_url, drops(phone)) == (None, {"image_url": "pii_in_identifier"})

    def test_a_value_the_model_refuses_is_a_schema_error(self) -> None:
        adapter = access_dialect(method={"path": "method"})
        error = access_rejection(adapter, {"method": "telepathy"})
        assert error.reason == "schema"
        assert "method" in error.detail
        assert "telepathy" not in error.detail


class TestWhen:
    """`when` refuses other payloads; event rules pick the kind of event."""

    RULES: ClassVar[dict[str, Any]] = {
        "name": "test-dialect",
        "when": {"type": "event"},
        "fields": {
            "occurred_at": {"path": "time", "format": "epoch_ms"},
            "vendor_code": {"path": "code"},
        },
        "events": [
            {
                "kind": "door_state",
                "when": {"code": [10, 11]},
                "fields": {"state": {"path": "code", "map": {"10": "opened", "11": "closed"}}},
            },
            {
                "kind": "access",
                "when": {"code": [1, 2]},
                "fields": {
                    "direction": {"const": "in"},
                    "method": {"const": "card"},
                    "result": {"path": "code", "map": {"1": "granted", "2": "denied"}},
                },
            },
        ],
    }
    ADAPTER = mapping_adapter(MappingSpec.model_validate(RULES))(PSEUDONYMIZER)

    def event(self, **payload: Any) -> DeviceEvent:
        return parse_one(self.ADAPTER, {"type": "event", "time": TIME_MS, **payload})

    def refusal(self, payload: dict[str, Any]) -> PayloadError:
        return rejection(self.ADAPTER, {"time": TIME_MS, **payload})

    def test_rules_choose_the_kind(self) -> None:
        assert isinstance(self.event(code=11), DoorStateEvent)
        assert isinstance(self.event(code="2"), AccessEvent)

    def test_shared_fields_apply_to_every_rule(self) -> None:
        door, entry = self.event(code=11), self.event(code=1)
        assert isinstance(door, DoorStateEvent) and isinstance(entry, AccessEvent)
        assert (door.vendor_code, entry.vendor_code) == ("11", "1")

    def test_other_payloads_are_unsupported(self) -> None:
        error = self.refusal({"type": "heartbeat", "code": 1})
        assert (error.reason, error.detail) == (
            "unsupported_event",
            "payload does not meet when (type)",
        )

    def test_payload_without_the_tested_path_is_a_schema_error(self) -> None:
        assert self.refusal({"code": 1}).detail == "when path type missing"
        assert self.refusal({"type": "event"}).detail == "when path code missing"

    def test_no_rule_holding_is_unknown_code(self) -> None:
        assert self.refusal({"type": "event", "code": 99}).reason == "unknown_code"


class TestEventIds:
    """Event ids are stable under redelivery and built from the device's own identity."""

    def test_same_message_redelivered_gives_the_same_id(self) -> None:
        adapter = access_dialect()
        first = access(adapter, {"x": 1})
        again = access(adapter, {"x": 1}, received_at=RECEIVED + timedelta(minutes=5))
        assert first.event_id == again.event_id

    def test_without_id_the_payload_hash_is_used(self) -> None:
        payload = json.dumps({"time": TIME_MS}).encode()
        event = parse_one(access_dialect(), payload)
        assert event.event_id == payload_event_id("test-dialect", message(payload))

    def test_id_paths_survive_reserialisation(self) -> None:
        adapter = dialect(ACCESS_BASE, id={"paths": ["record.id", "$occurred_at"]})
        first = access(adapter, {"record": {"id": 77}, "noise": 1})
        second = access(adapter, {"noise": 2, "record": {"id": "77"}})
        assert first.event_id == second.event_id
        assert first.event_id == stable_event_id("test-dialect", DEVICE, "77", OCCURRED.isoformat())

    def test_field_references_use_the_canonical_value(self) -> None:
        fields = {
            "occurred_at": {"path": "time", "format": "epoch_ms"},
            "plate_no": {"path": "plate"},
        }
        adapter = dialect(fields, kind="vehicle_pass", id={"paths": ["$plate_no", "$device_id"]})
        event = parse_one(adapter, {"time": TIME_MS, "plate": "湘a 12345"})
        assert event.event_id == stable_event_id("test-dialect", DEVICE, "湘A12345", DEVICE)

    def test_an_absent_id_part_falls_back_to_the_payload_hash(self) -> None:
        adapter = dialect(ACCESS_BASE, id={"paths": ["record.id"]})
        payload = json.dumps({"time": TIME_MS}).encode()
        assert parse_one(adapter, payload).event_id == payload_event_id(
            "test-dialect", message(payload)
        )


class TestDeviceId:
    """The routed device is the event's unless the mapping's `device_id` says otherwise."""

    def test_routed_device(self) -> None:
        assert access(access_dialect(), {}).device_id == DEVICE

    def test_payload_device_when_the_topic_has_none(self) -> None:
        adapter = access_dialect(device_id={"first": [{"capture": "device_id"}, {"path": "dev"}]})
        assert access(adapter, {"dev": "from-payload"}, device_id=None).device_id == "from-payload"
        assert access(adapter, {"dev": "from-payload"}).device_id == DEVICE

    def test_no_device_at_all(self) -> None:
        error = rejection(access_dialect(), {"time": TIME_MS}, device_id=None)
        assert error.reason == "no_device_id"

    def test_overlong_device_id(self) -> None:
        adapter = access_dialect(device_id={"path": "dev"})
        assert access_rejection(adapter, {"dev": "d" * 65}).reason == "bad_device_id"


class TestTemplates:
    """Topic templates and text templates are parsed once, at start-up."""

    def test_topic_template_filter_and_match(self) -> None:
        template = parse_topic_template("acme/{community}/{device_id}/event")
        assert template.filter == "acme/+/+/event"
        assert template.match("acme/yida/d1/event") == {"community": "yida", "device_id": "d1"}
        assert template.match("acme/yida/d1/other") is None
        assert template.match("acme/yida//event") is None
        assert template.match("acme/yida/d1/event/x") is None

    def test_multi_level_wildcard(self) -> None:
        template = parse_topic_template("v/{community}/#")
        assert template.filter == "v/+/#"
        assert template.match("v/yida") == {"community": "yida"}
        assert template.match("v/yida/a/b") == {"community": "yida"}

    @pytest.mark.parametrize(
        "bad", ["a//b", "a/#/b", "a/{x}/{x}", "a/b{x}", "a/{X}", "$SYS/{community}", "a/b+"]
    )
    def test_malformed_topic_templates(self, bad: str) -> None:
        with pytest.raises(ValueError, match="topic"):
            parse_topic_template(bad)

    @pytest.mark.parametrize(
        "bad", ["no placeholder", "{a", "a}", "{a.}", "{" + "}{".join("abcdefghi") + "}"]
    )
    def test_malformed_text_templates(self, bad: str) -> None:
        with pytest.raises(ValueError, match=r"template|path"):
            parse_template(bad)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


class TestHostileInput:
    """Whatever the payload, a mapping adapter returns events or raises `PayloadError`."""

    @settings(max_examples=300, deadline=None)
    @given(document=st.dictionaries(st.text(max_size=30), JSON_VALUES, max_size=6))
    def test_arbitrary_objects(self, document: dict[str, Any]) -> None:
        for adapter in (ACME, PARKLINE, VISITOR):
            with contextlib.suppress(PayloadError):
                adapter.parse(message(json.dumps(document).encode()))

    @settings(max_examples=300, deadline=None)
    @given(
        key=st.sampled_from(
            [
                "majorEventType",
                "subEventType",
                "cardNo",
                "employeeNoString",
                "doorNo",
                "cardReaderNo",
                "serialNo",
                "attendanceStatus",
            ]
        ),
        value=JSON_VALUES,
        envelope=st.sampled_from(["dateTime", "deviceID", "eventType"]),
        envelope_value=JSON_VALUES,
    )
    def test_hik_fixture_with_any_value_anywhere(
        self, key: str, value: object, envelope: str, envelope_value: object
    ) -> None:
        document = json.loads((HIK_FIXTURES / "card_granted.json").read_bytes())
        document["AccessControllerEvent"][key] = value
        for payload in (document, {**document, envelope: envelope_value}):
            with contextlib.suppress(PayloadError):
                ACME.parse(message(json.dumps(payload).encode(), device_id=None))

    @settings(max_examples=200, deadline=None)
    @given(
        field=st.sampled_from(
            ["ts", "plate", "plateColor", "dir", "lane", "conf", "pic", "gateId", "recordId"]
        ),
        value=JSON_VALUES,
    )
    def test_parkline_fixture_with_any_value_anywhere(self, field: str, value: object) -> None:
        document = json.loads((PARKLINE_FIXTURES / "in_blue.json").read_bytes())
        document[field] = value
        with contextlib.suppress(PayloadError):
            PARKLINE.parse(message(json.dumps(document).encode()))


class TestScreenedFields:
    """Mapped identifiers, names and plates follow the same rules as the coded dialects'."""

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_a_payload_device_id_is_refused(self, device_id: str) -> None:
        error = access_rejection(access_dialect(device_id={"path": "dev"}), {"dev": device_id})
        assert error.reason == "pii_in_identifier"
        assert_absent([device_id, *PLANTED], error.detail)

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_the_routed_device_id_is_refused(self, device_id: str) -> None:
        error = rejection(access_dialect(), {"time": TIME_MS}, device_id=device_id)
        assert error.reason == "pii_in_identifier"

    def test_device_id_outside_the_alphabet_is_refused(self) -> None:
        adapter = access_dialect(device_id={"path": "dev"})
        assert access_rejection(adapter, {"dev": "a..b"}).reason == "bad_device_id"

    def test_personal_number_in_the_vendor_code_is_refused(self) -> None:
        adapter = access_dialect(vendor_code={"template": "acme/{code}"})
        assert access_rejection(adapter, {"code": "138-1234-5678"}).reason == "pii_in_identifier"
        assert access(adapter, {"code": 5}).vendor_code == "acme/5"

    @pytest.mark.parametrize(
        ("door", "reason"),
        [
            *((door, "pii_in_identifier") for door in PII_NAMES),
            *((door, "markup") for door in MARKUP_NAMES),
            ("D\x001", "not_printable"),
            ("D" * 65, "too_long"),
        ],
    )
    def test_bad_door_name_is_dropped(self, door: str, reason: str) -> None:
        event = access(access_dialect(door={"path": "door"}), {"door": door})
        assert (event.door, drops(event)) == (None, {"door": reason})
        assert_absent([door, *PLANTED], event.model_dump_json())

    def test_valid_door_name_is_kept(self) -> None:
        event = access(access_dialect(door={"path": "door"}), {"door": 12})
        assert (event.door, event.dropped_fields) == ("12", ())

    def test_a_dropped_door_is_not_hashed_into_the_event_id(self) -> None:
        adapter = dialect({**ACCESS_BASE, "door": {"path": "door"}}, id={"paths": ["$door"]})
        planted = access(adapter, {"door": PII_NAMES[0]})
        assert planted.event_id == stable_event_id("test-dialect", DEVICE, "")

    @pytest.mark.parametrize("plate", ["13812345678", "<湘A12345>", "湘A1"])
    def test_text_that_is_no_plate_is_dropped(self, plate: str) -> None:
        payload = json.loads((PARKLINE_FIXTURES / "in_blue.json").read_bytes())
        event = parse_one(PARKLINE, {**payload, "plate": plate})
        assert isinstance(event, VehiclePass)
        assert (event.plate_no, event.has_plate, drops(event)) == (
            None,
            False,
            {"plate_no": "not_a_plate"},
        )

    def test_plate_standard_is_judged(self) -> None:
        payload = json.loads((PARKLINE_FIXTURES / "in_blue.json").read_bytes())
        standard = parse_one(PARKLINE, payload)
        foreign = parse_one(PARKLINE, {**payload, "plate": "AB 1234"})
        assert isinstance(standard, VehiclePass) and isinstance(foreign, VehiclePass)
        assert (standard.plate_standard, foreign.plate_standard) == (True, False)

    @pytest.mark.parametrize("field", ["plate_standard", "dropped_fields"])
    def test_screen_results_cannot_be_mapped(self, field: str) -> None:
        with pytest.raises(ValueError, match="set by the gateway"):
            dialect(
                {"occurred_at": {"path": "time", "format": "epoch_ms"}, field: {"const": True}},
                kind="vehicle_pass",
            )

    @pytest.mark.parametrize("door", [MARKUP_NAMES[0], PII_NAMES[0], "D" * 65])
    def test_a_bad_constant_name_is_refused_at_start_up(self, door: str) -> None:
        with pytest.raises(ValueError, match="not a valid door"):
            access_dialect(door={"const": door})
