"""The personal-number tokenizer and its two predicates (`schemas.personal_numbers`)."""

from datetime import date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identity import gb11643_check_digit
from schemas.personal_numbers import (
    broad_number,
    fold,
    holds_broad_number,
    holds_strict_number,
    number_spans,
    strict_number,
)

ID_NUMBER = "430112199203154512"
"""Valid: its check digit is 2."""
MOBILE = "13912345678"


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


class TestFold:
    """Folding keeps one character for one, so spans point into the original text."""

    @pytest.mark.parametrize(
        ("text", "folded"),
        [
            ("１３９＿１２３４", "139_1234"),
            ("٠٧٣١", "0731"),
            ("４３０１１２Ｘ", "430112X"),
            ("139／1234", "139/1234"),
            ("℡139", "a139"),
            ("一三九〇", "1390"),
            ("壹叁玖零", "1390"),
            ("abc", "abc"),
        ],
    )
    def test_folding(self, text: str, folded: str) -> None:
        assert fold(text) == folded

    @settings(max_examples=300, deadline=None)
    @given(st.text())
    def test_length_is_kept(self, text: str) -> None:
        assert len(fold(text)) == len(text)


class TestChineseNumerals:
    """Numbers written digit by digit in Chinese numerals are numbers like any other."""

    @pytest.mark.parametrize(
        "text",
        [
            "一三九一二三四五六七八",
            "手机 壹叁玖 壹贰叁肆 伍陆柒捌",
            "四三〇一一二一九九二〇三一五四五一二",
        ],
    )
    def test_a_number_in_chinese_numerals_is_strict(self, text: str) -> None:
        assert holds_strict_number(text)

    @pytest.mark.parametrize("text", ["三栋一单元", "一号门 北", "二〇二六年十一月"])
    def test_ordinary_chinese_labels_are_not_numbers(self, text: str) -> None:
        assert not holds_broad_number(text)


class TestWrittenForms:
    """The reviewer's forms and their neighbours are strict (and so broad) numbers."""

    @pytest.mark.parametrize(
        "text",
        [
            "139_1234_5678",
            "tel:139:1234:5678",
            "139·1234·5678",
            "139—1234—5678",
            "139／1234／5678",
            "１３９＿１２３４＿５６７８",
            "13912345678x",
            "(+86) 139.1234.5678",
            "0086 _ 139 _ 1234 _ 5678",
            f"{ID_NUMBER}X",
            f"ID{ID_NUMBER}X",
            "430112_1992_0315_4512",
            _with_check("11010519491231002") + "-",
        ],
    )
    def test_strict(self, text: str) -> None:
        assert holds_strict_number(text)
        assert holds_broad_number(text)

    def test_an_x_closes_an_id_number_in_either_case_and_width(self) -> None:
        number = "11010519491231002X"
        assert gb11643_check_digit(number[:17]) == "X"
        for written in (number, number.lower(), number[:17] + "Ｘ", number[:17] + " x"):
            assert holds_strict_number(written)

    @pytest.mark.parametrize(
        "text",
        [
            "430112199203154519",  # wrong check digit: ID-shaped
            "430112920315451",  # a legacy 15-digit number
            "0731-8888-1234",
            "(010) 6552 9988",
            "+86 731 8888 1234",
            "0139 1234 5678",  # a mobile after a trunk 0
            "010-1234-5678",  # a big city's 3-digit area code, then any 8 digits
            "01012345678",
            "+86 10 1234 5678",
            "+86 21 1234 5678",
            "0086 20 0123 4567",
        ],
    )
    def test_broad_only(self, text: str) -> None:
        assert holds_broad_number(text)
        assert not holds_strict_number(text)

    @pytest.mark.parametrize(
        "text",
        [
            "34020000001320000001",  # a GB/T 28181 device code
            "1795651212000",  # epoch milliseconds
            "20261126080000",
            "2026-11-26 08:00:00",
            "2026-11-26T08:00:00+08:00 from 10.43.1.30:1883",
            "R20261126080012000301",
            "YD-N1-20261126-000123",
            "V2.1.0 build 241015",
            "batch of 20 messages committed in 3.5 ms",
            "OUYANGFENG",
        ],
    )
    def test_neither(self, text: str) -> None:
        assert not holds_broad_number(text)
        assert not holds_strict_number(text)

    def test_a_letter_ends_a_chain(self) -> None:
        assert not holds_strict_number("139a1234b5678")

    def test_a_long_gap_ends_a_chain(self) -> None:
        assert not holds_strict_number("139 -  - 1234 5678")

    def test_spans_point_at_the_written_number(self) -> None:
        text = "tel：１３９＿１２３４＿５６７８。"
        [(start, end)] = number_spans(text, broad=True)
        assert text[start:end] == "１３９＿１２３４＿５６７８"

    def test_a_birth_date_after_today_is_not_strict_but_broad(self) -> None:
        number = _with_check("43011220300101123")
        assert strict_number(number, today=date(2031, 1, 1))
        assert not strict_number(number, today=date(2029, 12, 31))
        assert broad_number(number, today=date(2029, 12, 31))


class TestIdNumberWithoutCheckCharacter:
    """An ID number's first 17 digits (region, birth date, sequence) are a strict number: the
    check character is computed from them, so they identify the person."""

    @pytest.mark.parametrize(
        "text",
        [
            "11010519491231002",  # a device id
            'spaceCode="11010519491231002"',
            "ID 11010519491231002 X",  # the X written apart
            "430112 19920315 451",
            "No.430112-1992-0315-451",
        ],
    )
    def test_strict(self, text: str) -> None:
        assert holds_strict_number(text)
        assert holds_broad_number(text)

    def test_a_birth_date_from_1900_to_today(self) -> None:
        assert strict_number("11010519000101002")
        assert not strict_number("11010518991231002")
        born = date.today().strftime("%Y%m%d")
        assert strict_number(f"110105{born}002")
        assert not strict_number(f"110105{born}002", today=date(2000, 1, 1))

    @pytest.mark.parametrize(
        "digits",
        [
            "91010519491231002",  # no region starts with 9
            "01010519491231002",
            "11010519491331002",  # no 13th month
            "11010519490230002",  # no 30 February
            "1101051949123100A",
        ],
    )
    def test_without_a_region_or_a_birth_date_it_is_not_strict(self, digits: str) -> None:
        assert not strict_number(digits)

    def test_legitimate_identifiers_are_neither(self) -> None:
        now = datetime.now()
        texts = [
            "34020000001320000001",  # a GB/T 28181 device code: one 20-digit group
            "34020000001320000001 11010519491231",  # …followed by a date-like group
            str(int(now.timestamp() * 1000)),  # epoch milliseconds
            f"{int(now.timestamp() * 1000)} 0001",
            f"R{now:%Y%m%d%H%M%S}000301",  # a record id
            f"R{now:%Y%m%d%H%M%S}001",
            f"{now:%Y%m%d%H%M%S}{now.microsecond // 1000:03d}",  # a 17-digit time
            f"{now:%Y%m%d} {now:%H%M%S} 001",
        ]
        for text in texts:
            assert not holds_strict_number(text), text
            assert not holds_broad_number(text), text

    @pytest.mark.parametrize(
        "text", ["430112001002003", "430112 001 002 003", "430112-001-002-003"]
    )
    def test_a_grid_code_is_not_strict(self, text: str) -> None:
        """A 15-digit grid code is stored (only shown hidden, as a legacy ID number born 1900)."""
        assert not holds_strict_number(text)


DIGIT_RUNS = st.text(st.sampled_from("0123456789"), min_size=1, max_size=19)
GAPS = st.text(st.sampled_from(" -_:.·—／()+\u3000Xxa"), min_size=0, max_size=5)


@st.composite
def number_like_texts(draw: st.DrawFn) -> str:
    """Digit groups with gaps between them, mobiles and ID numbers planted among them."""
    parts = draw(
        st.lists(
            DIGIT_RUNS | st.from_regex(r"\A1[3-9][0-9]{9}\Z") | st.just(ID_NUMBER),
            min_size=1,
            max_size=6,
        )
    )
    return "".join(part + draw(GAPS) for part in parts)


class TestBigCityLandlines:
    """After 010 or 02x (with 0, 86 or 0086 before), any 8 digits are a landline."""

    @settings(max_examples=300, deadline=None)
    @given(
        st.sampled_from(["0", "86", "0086", "+86 ", "(0", "+86-"]),
        st.sampled_from(["10", *(f"2{d}" for d in range(10))]),
        st.from_regex(r"\A[0-9]{8}\Z"),
        st.sampled_from(["", " ", "-", ") "]),
    )
    def test_any_8_digit_local_number_is_broad(
        self, prefix: str, area: str, local: str, gap: str
    ) -> None:
        if prefix == "(0":
            text = f"(0{area}){gap}{local[:4]} {local[4:]}"
        else:
            text = f"{prefix}{area}{gap}{local[:4]} {local[4:]}"
        assert holds_broad_number(text)


class TestBroadContainsStrict:
    """Every strict number is broad: on candidates and on any text."""

    @settings(max_examples=1000, deadline=None)
    @given(st.from_regex(r"\A[0-9]{10,18}X?\Z"))
    def test_on_candidates(self, digits: str) -> None:
        if strict_number(digits):
            assert broad_number(digits)

    @settings(max_examples=1000, deadline=None)
    @given(number_like_texts() | st.text(max_size=40))
    def test_on_texts(self, text: str) -> None:
        if holds_strict_number(text):
            assert holds_broad_number(text)
        strict_spans = set(number_spans(text, broad=False))
        broad_starts = {start for start, _ in number_spans(text, broad=True)}
        assert {start for start, _ in strict_spans} <= broad_starts
