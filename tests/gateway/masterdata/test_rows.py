"""Specification of the row validators (`gateway.masterdata.rows`): each dataset's rows become
records with personal values hashed, masked and sealed, or a rejection that names the field
and the rule, never the value."""

from decimal import Decimal

import pytest

from gateway.grids import GridMap
from gateway.masterdata.readers import DUPLICATE_KEY, EXTRA_FIELDS
from gateway.masterdata.rows import (
    NUMBER_IDENTIFIER,
    RowError,
    RowValidator,
    columns_problem,
)
from gateway.pii import ContactVault
from schemas.housing import HouseRecord
from schemas.population import CredentialRecord, ResidentRecord
from schemas.privacy import Pseudonymizer, credential_ref, hash_id_number
from schemas.vehicles import VehicleRecord
from tests.gateway.masterdata.files import bad_check_digit, id_number

KEY = "row-test-hash-key-0123456789"
PSEUDONYMIZER = Pseudonymizer(KEY)
CONTACTS = ContactVault(KEY)
VALIDATOR = RowValidator("yida", GridMap.load(), PSEUDONYMIZER, CONTACTS)
NUMBER = id_number(203)
RESIDENT = {
    "id_type": "111",
    "id_number": NUMBER,
    "name": "雷小琴",
    "phone": "+86 138-1234-5678",
    "ethnicity": "1",
    "population_type": "registered",
    "house_code": "yida-3-2-1702",
    "relation": "owner",
    "since": "2020-05-01",
    "tags": "elderly_living_alone; key_care",
}


def rejection(dataset: str, row: dict[str, object]) -> tuple[str, str]:
    with pytest.raises(RowError) as refused:
        VALIDATOR.record(dataset, row)  # type: ignore[arg-type]
    return refused.value.field, refused.value.reason


class TestResidents:
    """ID numbers checked, hashed and masked; names and phones masked, sealed, fingerprinted."""

    def test_a_good_row(self) -> None:
        record = VALIDATOR.record("residents", RESIDENT)
        assert isinstance(record, ResidentRecord)
        person = record.person
        assert person.id_hash == hash_id_number(PSEUDONYMIZER, NUMBER)
        assert person.id_masked == NUMBER[:6] + "********" + NUMBER[-4:]
        assert (person.name_masked, person.phone_masked) == ("雷*琴", "138****5678")
        assert person.name_sealed is not None and person.phone_sealed is not None
        assert CONTACTS.open("name", person.name_sealed) == "雷小琴"
        assert CONTACTS.open("phone", person.phone_sealed) == "13812345678"
        assert person.phone_ref == CONTACTS.fingerprint("phone", "13812345678")
        assert (person.gender, person.birth_year) == ("male", 1988)
        assert (person.ethnicity, person.tags) == ("01", ("elderly_living_alone", "key_care"))
        assert (record.house_code, record.relation, str(record.since)) == (
            "yida-3-2-1702",
            "owner",
            "2020-05-01",
        )

    def test_id_type_by_canonical_name_and_default(self) -> None:
        by_name = VALIDATOR.record("residents", {**RESIDENT, "id_type": "household_register"})
        by_default = VALIDATOR.record("residents", {**RESIDENT, "id_type": ""})
        assert isinstance(by_name, ResidentRecord) and isinstance(by_default, ResidentRecord)
        assert by_name.person.id_type == "household_register"
        assert by_default.person.id_type == "resident_id_card"

    def test_a_lower_case_x_is_the_same_number(self) -> None:
        number = next(id_number(n) for n in range(1000) if id_number(n).endswith("X"))
        upper = VALIDATOR.record("residents", {**RESIDENT, "id_number": number})
        lower = VALIDATOR.record("residents", {**RESIDENT, "id_number": f" {number.lower()} "})
        assert isinstance(upper, ResidentRecord) and isinstance(lower, ResidentRecord)
        assert upper.person.id_hash == lower.person.id_hash

    def test_tags_as_a_json_list(self) -> None:
        record = VALIDATOR.record("residents", {**RESIDENT, "tags": ["disabled", "disabled"]})
        assert isinstance(record, ResidentRecord)
        assert record.person.tags == ("disabled",)

    def test_a_passport_has_no_birth_facts(self) -> None:
        row = {**RESIDENT, "id_type": "414", "id_number": "E12345678"}
        record = VALIDATOR.record(
            "residents", {**row, "population_type": "foreign", "nationality": "usa"}
        )
        assert isinstance(record, ResidentRecord)
        assert (record.person.gender, record.person.birth_year) == ("unknown", None)
        assert record.person.nationality == "USA"

    @pytest.mark.parametrize(
        ("change", "field", "reason"),
        [
            ({"id_number": bad_check_digit(NUMBER)}, "id_number", "fails the GB 11643 check digit"),
            (
                {"id_number": id_number(1, born="20991231")},
                "id_number",
                "has a birth date outside 1900 to today",
            ),
            (
                {"id_number": "430112198806142"},
                "id_number",
                "is not 17 digits followed by a digit or X",
            ),
            ({"id_number": ""}, "id_number", "is required"),
            (
                {"id_type": "115"},
                "id_type",
                "is not a GA/T 517 code (111, 112, 113, 414, 554, 990) or canonical name",
            ),
            (
                {"phone": "call 13812345678"},
                "phone",
                "not a phone number (5 to 20 digits, optional leading +)",
            ),
            ({"name": "张" * 65}, "name", "must be at most 64 characters"),
            ({"ethnicity": "57"}, "ethnicity", "is not a GB 3304 code (01 to 56, 97, 98)"),
            (
                {"population_type": "tourist"},
                "population_type",
                "must be one of registered, floating, foreign, unregistered, visitor",
            ),
            (
                {"population_type": "foreign"},
                "nationality",
                "is required for population_type foreign",
            ),
            ({"nationality": "XXX"}, "nationality", "is not a GB/T 2659 alpha-3 country code"),
            (
                {"house_code": "3-2 1702"},
                "house_code",
                "must be 1 to 64 of A-Z a-z 0-9 _ . -, a letter or digit first",
            ),
            (
                {"relation": "landlord"},
                "relation",
                "must be one of owner, spouse, child, parent, other_relative, tenant, employee,"
                " other",
            ),
            ({"since": "2020/05/01"}, "since", "must be an ISO date (YYYY-MM-DD)"),
            (
                {"tags": "key_care;13812345678"},
                "tags",
                "each tag must be snake_case: a-z first, then a-z 0-9 _ (at most 32)",
            ),
            ({"tags": [1]}, "tags", "must be a list of texts"),
            ({"name": ["雷小琴"]}, "name", "must be text or a number"),
            ({"mobile": "13812345678"}, "mobile", "is not a field of this dataset"),
            ({"13812345678": "x"}, "<column 11>", "is not a field of this dataset"),
        ],
    )
    def test_rejections_name_field_and_rule(
        self, change: dict[str, object], field: str, reason: str
    ) -> None:
        assert rejection("residents", {**RESIDENT, **change}) == (field, reason)

    def test_rejections_never_hold_a_value(self) -> None:
        planted = {
            "id_number": bad_check_digit(NUMBER),
            "name": "欧阳锋锋" * 20,
            "phone": "138 1234 567a",
        }
        for field, value in planted.items():
            assert all(
                value not in text for text in rejection("residents", {**RESIDENT, field: value})
            )


HOUSE = {
    "house_code": "yida-1-1-101",
    "building": "B01",
    "unit": "1",
    "floor": 1,
    "room": "101",
    "area_m2": "88.456",
    "usage": "rented",
    "registered_occupants": "3",
}


class TestHouses:
    """Places are names, the grid code agrees with the map (filled from it when empty)."""

    def test_a_good_row_gets_its_grid_from_the_map(self) -> None:
        record = VALIDATOR.record("houses", HOUSE)
        assert isinstance(record, HouseRecord)
        assert record.grid_code == GridMap.load().grid_of_building("yida", "B01").code  # type: ignore[union-attr]
        assert (record.floor, record.area_m2, record.usage) == ("1", Decimal("88.46"), "rented")
        assert record.registered_occupants == 3

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"grid_code": "430112003001999"}, "grid_code"),
            ({"area_m2": "-3"}, "area_m2"),
            ({"area_m2": "big"}, "area_m2"),
            ({"registered_occupants": "2.5"}, "registered_occupants"),
            ({"usage": "hotel"}, "usage"),
            ({"building": ""}, "building"),
            ({"room": "<b>101</b>"}, "room"),
            ({"room": "13812345678"}, "room"),
        ],
    )
    def test_rejections(self, change: dict[str, object], field: str) -> None:
        assert rejection("houses", {**HOUSE, **change})[0] == field

    def test_a_grid_that_contradicts_the_map(self) -> None:
        other = GridMap.load().grid_of_building("yida", "B01")
        grids = [g.code for c in GridMap.load() for g in c.grids if c.code == "yida"]
        wrong = next(code for code in grids if other is None or code != other.code)
        assert rejection("houses", {**HOUSE, "grid_code": wrong}) == (
            "grid_code",
            "contradicts the grid map, which places this building in another grid",
        )


class TestVehicles:
    """Plates are normalised as the adapters normalise them; the owner is a hash."""

    def test_a_good_row(self) -> None:
        row = {
            "plate_no": "湘A·8K2C6",
            "plate_color": "green",
            "owner_id_number": NUMBER,
            "house_code": "yida-3-2-1702",
            "vehicle_type": "轿车",
        }
        record = VALIDATOR.record("vehicles", row)
        assert isinstance(record, VehicleRecord)
        assert (record.plate_no, record.plate_color) == ("湘A8K2C6", "green")
        assert record.owner_id_hash == hash_id_number(PSEUDONYMIZER, NUMBER)

    def test_colour_defaults_to_blue(self) -> None:
        record = VALIDATOR.record("vehicles", {"plate_no": "湘A12345"})
        assert isinstance(record, VehicleRecord)
        assert (record.plate_color, record.owner_id_hash) == ("blue", None)

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"plate_no": "无车牌"}, "plate_no"),
            ({"plate_no": "湘"}, "plate_no"),
            ({"plate_color": "gold"}, "plate_color"),
            ({"house_code": "a b"}, "house_code"),
        ],
    )
    def test_rejections(self, change: dict[str, object], field: str) -> None:
        assert rejection("vehicles", {"plate_no": "湘A12345", **change})[0] == field


class TestCredentials:
    """Values hash in their kind's namespace, exactly as the adapters hash a device read."""

    def test_a_card_hashes_like_a_read_card(self) -> None:
        row = {
            "kind": "card",
            "value": " 0012345678 ",
            "owner_id_number": NUMBER,
            "since": "2024-01-01",
            "until": "2030-12-31",
        }
        record = VALIDATOR.record("credentials", row)
        assert isinstance(record, CredentialRecord)
        assert record.ref == credential_ref(PSEUDONYMIZER, "card", "0012345678")
        assert record.owner_id_hash == hash_id_number(PSEUDONYMIZER, NUMBER)

    @pytest.mark.parametrize(
        ("change", "field", "reason"),
        [
            ({"kind": "iris"}, "kind", "must be one of card, employee_no, cloud_user, id_number"),
            ({"until": "2023-12-31"}, "until", "is before since"),
            ({"owner_id_number": ""}, "owner_id_number", "is required"),
            ({"owner_id_number": "4" * 41}, "owner_id_number", "must be at most 40 characters"),
        ],
    )
    def test_rejections(self, change: dict[str, object], field: str, reason: str) -> None:
        row = {"kind": "card", "value": "1", "owner_id_number": NUMBER, "since": "2024-01-01"}
        assert rejection("credentials", {**row, **change}) == (field, reason)

    @pytest.mark.parametrize(
        "value", ["123456789012345678", NUMBER[:-1] + ("0" if NUMBER[-1] != "0" else "1"), "12345"]
    )
    def test_an_id_number_credential_is_checked_like_an_id_number(self, value: str) -> None:
        """An ID-card reader reads GB 11643 numbers: anything else could never match a read."""
        row: dict[str, object] = {"kind": "id_number", "value": value, "owner_id_number": NUMBER}
        field, reason = rejection("credentials", row)
        assert field == "value" and value not in reason

    def test_a_valid_id_number_credential_hashes_like_the_person(self) -> None:
        """Lower-case x and blanks normalised: the ref is the person's own ID hash."""
        row = {"kind": "id_number", "value": f" {NUMBER.lower()} ", "owner_id_number": NUMBER}
        record = VALIDATOR.record("credentials", row)
        assert isinstance(record, CredentialRecord)
        assert record.ref == hash_id_number(PSEUDONYMIZER, NUMBER)


class TestColumns:
    """A header must hold every required column and no unknown one; nothing else is judged."""

    def test_a_fitting_header(self) -> None:
        assert columns_problem("vehicles", ("plate_no",)) is None
        assert columns_problem("vehicles", ("plate_no", "", "")) is None  # a trailing separator

    def test_a_row_with_values_under_no_column_is_rejected(self) -> None:
        assert rejection("vehicles", {"plate_no": "湘A12345", EXTRA_FIELDS: 1}) == (
            "<row>",
            "has values under no named column of the header",
        )

    def test_unknown_missing_and_duplicated_columns(self) -> None:
        problem = columns_problem("houses", ("house_code", "room", "room", "remark", "13812345678"))
        assert problem == {
            "unknown": ["remark", "<column 5>"],
            "missing": ["building"],
            "duplicated": ["room"],
        }


CREDENTIAL = {"kind": "card", "value": "0012345678", "owner_id_number": NUMBER}


class TestNumbersAsIdentifiers:
    """Identifiers given as numbers (JSON numbers, Excel number cells) are rejected."""

    @pytest.mark.parametrize(
        ("dataset", "row", "field"),
        [
            ("residents", {**RESIDENT, "id_number": int(NUMBER[:17] + "0")}, "id_number"),
            ("residents", {**RESIDENT, "id_number": float(NUMBER[:17] + "0")}, "id_number"),
            ("residents", {**RESIDENT, "phone": 13812345678}, "phone"),
            ("residents", {**RESIDENT, "house_code": 31702}, "house_code"),
            ("credentials", {**CREDENTIAL, "value": 12345678}, "value"),
            (
                "credentials",
                {**CREDENTIAL, "owner_id_number": Decimal(NUMBER[:17])},
                "owner_id_number",
            ),
            ("vehicles", {"plate_no": 12345}, "plate_no"),
            ("houses", {"house_code": 101, "building": "B01"}, "house_code"),
        ],
    )
    def test_an_identifier_number_is_rejected(
        self, dataset: str, row: dict[str, object], field: str
    ) -> None:
        assert rejection(dataset, row) == (field, NUMBER_IDENTIFIER)

    def test_other_fields_take_numbers(self) -> None:
        row = {**HOUSE, "unit": 2, "room": 1702, "area_m2": 88.5, "registered_occupants": 3.0}
        record = VALIDATOR.record("houses", row)
        assert isinstance(record, HouseRecord)
        assert (record.unit, record.room, record.registered_occupants) == ("2", "1702", 3)


class TestOddValues:
    """Values whose conversion raises become the row's rejection, naming the field."""

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"area_m2": "NaN"}, "area_m2"),
            ({"area_m2": "Infinity"}, "area_m2"),
            ({"area_m2": "-inf"}, "area_m2"),
            ({"area_m2": "1e999999"}, "area_m2"),
            ({"area_m2": float("nan")}, "area_m2"),
            ({"registered_occupants": "²"}, "registered_occupants"),
            ({"registered_occupants": "١٢"}, "registered_occupants"),
            ({"registered_occupants": Decimal("9" * 5000)}, "registered_occupants"),
            ({"registered_occupants": {"\x00not_a_number": "NaN"}}, "registered_occupants"),
        ],
    )
    def test_rejected(self, change: dict[str, object], field: str) -> None:
        assert rejection("houses", {**HOUSE, **change})[0] == field

    def test_a_duplicate_key_rejects_the_row(self) -> None:
        assert rejection("houses", {**HOUSE, DUPLICATE_KEY: "room"}) == (
            "room",
            "duplicate_key: named twice",
        )

    def test_choices_ignore_case(self) -> None:
        record = VALIDATOR.record("vehicles", {"plate_no": "湘A12345", "plate_color": "BLUE"})
        assert isinstance(record, VehicleRecord)
        assert record.plate_color == "blue"


class TestUnprintableText:
    """Control and format characters are refused in every text field, as in names of places:
    a NUL made PostgreSQL refuse a whole chunk of valid rows, and a bidi override misleads."""

    @pytest.mark.parametrize("field", ["name", "phone", "relation", "since", "house_code"])
    @pytest.mark.parametrize("character", ["\x00", "\u202e", "\x1b", "\ufeff"])
    def test_a_resident_field_holding_one_is_rejected(self, field: str, character: str) -> None:
        value = str(RESIDENT[field])
        assert rejection("residents", {**RESIDENT, field: value[:1] + character + value[1:]}) == (
            field,
            "must be printable text, without control or format characters",
        )

    def test_credential_values_and_vehicle_types_too(self) -> None:
        assert (
            rejection(
                "credentials", {"kind": "card", "value": "12\x0034", "owner_id_number": NUMBER}
            )[0]
            == "value"
        )
        assert (
            rejection("vehicles", {"plate_no": "湘A12345", "vehicle_type": "K3\u200e3"})[0]
            == "vehicle_type"
        )


class TestTags:
    """Tags are snake_case ASCII tokens, at most 16 to a row."""

    @pytest.mark.parametrize("tags", ["雷小琴", "Key_care", "key-care", "_x", "a" * 33, "a b"])
    def test_a_tag_that_is_not_a_token_is_rejected(self, tags: str) -> None:
        assert rejection("residents", {**RESIDENT, "tags": tags})[0] == "tags"

    def test_at_most_16(self) -> None:
        many = ";".join(f"tag{n}" for n in range(17))
        assert rejection("residents", {**RESIDENT, "tags": many}) == (
            "tags",
            "must be at most 16 tags",
        )


class TestPlaces:
    """Buildings the grid map does not list, and formula-like places, are rejected."""

    def test_a_building_the_map_does_not_list(self) -> None:
        assert rejection("houses", {**HOUSE, "building": "B99"}) == (
            "building",
            "is not a building of this community in the grid map",
        )

    @pytest.mark.parametrize("field", ["building", "unit", "floor", "room"])
    @pytest.mark.parametrize("value", ["=1+1", "+1", "-2+3", "@SUM(A1)"])
    def test_formula_like_values(self, field: str, value: str) -> None:
        assert rejection("houses", {**HOUSE, field: value})[0] == field

    def test_a_basement_floor(self) -> None:
        record = VALIDATOR.record("houses", {**HOUSE, "floor": -1})
        assert isinstance(record, HouseRecord)
        assert record.floor == "-1"
