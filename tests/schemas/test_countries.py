"""GB/T 2659 (ISO 3166-1) alpha-3 codes for a person's nationality (`schemas.countries`)."""

import pytest

from schemas.countries import COUNTRY_CODES, is_country_code


class TestCountryCodes:
    """Every ISO 3166-1 alpha-3 code, upper case as written, and nothing else."""

    def test_the_whole_table(self) -> None:
        assert len(COUNTRY_CODES) == 249
        assert all(len(code) == 3 and code.isalpha() and code.isupper() for code in COUNTRY_CODES)

    @pytest.mark.parametrize("code", ["CHN", "USA", "KOR", "HKG", "MAC", "TWN", "DEU"])
    def test_known(self, code: str) -> None:
        assert is_country_code(code)

    @pytest.mark.parametrize("code", ["", "CN", "chn", "XXX", "UK", "EU", "CHN "])
    def test_unknown(self, code: str) -> None:
        assert not is_country_code(code)
