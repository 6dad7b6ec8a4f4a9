"""Specification of the cloud visitor adapter, driven by the payload fixtures beside this file."""

import copy
import json
import re
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.base import Adapter, RawMessage, stable_event_id
from adapters.visitor_cloud import (
    MAX_VISITORS,
    MESSAGE_TYPES,
    VISIT_PURPOSES,
    VisitorCloudAdapter,
)
from gateway.errors import PayloadError
from schemas.events import DeviceEvent, VisitorEvent, device_event_adapter
from schemas.identity import ID_TYPES, gb11643_check_digit, gb11643_problem
from schemas.privacy import Pseudonymizer, mask_name
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

FIXTURES = Fixtures.of("visitor_cloud")
ADAPTER = VisitorCloudAdapter(PSEUDONYMIZER)
COMMUNITY = "yida"
SERVICE = "vc-yida-01"
NORTH_GATE = "43011200001320000013"
SOUTH_GATE = "43011200001320000014"
TOPIC = f"{COMMUNITY}/visitor-cloud/{SERVICE}"
RECEIVED = datetime(2026, 11, 26, 2, 0, 1, 250_000, tzinfo=UTC)
REASONS = {
    "malformed_json",
    "schema",
    "unsupported_event",
    "unknown_code",
    "bad_time",
    "bad_id_number",
    "oversized",
    "no_device_id",
    "bad_device_id",
    "pii_in_identifier",
}

REGISTRATION_FIXTURES = [
    "registration_single",
    "registration_multi",
    "registration_all_purposes",
    "registration_minimal",
    "registration_unknown_purpose",
]
GATE_FIXTURES = [
    "checkin_by_index",
    "checkin_by_id_number",
    "checkout_by_index",
    "checkout_by_id_number",
]
GOOD_FIXTURES = [*REGISTRATION_FIXTURES, *GATE_FIXTURES, "cancellation"]
BAD_FIXTURES = {
    "malformed": "malformed_json",
    "array": "malformed_json",
    "unsupported_type": "unsupported_event",
    "missing_visitors": "schema",
    "empty_visitors": "schema",
    "purpose_as_string": "schema",
    "id_number_as_number": "schema",
    "bad_phone": "schema",
    "unknown_id_type": "unknown_code",
    "bad_check_digit": "bad_id_number",
    "naive_time": "bad_time",
    "end_before_start": "bad_time",
    "checkin_without_visitor": "schema",
    "checkin_id_number_without_type": "schema",
    "checkin_missing_gate": "schema",
}
ALL_FIXTURES = [*GOOD_FIXTURES, *BAD_FIXTURES]


fixture_bytes = FIXTURES.payload
fixture_json = FIXTURES.document
with_fields = FIXTURES.with_fields
without_field = FIXTURES.without_fields
message = message_factory(community=COMMUNITY, topic=TOPIC, device_id=SERVICE, received_at=RECEIVED)


def parse(payload: bytes, *, device_id: str | None = SERVICE) -> list[VisitorEvent]:
    events = ADAPTER.parse(message(payload, device_id=device_id))
    assert all(isinstance(event, VisitorEvent) for event in events)
    return [event for event in events if isinstance(event, VisitorEvent)]


def parse_one(payload: bytes, *, device_id: str | None = SERVICE) -> VisitorEvent:
    events = parse(payload, device_id=device_id)
    assert len(events) == 1
    return events[0]


def rejection(payload: bytes, *, device_id: str | None = SERVICE) -> PayloadError:
    return rejected(ADAPTER, message(payload, device_id=device_id))


def with_visitor_fields(fixture: str, /, index: int = 0, **fields: Any) -> bytes:
    document = fixture_json(fixture)
    document["visitors"][index].update(fields)
    return encode(document)


def without_visitor_field(fixture: str, field: str, index: int = 0) -> bytes:
    document = fixture_json(fixture)
    del document["visitors"][index][field]
    return encode(document)


def with_visitors(fixture: str, visitors: list[Any]) -> bytes:
    return with_fields(fixture, visitors=visitors)


def ref(id_number: str) -> str:
    return PSEUDONYMIZER.hash("id_number", id_number)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def valid_resident_id(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


class TestAdapterContract:
    """The adapter is the `visitor-cloud` dialect and satisfies the adapter protocol."""

    def test_dialect_name(self) -> None:
        assert VisitorCloudAdapter.dialect == "visitor-cloud"

    def test_instance_is_an_adapter(self) -> None:
        adapter: Adapter = VisitorCloudAdapter(PSEUDONYMIZER)
        assert adapter.dialect == "visitor-cloud"

    def test_message_type_table_is_the_documented_one(self) -> None:
        actions = {name: kind.action for name, kind in MESSAGE_TYPES.items()}
        assert actions == {
            "registration": "registered",
            "checkin": "checked_in",
            "checkout": "checked_out",
            "cancellation": "cancelled",
        }

    @pytest.mark.parametrize(
        ("name", "count"),
        [
            ("registration_single", 1),
            ("registration_multi", 3),
            ("registration_all_purposes", 9),
            ("registration_minimal", 1),
            *((name, 1) for name in GATE_FIXTURES),
            ("cancellation", 1),
        ],
    )
    def test_event_count(self, name: str, count: int) -> None:
        assert len(parse(fixture_bytes(name))) == count


class TestRegistration:
    """A registration becomes one fully masked event per visitor, sharing the visit."""

    def test_single_visitor_with_every_field_set(self) -> None:
        occurred = utc(2026, 11, 26, 1, 30)
        assert parse_one(fixture_bytes("registration_single")) == VisitorEvent(
            event_id=stable_event_id(
                "visitor-cloud", SERVICE, "V20261126-0001", "registered", occurred.isoformat(), "#0"
            ),
            community=COMMUNITY,
            device_id=SERVICE,
            occurred_at=occurred,
            received_at=RECEIVED,
            dialect="visitor-cloud",
            action="registered",
            visit_id="V20261126-0001",
            visitor_ref=ref("430112198806142030"),
            id_type="resident_id_card",
            id_masked="430112********2030",
            name_masked="李*国",
            phone_masked="138****5678",
            host_house="B03-U2-1102",
            valid_from=utc(2026, 11, 26, 2),
            valid_until=utc(2026, 11, 26, 10),
            purpose="relative",
            plate_no="湘A12345",
        )

    def test_multi_visitor_events_share_the_visit(self) -> None:
        events = parse(fixture_bytes("registration_multi"))
        shared = {
            (e.visit_id, e.device_id, e.occurred_at, e.host_house, e.valid_from, e.valid_until)
            for e in events
        }
        assert shared == {
            (
                "V20261126-0002",
                SERVICE,
                utc(2026, 11, 26, 5, 15, 42),
                "B01-U1-0302",
                utc(2026, 11, 26, 6),
                utc(2026, 11, 28, 12),
            )
        }
        assert {e.action for e in events} == {"registered"}
        assert len({e.event_id for e in events}) == 3

    def test_multi_visitor_events_follow_the_visitor_order(self) -> None:
        events = parse(fixture_bytes("registration_multi"))
        assert [
            (e.visitor_ref, e.id_type, e.id_masked, e.name_masked, e.phone_masked, e.purpose)
            for e in events
        ] == [
            (
                ref("11010519491231002X"),
                "resident_id_card",
                "110105********002X",
                "欧**娜",
                "139****2266",
                "decoration",
            ),
            (ref("533380006"), "passport", "5******06", "S********N", "+14*****0100", "colleague"),
            (ref("C12345678"), "other", "C******78", "陈*", None, "housekeeper"),
        ]
        assert [e.plate_no for e in events] == ["湘AD12345", None, None]

    def test_minimal_visitor_has_only_the_identity(self) -> None:
        event = parse_one(fixture_bytes("registration_minimal"))
        assert (event.visitor_ref, event.id_masked) == (
            ref("43011220000101009X"),
            "430112********009X",
        )
        assert (event.name_masked, event.phone_masked, event.purpose, event.plate_no) == (
            None,
            None,
            None,
            None,
        )
        assert (event.valid_from, event.valid_until) == (utc(2026, 11, 26, 2), utc(2026, 11, 26, 4))

    def test_exactly_max_visitors_is_accepted(self) -> None:
        visitor = fixture_json("registration_single")["visitors"][0]
        events = parse(with_visitors("registration_single", [visitor] * MAX_VISITORS))
        assert len(events) == MAX_VISITORS == 50
        assert len({e.event_id for e in events}) == MAX_VISITORS

    def test_house_code_is_required(self) -> None:
        error = rejection(without_field("registration_single", "houseCode"))
        assert (error.reason, error.detail) == ("schema", "houseCode: Field required")

    @pytest.mark.parametrize("field", ["startTime", "endTime", "visitId", "eventTime"])
    def test_required_fields(self, field: str) -> None:
        error = rejection(without_field("registration_single", field))
        assert (error.reason, error.detail) == ("schema", f"{field}: Field required")

    @pytest.mark.parametrize("field", ["idType", "idNumber"])
    def test_visitor_identity_is_required(self, field: str) -> None:
        error = rejection(without_visitor_field("registration_single", field))
        assert (error.reason, error.detail) == ("schema", f"visitors.0.{field}: Field required")

    def test_visitors_must_be_a_list_of_objects(self) -> None:
        assert rejection(with_fields("registration_single", visitors={"0": {}})).reason == "schema"
        error = rejection(with_visitors("registration_single", ["430112198806142030"]))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0")


class TestIdTypes:
    """The GA/T 517 codes of `schemas.identity.ID_TYPES` map to ID types (the table itself is
    specified in tests/schemas/test_identity.py); any other code is refused."""

    @pytest.mark.parametrize(
        ("code", "number", "id_type"),
        [
            ("111", "430112198806142030", "resident_id_card"),
            ("414", "E12345678", "passport"),
            ("990", "C12345678", "other"),
        ],
    )
    def test_every_code_maps(self, code: str, number: str, id_type: str) -> None:
        payload = with_visitor_fields("registration_single", idType=code, idNumber=number)
        event = parse_one(payload)
        assert (event.id_type, event.visitor_ref) == (id_type, ref(number))

    def test_unknown_code_fixture_names_the_visitor_and_code(self) -> None:
        error = rejection(fixture_bytes("unknown_id_type"))
        assert (error.reason, error.detail) == (
            "unknown_code",
            "visitors.1.idType '516' is not a GA/T 517 type this dialect maps",
        )

    @pytest.mark.parametrize("code", ["115", "516", "0", "9999", "11", ""])
    def test_other_short_codes_are_unknown(self, code: str) -> None:
        error = rejection(with_visitor_fields("registration_single", idType=code))
        assert error.reason == "unknown_code"

    @pytest.mark.parametrize("code", ["身份证", "ID", "111 ", "12345", "passport", "4301121988"])
    def test_codes_that_are_not_short_digit_runs_are_not_echoed(self, code: str) -> None:
        error = rejection(with_visitor_fields("registration_single", idType=code))
        assert (error.reason, error.detail) == (
            "unknown_code",
            "visitors.0.idType is not a GA/T 517 type this dialect maps",
        )

    @pytest.mark.parametrize("code", [111, None, ["111"], 111.0])
    def test_code_must_be_a_string(self, code: object) -> None:
        error = rejection(with_visitor_fields("registration_single", idType=code))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.idType")

    def test_overlong_code_is_a_schema_error(self) -> None:
        error = rejection(with_visitor_fields("registration_single", idType="1" * 17))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.idType")

    def test_unknown_code_on_a_gate_pass_is_refused(self) -> None:
        error = rejection(with_fields("checkin_by_id_number", idType="516"))
        assert (error.reason, error.detail) == (
            "unknown_code",
            "idType '516' is not a GA/T 517 type this dialect maps",
        )


class TestPurposes:
    """Purpose codes 1-9 map in the documented order; other integers become `other`."""

    def test_table_is_exactly_the_documented_order(self) -> None:
        assert dict(VISIT_PURPOSES) == {
            1: "owner",
            2: "relative",
            3: "tenant",
            4: "friend",
            5: "colleague",
            6: "decoration",
            7: "housekeeper",
            8: "driver",
            9: "other",
        }

    def test_all_purposes_fixture_maps_each_code(self) -> None:
        events = parse(fixture_bytes("registration_all_purposes"))
        assert [e.purpose for e in events] == [VISIT_PURPOSES[code] for code in range(1, 10)]

    def test_unknown_purpose_fixture_is_other(self) -> None:
        assert parse_one(fixture_bytes("registration_unknown_purpose")).purpose == "other"

    @pytest.mark.parametrize("code", [0, 10, -1, 99, 2**40])
    def test_unmapped_integers_are_other(self, code: int) -> None:
        payload = with_visitor_fields("registration_single", purpose=code)
        assert parse_one(payload).purpose == "other"

    def test_null_purpose_is_none(self) -> None:
        payload = with_visitor_fields("registration_single", purpose=None)
        assert parse_one(payload).purpose is None

    def test_absent_purpose_is_none(self) -> None:
        payload = without_visitor_field("registration_single", "purpose")
        assert parse_one(payload).purpose is None

    def test_purpose_as_string_fixture_names_the_field(self) -> None:
        error = rejection(fixture_bytes("purpose_as_string"))
        assert (error.reason, error.detail) == (
            "schema",
            "visitors.0.purpose: Input should be a valid integer",
        )

    @pytest.mark.parametrize("code", ["2", 2.0, True, [2]])
    def test_purpose_of_another_type_is_a_schema_error(self, code: object) -> None:
        error = rejection(with_visitor_fields("registration_single", purpose=code))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.purpose")


class TestResidentIdNumbers:
    """Type-111 numbers must be GB 11643 numbers; an invalid one dead-letters the message."""

    def test_check_digit_agrees_with_the_simulator(self) -> None:
        for first17 in ("43011219880614203", "11010519491231002", "43011220000101009"):
            assert gb11643_problem(valid_resident_id(first17)) is None

    @settings(max_examples=150, deadline=None)
    @given(
        first17=st.from_regex(
            r"\A[0-9]{6}(19|20)[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])"
            r"[0-9]{3}\Z"
        ),
        check=st.sampled_from("0123456789X"),
    )
    def test_only_the_simulators_check_digit_is_accepted(self, first17: str, check: str) -> None:
        expected_valid = check == gb11643_check_digit(first17)
        assert (gb11643_problem(first17 + check) is None) == expected_valid

    def test_bad_check_digit_fixture_names_the_visitor(self) -> None:
        error = rejection(fixture_bytes("bad_check_digit"))
        assert (error.reason, error.detail) == (
            "bad_id_number",
            "visitors.1.idNumber fails the GB 11643 check digit",
        )

    @pytest.mark.parametrize(
        ("number", "problem"),
        [
            ("430112880614203", "is not 17 digits followed by a digit or X"),
            ("4301121988061420301", "is not 17 digits followed by a digit or X"),
            ("43011219880614203Y", "is not 17 digits followed by a digit or X"),
            ("43011219880614203-", "is not 17 digits followed by a digit or X"),
            ("E12345678", "is not 17 digits followed by a digit or X"),
            ("４３０１１２１９８８０６１４２０３０", "is not 17 digits followed by a digit or X"),
            (valid_resident_id("43011219880230203"), "has no calendar birth date"),
            (valid_resident_id("43011200000101203"), "has no calendar birth date"),
            ("430112198806142031", "fails the GB 11643 check digit"),
        ],
    )
    def test_invalid_numbers_are_dead_lettered(self, number: str, problem: str) -> None:
        error = rejection(with_visitor_fields("registration_single", idNumber=number))
        assert (error.reason, error.detail) == ("bad_id_number", f"visitors.0.idNumber {problem}")

    def test_one_invalid_visitor_refuses_the_whole_registration(self) -> None:
        document = fixture_json("registration_multi")
        document["visitors"][2].update(idType="111", idNumber="430112198806142031")
        assert rejection(encode(document)).reason == "bad_id_number"

    def test_lower_case_x_is_normalised_before_hashing_and_masking(self) -> None:
        payload = with_visitor_fields("registration_multi", idNumber="11010519491231002x")
        event = parse(payload)[0]
        assert event.visitor_ref == ref("11010519491231002X")
        assert event.id_masked == "110105********002X"

    def test_surrounding_blanks_are_removed(self) -> None:
        payload = with_visitor_fields("registration_single", idNumber=" 430112198806142030\t")
        assert parse_one(payload).visitor_ref == ref("430112198806142030")

    def test_invalid_number_on_a_gate_pass_is_dead_lettered(self) -> None:
        error = rejection(with_fields("checkin_by_id_number", idNumber="11010519491231002Y"))
        assert (error.reason, error.detail) == (
            "bad_id_number",
            "idNumber is not 17 digits followed by a digit or X",
        )

    @pytest.mark.parametrize("number", ["", "4" * 41])
    def test_empty_or_overlong_number_is_a_schema_error(self, number: str) -> None:
        error = rejection(with_visitor_fields("registration_single", idNumber=number))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.idNumber")


class TestOtherIdNumbers:
    """Passport and other numbers are checked for shape only, then hashed like any ID number."""

    @pytest.mark.parametrize(
        ("code", "number", "stored"),
        [
            ("414", "e12345678", "E12345678"),
            ("414", "533380006", "533380006"),
            ("414", "G1234", "G1234"),
            ("990", "C12345678", "C12345678"),
            ("990", "H0123456701", "H0123456701"),
            ("990", "南字第12345号", "南字第12345号"),
            ("990", "AB-1234", "AB-1234"),
        ],
    )
    def test_accepted_shapes(self, code: str, number: str, stored: str) -> None:
        payload = with_visitor_fields("registration_single", idType=code, idNumber=number)
        assert parse_one(payload).visitor_ref == ref(stored)

    @pytest.mark.parametrize(
        ("code", "number", "problem"),
        [
            ("414", "E123", "is not 5 to 20 letters or digits"),
            ("414", "E1234-5678", "is not 5 to 20 letters or digits"),
            ("414", "E" * 21, "is not 5 to 20 letters or digits"),
            ("990", "C12", "is not 4 to 32 letters, digits or hyphens"),
            ("990", "C12 345 678", "is not 4 to 32 letters, digits or hyphens"),
            ("990", "C_12345", "is not 4 to 32 letters, digits or hyphens"),
        ],
    )
    def test_refused_shapes(self, code: str, number: str, problem: str) -> None:
        payload = with_visitor_fields("registration_single", idType=code, idNumber=number)
        error = rejection(payload)
        assert (error.reason, error.detail) == ("bad_id_number", f"visitors.0.idNumber {problem}")

    def test_short_numbers_keep_only_the_first_and_last_two(self) -> None:
        payload = with_visitor_fields("registration_single", idType="414", idNumber="E12345678")
        assert parse_one(payload).id_masked == "E******78"


class TestVisitorRef:
    """The visitor reference is the shared `id_number` hash, so visits join face matches."""

    def test_uses_the_id_number_namespace(self) -> None:
        event = parse_one(fixture_bytes("registration_single"))
        assert event.visitor_ref == PSEUDONYMIZER.hash("id_number", "430112198806142030")
        assert event.visitor_ref != PSEUDONYMIZER.hash("card", "430112198806142030")

    def test_registration_and_check_in_by_number_join(self) -> None:
        registered = parse(fixture_bytes("registration_multi"))[0]
        checked_in = parse_one(fixture_bytes("checkin_by_id_number"))
        assert registered.visitor_ref == checked_in.visitor_ref
        assert registered.visit_id == checked_in.visit_id

    def test_depends_on_the_key(self) -> None:
        other = VisitorCloudAdapter(Pseudonymizer("another-key-0123456789abc"))
        event = other.parse(message(fixture_bytes("registration_single")))[0]
        assert isinstance(event, VisitorEvent)
        assert event.visitor_ref != ref("430112198806142030")


class TestMasks:
    """Names, phones and ID numbers are stored only in their masked forms."""

    @pytest.mark.parametrize(
        ("name", "masked"),
        [
            ("张三丰", "张*丰"),
            ("李建国", "李*国"),
            ("雷小琴", "雷*琴"),
            ("王伟", "王*"),
            ("欧阳锋锋", "欧**锋"),
            ("阿卜杜·热合曼", "阿*****曼"),
            ("SMITH JOHN", "S********N"),
            ("  王伟 ", "王*"),
            ("张", "*"),
            ("", None),
            ("   ", None),
            (None, None),
        ],
    )
    def test_name(self, name: str | None, masked: str | None) -> None:
        assert mask_name(name) == masked
        assert parse_one(with_visitor_fields("registration_single", name=name)).name_masked == (
            masked
        )

    def test_absent_name_is_none(self) -> None:
        assert parse_one(without_visitor_field("registration_single", "name")).name_masked is None

    @pytest.mark.parametrize(
        ("phone", "masked"),
        [
            ("13812345678", "138****5678"),
            ("+8613812345678", "138****5678"),
            ("008613812345678", "138****5678"),
            ("8613812345678", "138****5678"),
            ("138 1234 5678", "138****5678"),
            ("138-1234-5678", "138****5678"),
            ("0731-88123456", "073*****3456"),
            ("(0731) 8812 3456", "073*****3456"),
            ("+1 415 555 0100", "+14*****0100"),
            ("12345", "*****"),
            ("", None),
            (" - ", None),
            (None, None),
        ],
    )
    def test_phone(self, phone: str | None, masked: str | None) -> None:
        payload = with_visitor_fields("registration_single", phone=phone)
        assert parse_one(payload).phone_masked == masked

    def test_absent_phone_is_none(self) -> None:
        assert parse_one(without_visitor_field("registration_single", "phone")).phone_masked is None

    def test_bad_phone_fixture_is_a_schema_error(self) -> None:
        error = rejection(fixture_bytes("bad_phone"))
        assert error.reason == "schema"
        assert error.detail.startswith("visitors.0.phone: Value error, not a phone number")

    @pytest.mark.parametrize(
        "phone",
        ["1381234567x", "++8613812345678", "1234", "1" * 21, "电话13812345678", 13812345678],
    )
    def test_phones_that_are_not_numbers_are_refused(self, phone: object) -> None:
        error = rejection(with_visitor_fields("registration_single", phone=phone))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.phone")

    def test_long_name_is_a_schema_error(self) -> None:
        error = rejection(with_visitor_fields("registration_single", name="张" * 65))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.name")

    @pytest.mark.parametrize("name", [42, ["张", "三"], {"family": "张"}])
    def test_name_of_another_type_is_a_schema_error(self, name: object) -> None:
        error = rejection(with_visitor_fields("registration_single", name=name))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.name")


class TestPlates:
    """Plates are normalised as every dialect normalises them; placeholders mean none."""

    @pytest.mark.parametrize(
        ("plate", "stored"),
        [("湘A·12345", "湘A12345"), ("湘a 12345", "湘A12345"), ("未识别", None), ("", None)],
    )
    def test_normalised(self, plate: str, stored: str | None) -> None:
        payload = with_visitor_fields("registration_single", plateNo=plate)
        assert parse_one(payload).plate_no == stored

    def test_overlong_plate_is_a_schema_error(self) -> None:
        error = rejection(with_visitor_fields("registration_single", plateNo="湘" * 17))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitors.0.plateNo")

    @pytest.mark.parametrize(
        ("plate", "standard"), [("湘A·12345", True), ("AB1234", False), ("未识别", None)]
    )
    def test_plate_standard(self, plate: str, standard: bool | None) -> None:
        payload = with_visitor_fields("registration_single", plateNo=plate)
        assert parse_one(payload).plate_standard is standard

    @pytest.mark.parametrize("plate", ["13812345678", "<i>湘A</i>", "湘A1"])
    def test_text_that_is_no_plate_is_dropped_and_the_visit_kept(self, plate: str) -> None:
        event = parse_one(with_visitor_fields("registration_single", plateNo=plate))
        assert (event.plate_no, drops(event)) == (None, {"plate_no": "not_a_plate"})
        assert event.action == "registered"
        assert_absent([plate, *PLANTED], event.model_dump_json())


class TestScreenedFields:
    """Visit and device ids holding a personal number are refused; a bad house code is dropped."""

    @pytest.mark.parametrize("visit_id", PII_DEVICE_IDS)
    @pytest.mark.parametrize("name", ["registration_single", "checkin_by_index", "cancellation"])
    def test_personal_number_in_the_visit_id_is_refused(self, name: str, visit_id: str) -> None:
        error = rejection(with_fields(name, visitId=visit_id))
        assert error.reason == "pii_in_identifier"
        assert_absent([visit_id, *PLANTED], *error_texts(error))

    @pytest.mark.parametrize("device_id", PII_DEVICE_IDS)
    def test_personal_number_in_a_device_id_is_refused(self, device_id: str) -> None:
        assert rejection(with_fields("checkin_by_index", gateDeviceId=device_id)).reason == (
            "pii_in_identifier"
        )
        payload = with_fields("cancellation", serviceId=device_id)
        assert rejection(payload, device_id=None).reason == "pii_in_identifier"
        assert rejection(fixture_bytes("cancellation"), device_id=device_id).reason == (
            "pii_in_identifier"
        )

    @pytest.mark.parametrize(
        ("house", "reason"),
        [
            *((house, "pii_in_identifier") for house in PII_NAMES),
            *((house, "markup") for house in MARKUP_NAMES),
            ("B03\x00U2", "not_printable"),
        ],
    )
    @pytest.mark.parametrize("name", ["registration_multi", "checkin_by_index", "cancellation"])
    def test_bad_house_code_is_dropped_from_every_event(
        self, name: str, house: str, reason: str
    ) -> None:
        events = parse(with_fields(name, houseCode=house))
        assert events and all(event.host_house is None for event in events)
        assert all(drops(event) == {"host_house": reason} for event in events)
        assert_absent([house, *PLANTED], *(event.model_dump_json() for event in events))

    def test_valid_house_code_is_untouched(self) -> None:
        event = parse_one(fixture_bytes("checkin_by_index"))
        assert (event.host_house, event.dropped_fields) == ("B03-U2-1102", ())


class TestGatePasses:
    """Check-ins and check-outs become one event at the gate, naming the visitor if they can."""

    def test_check_in_by_index(self) -> None:
        occurred = utc(2026, 11, 26, 2, 5, 31)
        assert parse_one(fixture_bytes("checkin_by_index")) == VisitorEvent(
            event_id=stable_event_id(
                "visitor-cloud",
                NORTH_GATE,
                "V20261126-0001",
                "checked_in",
                occurred.isoformat(),
                "#0",
            ),
            community=COMMUNITY,
            device_id=NORTH_GATE,
            occurred_at=occurred,
            received_at=RECEIVED,
            dialect="visitor-cloud",
            action="checked_in",
            visit_id="V20261126-0001",
            host_house="B03-U2-1102",
        )

    def test_check_in_by_id_number(self) -> None:
        event = parse_one(fixture_bytes("checkin_by_id_number"))
        assert (event.action, event.device_id, event.visit_id) == (
            "checked_in",
            NORTH_GATE,
            "V20261126-0002",
        )
        assert (event.visitor_ref, event.id_type, event.id_masked) == (
            ref("11010519491231002X"),
            "resident_id_card",
            "110105********002X",
        )
        assert (event.host_house, event.name_masked, event.phone_masked) == (None, None, None)
        assert (event.valid_from, event.valid_until, event.purpose) == (None, None, None)

    def test_check_out_by_index(self) -> None:
        event = parse_one(fixture_bytes("checkout_by_index"))
        assert (event.action, event.device_id, event.occurred_at) == (
            "checked_out",
            SOUTH_GATE,
            utc(2026, 11, 26, 9, 40, 12),
        )
        assert (event.visitor_ref, event.host_house) == (None, "B03-U2-1102")

    def test_check_out_by_passport(self) -> None:
        event = parse_one(fixture_bytes("checkout_by_id_number"))
        assert (event.action, event.visitor_ref, event.id_type) == (
            "checked_out",
            ref("533380006"),
            "passport",
        )

    def test_index_and_number_together_keep_the_identity(self) -> None:
        event = parse_one(with_fields("checkin_by_id_number", visitorIndex=0))
        assert event.visitor_ref == ref("11010519491231002X")

    def test_id_type_without_number_is_ignored(self) -> None:
        event = parse_one(with_fields("checkin_by_index", idType="111"))
        assert (event.visitor_ref, event.id_type) == (None, None)

    def test_no_visitor_fixture(self) -> None:
        error = rejection(fixture_bytes("checkin_without_visitor"))
        assert (error.reason, error.detail) == (
            "schema",
            "<root>: name the visitor by visitorIndex or idNumber",
        )

    def test_number_without_type_fixture(self) -> None:
        error = rejection(fixture_bytes("checkin_id_number_without_type"))
        assert (error.reason, error.detail) == ("schema", "idType: required when idNumber is given")

    def test_missing_gate_fixture(self) -> None:
        error = rejection(fixture_bytes("checkin_missing_gate"))
        assert (error.reason, error.detail) == ("schema", "gateDeviceId: Field required")

    @pytest.mark.parametrize("index", [-1, MAX_VISITORS, "0", 0.0, True])
    def test_index_outside_a_registration_or_of_another_type(self, index: object) -> None:
        error = rejection(with_fields("checkin_by_index", visitorIndex=index))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitorIndex")

    def test_last_possible_index_is_accepted(self) -> None:
        assert parse_one(with_fields("checkin_by_index", visitorIndex=MAX_VISITORS - 1)).visit_id

    def test_house_code_is_optional(self) -> None:
        assert parse_one(without_field("checkin_by_index", "houseCode")).host_house is None


class TestCancellation:
    """A cancellation is one event for the visit, without visitor fields."""

    def test_fields(self) -> None:
        occurred = utc(2026, 11, 26, 0, 10)
        assert parse_one(fixture_bytes("cancellation")) == VisitorEvent(
            event_id=stable_event_id(
                "visitor-cloud", SERVICE, "V20261126-0003", "cancelled", occurred.isoformat()
            ),
            community=COMMUNITY,
            device_id=SERVICE,
            occurred_at=occurred,
            received_at=RECEIVED,
            dialect="visitor-cloud",
            action="cancelled",
            visit_id="V20261126-0003",
            host_house="B05-U1-0801",
        )

    def test_house_code_is_optional(self) -> None:
        assert parse_one(without_field("cancellation", "houseCode")).host_house is None

    def test_visitors_on_a_cancellation_are_ignored(self) -> None:
        visitors = fixture_json("registration_single")["visitors"]
        event = parse_one(with_fields("cancellation", visitors=visitors))
        assert (event.visitor_ref, event.name_masked) == (None, None)


class TestCommonFields:
    """Every event carries the router's community and receipt time and the dialect's name."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_envelope(self, name: str) -> None:
        for event in parse(fixture_bytes(name)):
            assert event.kind == "visitor"
            assert event.community == COMMUNITY
            assert event.received_at == RECEIVED
            assert event.dialect == "visitor-cloud"
            assert event.unregistered_device is False
            assert re.fullmatch(r"[0-9a-f]{32}", event.event_id)
            assert re.fullmatch(r"V20261126-000[1-5]", event.visit_id)

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_round_trips_through_the_event_union(self, name: str) -> None:
        for event in parse(fixture_bytes(name)):
            assert device_event_adapter.validate_json(event.model_dump_json()) == event

    @pytest.mark.parametrize(
        "visit_id", ["", "-V1", "V 1", "V1\n", "访客1", "V" * 65, 20261126, None]
    )
    def test_visit_id_must_be_a_plain_token(self, visit_id: object) -> None:
        error = rejection(with_fields("cancellation", visitId=visit_id))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "visitId")

    def test_longest_visit_id_is_accepted(self) -> None:
        assert parse_one(with_fields("cancellation", visitId="V" * 64)).visit_id == "V" * 64


class TestFastPath:
    """Valid messages are validated in one pass from their bytes, never decoded a second time."""

    @pytest.mark.parametrize("name", GOOD_FIXTURES)
    def test_good_fixtures_skip_the_step_by_step_path(
        self, name: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        expected = parse(fixture_bytes(name))

        def refuse(payload: bytes) -> dict[str, object]:
            raise AssertionError("the slow path was taken")

        monkeypatch.setattr("adapters.visitor_cloud.decode_json_object", refuse)
        assert parse(fixture_bytes(name)) == expected


class TestDeviceIdentity:
    """The topic names the service; the payload's serviceId is the fallback; gates name gates."""

    def test_topic_wins_over_service_id(self) -> None:
        assert parse_one(fixture_bytes("registration_minimal")).device_id == SERVICE

    def test_service_id_when_topic_has_none(self) -> None:
        event = parse_one(fixture_bytes("registration_minimal"), device_id=None)
        assert event.device_id == "vc-yida-02"

    @pytest.mark.parametrize("name", ["registration_single", "cancellation"])
    def test_no_device_anywhere_is_refused(self, name: str) -> None:
        assert rejection(fixture_bytes(name), device_id=None).reason == "no_device_id"

    def test_gate_pass_needs_no_topic_device(self) -> None:
        assert parse_one(fixture_bytes("checkin_by_index"), device_id=None).device_id == NORTH_GATE

    def test_overlong_device_ids_are_refused(self) -> None:
        assert rejection(fixture_bytes("cancellation"), device_id="D" * 65).reason == (
            "bad_device_id"
        )
        payload = with_fields("cancellation", serviceId="D" * 65)
        assert rejection(payload, device_id=None).reason == "bad_device_id"
        payload = with_fields("checkin_by_index", gateDeviceId="D" * 65)
        assert rejection(payload).reason == "bad_device_id"

    @pytest.mark.parametrize("gate", ["", 43011200001320000013, None])
    def test_gate_must_be_a_non_empty_string(self, gate: object) -> None:
        error = rejection(with_fields("checkin_by_index", gateDeviceId=gate))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "gateDeviceId")


class TestEventTime:
    """Times must carry an offset and are kept in UTC; a validity window must not be empty."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("2026-11-26T01:30:00Z", utc(2026, 11, 26, 1, 30)),
            ("2026-11-26T09:30:00.250+08:00", datetime(2026, 11, 26, 1, 30, 0, 250_000, UTC)),
            ("2026-11-25T20:30:00-05:00", utc(2026, 11, 26, 1, 30)),
        ],
    )
    def test_offsets(self, text: str, expected: datetime) -> None:
        event = parse_one(with_fields("cancellation", eventTime=text))
        assert event.occurred_at == expected
        assert event.occurred_at.utcoffset() == timedelta(0)

    def test_naive_time_fixture(self) -> None:
        error = rejection(fixture_bytes("naive_time"))
        assert (error.reason, error.detail) == (
            "bad_time",
            "eventTime has no UTC offset; device time is never guessed",
        )

    @pytest.mark.parametrize("field", ["startTime", "endTime"])
    def test_naive_validity_is_refused(self, field: str) -> None:
        error = rejection(with_fields("registration_single", **{field: "2026-11-26T12:00:00"}))
        assert (error.reason, error.detail.split(" ")[0]) == ("bad_time", field)

    def test_end_before_start_fixture(self) -> None:
        error = rejection(fixture_bytes("end_before_start"))
        assert (error.reason, error.detail) == ("bad_time", "endTime is not after startTime")

    def test_empty_window_is_refused(self) -> None:
        payload = with_fields(
            "registration_single",
            startTime="2026-11-26T10:00:00+08:00",
            endTime="2026-11-26T02:00:00Z",
        )
        assert rejection(payload).reason == "bad_time"

    @pytest.mark.parametrize("text", ["yesterday", "", "2026-11-26", "0001-01-01T00:00:00+08:00"])
    def test_unparseable_time_is_refused(self, text: str) -> None:
        assert rejection(with_fields("cancellation", eventTime=text)).reason == "bad_time"

    @pytest.mark.parametrize(
        "value", [1764120600000, None, ["2026-11-26T09:30:00+08:00"], "9" * 41]
    )
    def test_time_of_another_type_or_length_is_a_schema_error(self, value: object) -> None:
        error = rejection(with_fields("cancellation", eventTime=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "eventTime")


class TestEventIds:
    """Event ids are stable under redelivery and distinct for distinct events."""

    def test_same_bytes_give_the_same_ids(self) -> None:
        payload = fixture_bytes("registration_multi")
        first = [e.event_id for e in ADAPTER.parse(message(payload))]
        later_message = message(payload, received_at=RECEIVED + timedelta(minutes=5))
        assert first == [e.event_id for e in ADAPTER.parse(later_message)]

    def test_a_resend_with_a_new_message_id_is_the_same_event(self) -> None:
        resent = with_fields("registration_single", msgId="another", channel="app")
        first = parse_one(fixture_bytes("registration_single"))
        assert parse_one(resent).event_id == first.event_id

    def test_an_updated_registration_is_a_new_event(self) -> None:
        updated = with_fields("registration_single", eventTime="2026-11-26T09:31:00+08:00")
        first = parse_one(fixture_bytes("registration_single"))
        assert parse_one(updated).event_id != first.event_id

    def test_check_in_and_check_out_of_one_visitor_differ(self) -> None:
        check_in = parse_one(fixture_bytes("checkin_by_index"))
        same_time_out = with_fields("checkin_by_index", msgType="checkout")
        assert parse_one(same_time_out).event_id != check_in.event_id

    def test_check_ins_of_two_visitors_at_one_instant_differ(self) -> None:
        first = parse_one(fixture_bytes("checkin_by_index"))
        second = parse_one(with_fields("checkin_by_index", visitorIndex=1))
        assert first.event_id != second.event_id

    def test_all_fixture_events_have_distinct_ids(self) -> None:
        ids = [e.event_id for name in GOOD_FIXTURES for e in parse(fixture_bytes(name))]
        assert len(ids) == len(set(ids)) == 20


def pii_values(raw: bytes) -> set[str]:
    """Every value under a personal key in the raw text (works on malformed JSON too), with the
    forms it may take once normalised: upper case, digits only, the mainland mobile, the birth
    date of a resident ID number."""
    found = re.findall(r'"(idNumber|phone|name)"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)', raw.decode())
    values: set[str] = set()
    for key, literal in found:
        value = str(json.loads(literal)).strip()
        if not value:
            continue
        values |= {value, value.upper()}
        if key == "phone":
            digits = re.sub(r"\D", "", value)
            values |= {digits, digits[-11:]} if len(digits) >= 11 else {digits}
        if key == "idNumber" and len(value) == 18:
            values.add(value[6:14])
    return {value for value in values if len(value) > 1}


def assert_no_pii(raw: bytes, texts: list[str]) -> None:
    assert_absent(pii_values(raw), *texts)


def outputs(payload: bytes) -> list[str]:
    """The JSON of every event, or every text of the PayloadError."""
    try:
        events = ADAPTER.parse(message(payload))
    except PayloadError as error:
        return [*error_texts(error), error.reason]
    return [event.model_dump_json() for event in events]


PII_IN_BAD_PLACES = [
    with_visitor_fields("registration_single", idNumber=430112198806142030),
    with_visitor_fields("registration_single", idType="430112198806142030"),
    with_visitor_fields("registration_single", idType="李建国"),
    with_visitor_fields("registration_single", purpose="430112198806142030"),
    with_visitor_fields("registration_single", purpose="李建国"),
    with_visitor_fields("registration_single", phone="李建国 13812345678"),
    with_visitor_fields("registration_single", phone=13812345678),
    with_visitor_fields("registration_single", name=["李建国", "13812345678"]),
    with_visitor_fields("registration_single", idNumber="430112198806142031"),
    with_visitor_fields("registration_single", plateNo="李建国430112198806142030"),
    with_fields("registration_single", msgType="430112198806142030"),
    with_fields("registration_single", msgType="李建国"),
    with_fields("registration_single", msgType="id_430112198806142030_li"),
    with_fields("registration_single", visitId="李建国-13812345678"),
    with_fields("registration_single", visitId="430112198806142030" * 4),
    with_fields("registration_single", eventTime="430112198806142030"),
    with_fields("registration_single", houseCode=["李建国", 13812345678]),
    with_fields("registration_single", eventTime="2026-11-26T09:30:00"),
    with_fields("checkin_by_index", idNumber="430112198806142031", idType="111", name="李建国"),
    with_fields(
        "checkin_by_index", idNumber="430112198806142030", name="李建国", phone="13812345678"
    ),
    with_visitors("registration_single", [fixture_json("registration_single")["visitors"][0]] * 51),
]


class TestPersonalData:
    """Raw ID numbers, phones and names never leave the adapter, in events or in errors."""

    def test_every_fixture_with_personal_data_is_checked(self) -> None:
        with_pii = {name for name in ALL_FIXTURES if pii_values(fixture_bytes(name))}
        assert with_pii == set(ALL_FIXTURES) - {
            "checkin_by_index",
            "checkout_by_index",
            "cancellation",
            "array",
            "unsupported_type",
            "checkin_without_visitor",
            "checkin_missing_gate",
            "missing_visitors",
            "empty_visitors",
        }

    @pytest.mark.parametrize("name", ALL_FIXTURES)
    def test_no_raw_personal_value_in_any_fixture_output(self, name: str) -> None:
        payload = fixture_bytes(name)
        assert_no_pii(payload, outputs(payload))

    @pytest.mark.parametrize("payload", PII_IN_BAD_PLACES)
    def test_no_raw_personal_value_when_it_sits_in_the_wrong_place(self, payload: bytes) -> None:
        assert pii_values(payload)
        assert_no_pii(payload, outputs(payload))

    def test_fixture_files_are_exactly_the_listed_ones(self) -> None:
        assert sorted(path.stem for path in FIXTURES.folder.glob("*.json")) == sorted(ALL_FIXTURES)

    def test_dropped_fields_leave_nothing_behind(self) -> None:
        payload = fixture_bytes("checkin_by_index")
        with_pii = with_fields("checkin_by_index", name="李建国", phone="13812345678")
        assert outputs(with_pii) == outputs(payload)

    @pytest.mark.parametrize(
        ("original", "field"),
        [
            ('"李建国"', "name"),
            ('"430112198806142030"', "idNumber"),
            ('"湘A·12345"', "plateNo"),
            ('"B03-U2-1102"', "houseCode"),
        ],
    )
    def test_lone_surrogate_in_a_text_field_is_a_schema_error(
        self, original: str, field: str
    ) -> None:
        raw = fixture_bytes("registration_single").replace(
            original.encode(), b'"\\ud800' + original[1:].encode()
        )
        error = rejection(raw)
        assert error.reason == "schema"
        assert error.detail.split(":")[0] in {field, f"visitors.0.{field}"}


class TestRejectedPayloads:
    """A payload that cannot become events raises PayloadError with a precise reason."""

    @pytest.mark.parametrize(("name", "reason"), sorted(BAD_FIXTURES.items()))
    def test_bad_fixture(self, name: str, reason: str) -> None:
        assert rejection(fixture_bytes(name)).reason == reason

    def test_array_detail_names_the_json_type(self) -> None:
        assert rejection(fixture_bytes("array")).detail == "expected a JSON object, got an array"

    def test_missing_visitors_detail(self) -> None:
        assert rejection(fixture_bytes("missing_visitors")).detail == "visitors: Field required"

    def test_empty_visitors_detail(self) -> None:
        detail = rejection(fixture_bytes("empty_visitors")).detail
        assert detail.startswith("visitors: List should have at least 1 item")

    def test_id_number_as_number_detail(self) -> None:
        detail = rejection(fixture_bytes("id_number_as_number")).detail
        assert detail == "visitors.0.idNumber: Input should be a valid string"

    def test_one_visitor_too_many_is_oversized(self) -> None:
        visitor = fixture_json("registration_single")["visitors"][0]
        error = rejection(with_visitors("registration_single", [visitor] * (MAX_VISITORS + 1)))
        assert (error.reason, error.detail) == (
            "oversized",
            "visitors has 51 entries, at most 50 allowed",
        )

    def test_huge_visitor_array_is_oversized_before_validation(self) -> None:
        junk: list[Any] = [{"idNumber": 1}] * 100_000
        started = time.perf_counter()
        error = rejection(with_visitors("registration_single", junk))
        assert (error.reason, error.detail) == (
            "oversized",
            "visitors has 100000 entries, at most 50 allowed",
        )
        assert time.perf_counter() - started < 5

    def test_huge_array_in_an_ignored_field_is_ignored(self) -> None:
        payload = with_fields("cancellation", attachments=[0] * 100_000)
        assert parse_one(payload).action == "cancelled"

    def test_nested_junk_in_an_ignored_field_is_ignored(self) -> None:
        nested = b"[" * 500 + b"]" * 500
        payload = fixture_bytes("cancellation").replace(
            b'"reason"', b'"junk": ' + nested + b', "r"'
        )
        assert parse_one(payload).action == "cancelled"

    @pytest.mark.parametrize(
        "payload",
        [
            b"",
            b"null",
            b'"registration"',
            b"\xff\xfe{}",
            b"[" * 100_000,
            b'{"visitors":' * 100_000,
            b'{"msgType": "registration", "visitors": ' + b"[" * 100_000,
            b'{"msgType": "registration", "visitors": [' + b"[" * 5000 + b"]" * 5001 + b"}",
            b'{"purpose": ' + b"9" * 5000 + b"}",
        ],
        ids=[
            "empty",
            "null",
            "string",
            "not-utf8",
            "nested-arrays",
            "nested-objects",
            "nested-truncated-visitors",
            "deeply-nested-visitors",
            "huge-number",
        ],
    )
    def test_junk_is_malformed_json(self, payload: bytes) -> None:
        assert rejection(payload).reason == "malformed_json"

    def test_many_errors_are_summarised(self) -> None:
        payload = with_visitor_fields(
            "registration_single", idType=1, idNumber=1, name=1, phone=1, purpose="x", plateNo=1
        )
        error = rejection(payload)
        assert error.reason == "schema"
        assert error.detail.endswith("(+1 more)")

    def test_extra_fields_are_ignored(self) -> None:
        document = fixture_json("registration_single")
        document["vendorExtra"] = {"anything": [1, 2, 3]}
        document["visitors"][0]["faceUrl"] = "https://example.invalid/face.jpg"
        document["visitors"][0]["gender"] = 1
        assert parse_one(encode(document)).name_masked == "李*国"


class TestUnsupportedMessages:
    """Other message types are refused before their shape is checked."""

    def test_heartbeat_is_named(self) -> None:
        error = rejection(fixture_bytes("unsupported_type"))
        assert (error.reason, error.detail) == (
            "unsupported_event",
            "message type 'heartbeat' is not supported",
        )

    @pytest.mark.parametrize(
        "msg_type",
        ["", "a b", "李建国", "x" * 41, "checkin\n", "reg';--", "_x", "9x", "id1234", "CHECKIN"],
    )
    def test_unsafe_or_unknown_types_are_not_echoed(self, msg_type: str) -> None:
        error = rejection(with_fields("unsupported_type", msgType=msg_type))
        assert error.reason == "unsupported_event"
        if msg_type != "CHECKIN":
            assert error.detail == "unsupported message type"

    @pytest.mark.parametrize("value", [None, 1, ["registration"]])
    def test_message_type_must_be_a_string(self, value: object) -> None:
        error = rejection(with_fields("registration_single", msgType=value))
        assert (error.reason, error.detail.split(":")[0]) == ("schema", "msgType")

    def test_message_type_is_required(self) -> None:
        error = rejection(without_field("registration_single", "msgType"))
        assert (error.reason, error.detail) == ("schema", "msgType: Field required")


# Property tests: whatever arrives, the adapter answers with events or a PayloadError.

TEXTS = st.text(max_size=20) | st.sampled_from(["\ud800", "ok\udfff"])
RESIDENT_FIRST17 = st.builds(
    lambda region, born, serial: f"{region}{born:%Y%m%d}{serial:03d}",
    st.sampled_from(["430112", "110105", "440305", "360102"]),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31)),
    st.integers(0, 999),
)
RESIDENT_IDS = RESIDENT_FIRST17.map(valid_resident_id)
ID_NUMBERS = RESIDENT_IDS | st.from_regex(r"\A[0-9]{17}[0-9Xx]\Z") | TEXTS
MOBILES = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
CHINESE_NAMES = st.text(
    alphabet="王李张刘陈杨黄赵吴周欧阳伟芳娜敏静丽强磊军", min_size=2, max_size=4
)
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "msgType": st.sampled_from(sorted(MESSAGE_TYPES)) | st.text(max_size=45),
    "visitId": st.from_regex(r"\AV[0-9]{8}-[0-9]{4}\Z") | TEXTS,
    "eventTime": TIMES | TEXTS,
    "startTime": TIMES,
    "endTime": TIMES,
    "serviceId": TEXTS | st.text(min_size=60, max_size=70),
    "houseCode": TEXTS,
    "gateDeviceId": TEXTS | st.text(min_size=60, max_size=70),
    "visitorIndex": st.integers(-1, MAX_VISITORS),
    "idType": st.sampled_from([*ID_TYPES, "516"]),
    "idNumber": ID_NUMBERS,
    "name": CHINESE_NAMES | TEXTS,
    "phone": MOBILES | TEXTS,
    "purpose": st.integers(-1, 12),
    "plateNo": TEXTS,
    "visitors": st.lists(st.just({"idType": "990", "idNumber": "C12345678"}), max_size=52),
}


@st.composite
def mutated_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid message of any type with a few fields replaced by arbitrary JSON or removed."""
    document = copy.deepcopy(fixture_json(draw(st.sampled_from(GOOD_FIXTURES))))
    top_keys = sorted({*document, *PLAUSIBLE} - {"name", "phone", "purpose", "plateNo"})
    mutate_fields(draw, document, top_keys, PLAUSIBLE, replaced=3, removed=1)
    visitors = document.get("visitors")
    if isinstance(visitors, list) and visitors and isinstance(visitors[0], dict):
        visitor = visitors[0] = dict(visitors[0])
        keys = ["idType", "idNumber", "name", "phone", "purpose", "plateNo"]
        mutate_fields(draw, visitor, keys, PLAUSIBLE, replaced=3, removed=1)
    return document


DEVICE_IDS = device_ids(SERVICE)


def events_or_payload_error(raw: RawMessage) -> list[DeviceEvent]:
    events = parse_checked(ADAPTER, raw, REASONS)
    for event in events:
        assert isinstance(event, VisitorEvent)
    return events


class TestNeverCrashes:
    """Whatever arrives, parse returns events or raises PayloadError, never another exception."""

    test_arbitrary_bytes, test_arbitrary_json = never_crash_tests(
        events_or_payload_error, message, DEVICE_IDS, max_examples=150
    )

    @settings(max_examples=150, deadline=None)
    @given(document=mutated_payloads(), device_id=st.one_of(st.just(SERVICE), DEVICE_IDS))
    def test_valid_payload_with_arbitrary_fields(
        self, document: dict[str, Any], device_id: str | None
    ) -> None:
        raw = message(json.dumps(document).encode(), device_id=device_id)
        events = events_or_payload_error(raw)
        texts = [event.model_dump_json() for event in events]
        for value in ("430112198806142030", "11010519491231002X", "13812345678", "李建国"):
            assert all(value not in text for text in texts)

    @settings(max_examples=150, deadline=None)
    @given(code=st.sampled_from(sorted(ID_TYPES)), number=ID_NUMBERS)
    def test_arbitrary_id_number(self, code: str, number: str) -> None:
        payload = with_visitor_fields("registration_single", idType=code, idNumber=number)
        try:
            event = parse_one(payload)
        except PayloadError as error:
            assert error.reason in {"schema", "bad_id_number"}
            return
        normalised = number.strip().upper()
        assert ID_TYPES[code].problem(normalised) is None
        assert event.visitor_ref == ref(normalised)
        if len(normalised) > 10:
            assert normalised not in event.model_dump_json()

    @settings(max_examples=150, deadline=None)
    @given(
        visitors=st.lists(
            st.tuples(RESIDENT_IDS, CHINESE_NAMES, MOBILES), min_size=1, max_size=MAX_VISITORS
        )
    )
    def test_generated_visitors_are_hashed_and_masked(
        self, visitors: list[tuple[str, str, str]]
    ) -> None:
        payload = with_visitors(
            "registration_single",
            [
                {"idType": "111", "idNumber": number, "name": name, "phone": phone}
                for number, name, phone in visitors
            ],
        )
        events = parse(payload)
        assert [e.visitor_ref for e in events] == [ref(number) for number, _, _ in visitors]
        dumped = "".join(event.model_dump_json() for event in events)
        for number, name, phone in visitors:
            assert number not in dumped
            assert name not in dumped
            assert phone not in dumped
