"""GB 11643 numbers a living person can hold, and the GA/T 517 certificate types
(`schemas.identity`)."""

from datetime import date

import pytest

from schemas.identity import (
    ID_TYPES,
    birth_facts,
    gb11643_check_digit,
    id_type_code,
    is_resident_id_number,
    resident_id_problem,
)


def number(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


class TestIsResidentIdNumber:
    """A valid check character and a birth date from 1900 up to today."""

    @pytest.mark.parametrize(
        "first17", ["43011219900101123", "11010519491231002", "11010519000101001"]
    )
    def test_valid(self, first17: str) -> None:
        assert is_resident_id_number(number(first17))

    def test_wrong_check_character(self) -> None:
        valid = number("43011219900101123")
        wrong = valid[:17] + ("1" if valid[17] != "1" else "2")
        assert not is_resident_id_number(wrong)

    def test_born_before_1900(self) -> None:
        assert not is_resident_id_number(number("43011218991231123"))

    @pytest.mark.parametrize("check", "0123456789X")
    def test_no_calendar_date(self, check: str) -> None:
        assert not is_resident_id_number("43011219900230123" + check)

    def test_born_after_today(self) -> None:
        future = number("43011220300101123")
        assert not is_resident_id_number(future, today=date(2029, 12, 31))
        assert is_resident_id_number(future, today=date(2030, 1, 1))

    @pytest.mark.parametrize("text", ["", "4301121990010112", "43011219900101123x"])
    def test_not_the_shape(self, text: str) -> None:
        assert not is_resident_id_number(text)

    @pytest.mark.parametrize("region", ["010101", "910101"])
    def test_region_outside_gbt2260(self, region: str) -> None:
        assert not is_resident_id_number(number(f"{region}19900101123"))


class TestResidentIdProblem:
    """18 characters, the GB 11643 check character and a birth date from 1900 to today."""

    def test_valid(self) -> None:
        assert resident_id_problem(number("43011219900101123")) is None

    def test_check_digit(self) -> None:
        valid = number("43011219900101123")
        wrong = valid[:17] + ("1" if valid[17] != "1" else "2")
        assert resident_id_problem(wrong) == "fails the GB 11643 check digit"

    def test_birth_date_after_today(self) -> None:
        future = number("43011220300101123")
        assert resident_id_problem(future, today=date(2029, 12, 31)) is not None
        assert resident_id_problem(future, today=date(2030, 1, 1)) is None

    def test_born_before_1900(self) -> None:
        assert resident_id_problem(number("43011218991231123")) is not None

    @pytest.mark.parametrize("text", ["", "4301121990010112", "430112900101123"])
    def test_shape(self, text: str) -> None:
        assert resident_id_problem(text) == "is not 17 digits followed by a digit or X"

    def test_reasons_never_hold_the_number(self) -> None:
        for text in (number("43011218991231123"), number("43011219900101123")[:17] + "0"):
            assert text not in (resident_id_problem(text) or "")


class TestIdTypes:
    """The six GA/T 517 types, found by code or canonical name, each with its number check."""

    def test_table(self) -> None:
        assert {code: entry.id_type for code, entry in ID_TYPES.items()} == {
            "111": "resident_id_card",
            "112": "temporary_id_card",
            "113": "household_register",
            "414": "passport",
            "554": "foreign_permanent_residence",
            "990": "other",
        }

    @pytest.mark.parametrize("code", ["111", "112", "113", "414", "554", "990"])
    def test_lookup_by_code_and_by_name(self, code: str) -> None:
        entry = ID_TYPES[code]
        assert id_type_code(code) is entry
        assert id_type_code(entry.id_type) is entry
        assert id_type_code(f" {code} ") is entry

    @pytest.mark.parametrize("value", ["", "115", "身份证", "Resident_ID_Card", "0111"])
    def test_unknown(self, value: str) -> None:
        assert id_type_code(value) is None

    @pytest.mark.parametrize("code", ["111", "112", "113"])
    def test_citizen_numbers_are_gb11643(self, code: str) -> None:
        check = ID_TYPES[code].problem
        assert check(number("43011219900101123")) is None
        assert check(number("43011219900101123")[:17] + "Y") is not None
        assert check("E12345678") is not None
        assert ID_TYPES[code].gb11643

    def test_foreign_permanent_residence_2023_card(self) -> None:
        check = ID_TYPES["554"].problem
        card = number("93115619900101123")
        assert check(card) is None
        assert check(card[:17] + ("1" if card[17] != "1" else "2")) is not None
        assert check(number("43011219900101123")) is not None  # a citizen's number: first digit

    @pytest.mark.parametrize(
        ("text", "valid"),
        [("USA110090101123", True), ("US1110090101123", False), ("USA11009010112", False)],
    )
    def test_foreign_permanent_residence_earlier_card(self, text: str, valid: bool) -> None:
        assert (ID_TYPES["554"].problem(text) is None) is valid

    @pytest.mark.parametrize(
        ("code", "text", "valid"),
        [
            ("414", "E12345678", True),
            ("414", "E1234", True),
            ("414", "E123", False),
            ("414", "E1234-5678", False),
            ("990", "C-1234", True),
            ("990", "C_12", False),
        ],
    )
    def test_shaped_types(self, code: str, text: str, valid: bool) -> None:
        assert (ID_TYPES[code].problem(text) is None) is valid
        assert not ID_TYPES[code].gb11643


class TestBirthFacts:
    """Gender from digit 17 (odd male) and birth year from digits 7 to 10 of an 18-character
    GB 11643 number; unknown for anything else."""

    def test_male(self) -> None:
        assert birth_facts(number("43011219880614203")) == ("male", 1988)

    def test_female(self) -> None:
        assert birth_facts(number("43011220010228124")) == ("female", 2001)

    @pytest.mark.parametrize("text", ["E12345678", "USA110090101123", "430112198806142039"])
    def test_unknown(self, text: str) -> None:
        if len(text) == 18:
            text = text[:17] + ("1" if gb11643_check_digit(text[:17]) != "1" else "2")
        assert birth_facts(text) == ("unknown", None)
