"""GB 11643 numbers a living person can hold (`schemas.identity.is_resident_id_number`)."""

from datetime import date

import pytest

from schemas.identity import gb11643_check_digit, is_resident_id_number


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
