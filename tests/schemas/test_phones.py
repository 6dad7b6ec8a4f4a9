"""One normal form for phone numbers before they are masked (`schemas.phones`)."""

import pytest

from schemas.phones import PHONE_RULE, normalise_phone


class TestNormalisePhone:
    """Separators and a mainland +86 / 0086 / 86 prefix go; anything else is refused."""

    @pytest.mark.parametrize(
        ("text", "normal"),
        [
            ("138 1234 5678", "13812345678"),
            ("+86 138-1234-5678", "13812345678"),
            ("0086(138)12345678", "13812345678"),
            ("8613812345678", "13812345678"),
            ("0731-8888 1234", "073188881234"),
            ("+4930123456", "+4930123456"),
            ("", ""),
        ],
    )
    def test_normal_form(self, text: str, normal: str) -> None:
        assert normalise_phone(text) == normal

    @pytest.mark.parametrize("text", ["1381234567a", "12-34", "tel:13812345678", "+"])
    def test_refused_without_the_value(self, text: str) -> None:
        with pytest.raises(ValueError, match="not a phone number") as refused:
            normalise_phone(text)
        assert str(refused.value) == PHONE_RULE
