"""Specification of plate normalisation and the plate-colour code tables (`adapters.plates`)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.plates import (
    GAT1400_PLATE_COLORS,
    JTT415_PLATE_COLORS,
    normalise_plate,
    plate_color,
)
from schemas.codes import PlateColor
from schemas.plates import is_standard_plate


class TestSeparatorsAndCase:
    """Separators go and letters are upper-cased, so one plate is always one string."""

    @pytest.mark.parametrize(
        "raw",
        [
            "湘A12345",
            "湘A·12345",
            "湘A•12345",
            "湘A・12345",
            "湘A 12345",
            "湘A-12345",
            "湘A_12345",
            "湘A.12345",
            " 湘A12345\n",
            "湘 A · 1 2 3 4 5",
            "湘a12345",
            "湘A\t12345",
        ],
    )
    def test_ordinary_plate(self, raw: str) -> None:
        assert normalise_plate(raw) == "湘A12345"

    def test_lower_case_letters_in_the_serial(self) -> None:
        assert normalise_plate("湘a·c8b23") == "湘AC8B23"

    @pytest.mark.parametrize("raw", ["湘Ａ１２３４５", "湘Ａ　１２３４５", "湘ａ－１２３４５"])
    def test_full_width_forms_become_ascii(self, raw: str) -> None:
        assert normalise_plate(raw) == "湘A12345"

    def test_class_mark_is_kept(self) -> None:
        assert normalise_plate("湘A·1234挂") == "湘A1234挂"


class TestNewEnergyPlates:
    """Eight-character new-energy plates are normalised like ordinary seven-character ones."""

    @pytest.mark.parametrize(
        ("raw", "plate"),
        [
            ("湘AD12345", "湘AD12345"),  # small new-energy car: D (electric) after the city
            ("湘A·F88888", "湘AF88888"),  # small new-energy car: F (hybrid)
            ("湘A 12345D", "湘A12345D"),  # large new-energy vehicle: the letter at the end
            ("湘a·d12345", "湘AD12345"),
        ],
    )
    def test_eight_characters(self, raw: str, plate: str) -> None:
        assert normalise_plate(raw) == plate
        assert len(plate) == 8


class TestNoPlate:
    """Empty reads and the placeholders devices write for an unread plate mean no plate."""

    @pytest.mark.parametrize(
        "raw",
        [
            None,
            "",
            "   ",
            "·",
            "未识别",
            " 未识别 ",
            "无车牌",
            "无牌",
            "无牌车",
            "车牌",
            "未知",
            "none",
            "NULL",
            "Unknown",
            "-",
            "--",
        ],
    )
    def test_placeholder(self, raw: str | None) -> None:
        assert normalise_plate(raw) is None


class TestOtherPlates:
    """Normalising keeps any text: judging it is the event's screen (`schemas.plates`)."""

    @pytest.mark.parametrize(
        ("raw", "plate"),
        [("AB 1234", "AB1234"), ("湘A1", "湘A1"), ("ABC-123-XYZ-000", "ABC123XYZ000")],
    )
    def test_kept_normalised(self, raw: str, plate: str) -> None:
        assert normalise_plate(raw) == plate


class TestNormalisedPlatesAreStandard:
    """Every spelling of a standard plate normalises to text the GA 36 grammar accepts."""

    @pytest.mark.parametrize("raw", ["湘a·12345", "湘A 12345D", "湘Ａ１２３４５", "粤Z·1234港"])
    def test_normalised_plates_qualify(self, raw: str) -> None:
        plate = normalise_plate(raw)
        assert plate is not None
        assert is_standard_plate(plate)


class TestGat1400Colours:
    """The GA/T 1400 colour table is exactly the standard's codes."""

    def test_table(self) -> None:
        assert GAT1400_PLATE_COLORS == {
            1: "black",
            2: "white",
            3: "grey",
            4: "red",
            5: "blue",
            6: "yellow",
            7: "orange",
            8: "brown",
            9: "green",
            10: "purple",
            11: "cyan",
            12: "pink",
            13: "transparent",
            99: "other",
        }

    @pytest.mark.parametrize(("code", "colour"), sorted(GAT1400_PLATE_COLORS.items()))
    def test_every_code(self, code: int, colour: str) -> None:
        assert plate_color(code, GAT1400_PLATE_COLORS) == colour


class TestJtt415Colours:
    """The JT/T 415 plate colour table is exactly the standard's codes."""

    def test_table(self) -> None:
        assert JTT415_PLATE_COLORS == {
            1: "blue",
            2: "yellow",
            3: "black",
            4: "white",
            5: "green",
            9: "other",
        }

    @pytest.mark.parametrize(("code", "colour"), sorted(JTT415_PLATE_COLORS.items()))
    def test_every_code(self, code: int, colour: str) -> None:
        assert plate_color(code, JTT415_PLATE_COLORS) == colour

    def test_same_colour_has_different_codes_in_the_two_tables(self) -> None:
        assert plate_color(1, JTT415_PLATE_COLORS) == "blue"
        assert plate_color(1, GAT1400_PLATE_COLORS) == "black"


class TestPlateColor:
    """No code is `unknown`; a code outside the table is `other`, never an error."""

    @pytest.mark.parametrize("table", [GAT1400_PLATE_COLORS, JTT415_PLATE_COLORS])
    def test_no_code_is_unknown(self, table: dict[int, PlateColor]) -> None:
        assert plate_color(None, table) == "unknown"

    @pytest.mark.parametrize("code", [0, 14, 42, 98, 100, -1])
    def test_unlisted_gat1400_code_is_other(self, code: int) -> None:
        assert plate_color(code, GAT1400_PLATE_COLORS) == "other"

    @pytest.mark.parametrize("code", [0, 6, 7, 8, 10, 91])
    def test_unlisted_jtt415_code_is_other(self, code: int) -> None:
        assert plate_color(code, JTT415_PLATE_COLORS) == "other"


PLATE_ALPHABET = st.sampled_from(
    list("湘京粤沪ABCDFHKZabcdfhkz0123456789挂学警港澳·•・ -_.\t　Ａａ１－未识别无牌车")
)


class TestNormalisationProperties:
    """Normalising is idempotent and leaves no separators or lower-case letters."""

    @settings(max_examples=150, deadline=None)
    @given(raw=st.text(PLATE_ALPHABET, max_size=12) | st.text(max_size=12))
    def test_idempotent(self, raw: str) -> None:
        once = normalise_plate(raw)
        assert normalise_plate(once) == once

    @settings(max_examples=150, deadline=None)
    @given(raw=st.text(PLATE_ALPHABET, max_size=12))
    def test_no_separator_or_lower_case_remains(self, raw: str) -> None:
        plate = normalise_plate(raw)
        if plate is not None:
            assert plate
            assert not any(char in plate for char in "·•・ -_.\t　")
            assert plate == plate.upper()
