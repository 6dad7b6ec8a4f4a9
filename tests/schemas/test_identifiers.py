"""The identifier and name rules (`schemas.identifiers`): personal numbers cannot ride in one."""

import unicodedata
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.identifiers import (
    DEVICE_ID_PATTERN,
    device_id_problem,
    looks_like_personal_number,
    name_problem,
)
from schemas.identity import gb11643_check_digit
from schemas.personal_numbers import fold

TODAY = date.today()

BIRTH_DATES = st.dates(min_value=date(1900, 1, 1), max_value=TODAY)
ID_NUMBERS = st.builds(
    lambda region, born, sequence: _with_check(f"{region}{born:%Y%m%d}{sequence}"),
    st.from_regex(r"\A[1-8][0-9]{5}\Z"),
    BIRTH_DATES,
    st.from_regex(r"\A[0-9]{3}\Z"),
)
"""Valid GB 11643 numbers with a birth date a living person can have."""
MOBILES = st.from_regex(r"\A1[3-9][0-9]{9}\Z")
"""Mainland mobile numbers."""

SEPARATORS = st.sampled_from([" ", "-", ".", "_", "/", " - ", "\u3000", "–"])
DEVICE_SEPARATORS = st.sampled_from(["-", ".", "_", ":"])


def _with_check(first17: str) -> str:
    return first17 + gb11643_check_digit(first17)


def _full_width(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "0" <= char <= "9" else char for char in text)


@st.composite
def written_mobiles(draw: st.DrawFn, separators: st.SearchStrategy[str] = SEPARATORS) -> str:
    """A mobile as people write it: grouped or not, with or without a country prefix."""
    number = draw(MOBILES)
    gap = draw(st.sampled_from(["", draw(separators)]))
    written = gap.join((number[:3], number[3:7], number[7:]))
    prefix = draw(st.sampled_from(["", "86", "0086", "+86", "(+86)", "+86 ", "0086-"]))
    if separators is DEVICE_SEPARATORS:
        prefix = prefix.strip("+() ") + (gap if prefix else "")
    written = prefix + written
    return _full_width(written) if draw(st.booleans()) and separators is SEPARATORS else written


@st.composite
def written_id_numbers(draw: st.DrawFn, separators: st.SearchStrategy[str] = SEPARATORS) -> str:
    """An ID number as people write it: in one run or as 6-8-4 groups, X in either case."""
    number = draw(ID_NUMBERS)
    if number.endswith("X") and draw(st.booleans()):
        number = number[:-1] + "x"
    gap = draw(st.sampled_from(["", draw(separators)]))
    written = gap.join((number[:6], number[6:14], number[14:]))
    return _full_width(written) if draw(st.booleans()) and separators is SEPARATORS else written


def _no_digit(char: str) -> bool:
    """Neither a digit in any script nor a Chinese numeral (both fold to a digit)."""
    folded = unicodedata.normalize("NFKC", char)
    return not any(part.isdigit() for part in folded) and not fold(char).isdigit()


CONTEXT = st.text(
    st.characters(codec="utf-8", categories=["L", "Zs", "P", "S"]).filter(_no_digit), max_size=12
)
"""Text around a planted number: anything but digits (numerals too), which would make it
another number."""
DEVICE_CONTEXT = st.text(st.sampled_from("ABCXYZabcxyz_.:-"), max_size=10)


class TestPersonalNumbers:
    """Valid ID numbers and mobiles are found anywhere, however written; other numbers are not."""

    @settings(max_examples=300, deadline=None)
    @given(before=CONTEXT, number=written_mobiles() | written_id_numbers(), after=CONTEXT)
    def test_found_anywhere_in_text(self, before: str, number: str, after: str) -> None:
        assert looks_like_personal_number(before + number + after)

    @pytest.mark.parametrize(
        "text",
        [
            "Door 2 138 1234 5678",
            "3栋1单元 13812345678号",
            "tel:+86-138-1234-5678",
            "(0086) 139 8765 4321 lane",
            "430112 19900101 1230",
            "id 11010519491231002x",
            "１３８１２３４５６７８",
            "lane 12 1381234 5678",
        ],
    )
    def test_written_examples(self, text: str) -> None:
        assert looks_like_personal_number(text)

    @settings(max_examples=200, deadline=None)
    @given(code=st.from_regex(r"\A[0-9]{20}\Z"))
    def test_a_20_digit_device_code_is_no_personal_number(self, code: str) -> None:
        assert not looks_like_personal_number(code)

    @pytest.mark.parametrize(
        "text",
        [
            "1381234567",  # ten digits
            "138123456789",  # twelve
            "12812345678",  # 12x is no mobile prefix
            "430112199001011231",  # wrong check digit
            "430112189912311234",  # born in 1899
            "430112209901011234",  # born in the future
            "430112199002301234",  # 30 February
            "4301121990010112301",  # nineteen digits
            "2026-11-26 08:00:00",
            "1795651212000",  # epoch milliseconds
            "34020000001320000301",
            "http://10.1.2.30/picture/20261126/080000_0101.jpg",
        ],
    )
    def test_other_numbers(self, text: str) -> None:
        assert not looks_like_personal_number(text)

    def test_a_birth_date_after_today_is_implausible(self) -> None:
        number = _with_check("43011220300101123")
        assert looks_like_personal_number(number, today=date(2031, 1, 1))
        assert not looks_like_personal_number(number, today=date(2029, 12, 31))


class TestDeviceIds:
    """Device ids use a small alphabet, never `..`, and never hold a personal number."""

    @settings(max_examples=300, deadline=None)
    @given(
        before=DEVICE_CONTEXT,
        number=written_mobiles(DEVICE_SEPARATORS) | written_id_numbers(DEVICE_SEPARATORS),
        after=DEVICE_CONTEXT,
    )
    def test_personal_number_anywhere_is_pii(self, before: str, number: str, after: str) -> None:
        problem = device_id_problem(before + number + after)
        assert problem is not None and problem.reason == "pii_in_identifier"

    @settings(max_examples=200, deadline=None)
    @given(code=st.from_regex(r"\A[0-9]{20}\Z"))
    def test_20_digit_gbt28181_codes_pass(self, code: str) -> None:
        assert device_id_problem(code) is None

    @settings(max_examples=200, deadline=None)
    @given(device_id=st.from_regex(DEVICE_ID_PATTERN.replace("$", r"\Z"), fullmatch=True))
    def test_pattern_without_dots_or_numbers_passes(self, device_id: str) -> None:
        if ".." not in device_id and not looks_like_personal_number(device_id):
            assert device_id_problem(device_id) is None

    @pytest.mark.parametrize(
        "device_id",
        ["YD-GATE-N1", "vc-yida-01", "cam:1.2", "a_b", "x" * 64, "43011200001320000017"],
    )
    def test_ordinary_ids_pass(self, device_id: str) -> None:
        assert device_id_problem(device_id) is None

    @pytest.mark.parametrize(
        ("device_id", "detail"),
        [
            ("", "is empty"),
            ("x" * 65, "is longer than 64 characters"),
            ("门禁1", "has characters outside 0-9 A-Z a-z _ . : -"),
            ("dev 1", "has characters outside 0-9 A-Z a-z _ . : -"),
            ("dev/1", "has characters outside 0-9 A-Z a-z _ . : -"),
            ("..etc", "contains '..'"),
            ("a..b", "contains '..'"),
        ],
    )
    def test_bad_device_ids(self, device_id: str, detail: str) -> None:
        problem = device_id_problem(device_id)
        assert problem is not None and (problem.reason, problem.detail) == (
            "bad_device_id",
            detail,
        )

    def test_personal_number_outside_the_alphabet_is_still_named_as_such(self) -> None:
        problem = device_id_problem("+86 138 1234 5678")
        assert problem is not None and problem.reason == "pii_in_identifier"

    @pytest.mark.parametrize("device_id", ["11010519491231002", "id-43011219920315451"])
    def test_an_id_number_without_its_check_character_is_pii(self, device_id: str) -> None:
        problem = device_id_problem(device_id)
        assert problem is not None and problem.reason == "pii_in_identifier"


WORDS = st.text(
    st.characters(codec="utf-8", categories=["L"]).filter(_no_digit), min_size=1, max_size=6
)
SHORT_NUMBERS = st.from_regex(r"\A[0-9]{1,4}\Z")


@st.composite
def ordinary_names(draw: st.DrawFn) -> str:
    """Names as devices carry them: words, with short numbers between (`3栋1单元门`)."""
    parts = draw(st.lists(st.tuples(WORDS, SHORT_NUMBERS | st.just("")), min_size=1, max_size=5))
    gap = draw(st.sampled_from(["", " ", "-"]))
    return gap.join(word + number for word, number in parts)[:64]


class TestNames:
    """Names are printable, short, without markup or a personal number."""

    @settings(max_examples=300, deadline=None)
    @given(name=ordinary_names())
    def test_ordinary_names_pass(self, name: str) -> None:
        assert name_problem(name) is None

    @pytest.mark.parametrize(
        "name",
        [
            "3栋1单元门",
            "B03 north fire lane",
            "A&B gate",
            "Lane 2 (in)",
            "2026-11-26 08:00 车库",
            "34020000001320000101",
            "  B03  ",
            "x" * 64,
        ],
    )
    def test_examples_pass(self, name: str) -> None:
        assert name_problem(name) is None

    @settings(max_examples=300, deadline=None)
    @given(before=CONTEXT, number=written_mobiles() | written_id_numbers(), after=CONTEXT)
    def test_personal_number_anywhere(self, before: str, number: str, after: str) -> None:
        assert name_problem(before + number + after) == "pii_in_identifier"

    @pytest.mark.parametrize(
        "name", ["ID 11010519491231002 X", "11010519491231002", "门11010519491231002"]
    )
    def test_an_id_number_without_its_check_character(self, name: str) -> None:
        assert name_problem(name) == "pii_in_identifier"

    @pytest.mark.parametrize(
        "name",
        [
            "<b>3栋</b>",
            "door>",
            "＜script＞",
            "B03 &lt;door&gt;",
            "&#60;x",
            "&#x3C;x",
            "JavaScript:alert(1)",
            "vbscript :x",
        ],
    )
    def test_markup(self, name: str) -> None:
        assert name_problem(name) == "markup"

    @pytest.mark.parametrize(
        "name", ["a\x00b", "a\nb", "a\tb", "a\x7fb", "a\u202eb", "a\u200bb", "a\ue000b", "a\u2028b"]
    )
    def test_unprintable(self, name: str) -> None:
        assert name_problem(name) == "not_printable"

    def test_too_long(self) -> None:
        assert name_problem("x" * 65) == "too_long"
        assert name_problem("x" * 65, max_length=256) is None


class TestVerdictsAreRememberedOnlyForClearTexts:
    def test_a_clear_text_is_remembered_and_a_personal_number_never(self) -> None:
        from schemas import identifiers

        identifiers._clear_texts.clear()
        assert not identifiers.looks_like_personal_number("43011200001320000105")
        assert identifiers.looks_like_personal_number("door 139 1234 5678")
        assert identifiers.looks_like_personal_number("door 139 1234 5678")
        remembered = {text for text, _ in identifiers._clear_texts}
        assert remembered == {"43011200001320000105"}

    def test_a_number_judged_for_another_day_is_judged_anew(self) -> None:
        from datetime import date, timedelta

        from schemas import identifiers
        from schemas.identity import gb11643_check_digit

        tomorrow = date.today() + timedelta(days=1)
        first17 = f"110105{tomorrow:%Y%m%d}002"
        number = first17 + gb11643_check_digit(first17)
        assert not identifiers.looks_like_personal_number(number)
        assert identifiers.looks_like_personal_number(number, today=tomorrow)
