"""The plate alphabet and the GA 36 grammar a stored plate is judged by (`schemas.plates`)."""

import pytest

from schemas.plates import PLATE_CLASSES, PlateClass, is_standard_plate, plate_class, plate_problem

GRAMMAR = [
    ("civil", "湘A12345", "湘A1234"),
    ("civil", "京AC8B23", "湘AI2345"),
    ("new_energy_small", "湘AD12345", "湘AD1234A"),
    ("new_energy_small", "湘AFA1234", "湘AE12345"),
    ("new_energy_large", "湘A12345D", "湘A1234AD"),
    ("trailer", "湘A1234挂", "湘A12345挂"),
    ("coach", "湘A1234学", "湘A123学4"),
    ("police", "湘A0123警", "湘A01234警"),
    ("consulate", "沪A1234领", "沪A12345领"),
    ("hong_kong_macao", "粤Z1234港", "粤A1234港"),
    ("hong_kong_macao", "粤ZA123澳", "粤Z12345澳"),
    ("embassy", "使014578", "使01457"),
    ("military", "VA12345", "VA1234"),
    ("armed_police", "WJ粤1234X", "WJ粤123X"),
    ("armed_police", "WJ12345", "WJ粤12345X"),
    ("emergency", "琼X1234应急", "琼X123应急"),
]
"""(series, a plate that follows it, a near miss inside the alphabet that follows no series)."""


class TestPlateAlphabet:
    """Plate text is 5 to 10 characters of the plate alphabet; anything else is no plate."""

    @pytest.mark.parametrize(
        "plate", ["湘A12345", "AB123", "使014578", "琼X1234应急", "ABCDE12345", "WJ粤1234X"]
    )
    def test_plate_text(self, plate: str) -> None:
        assert plate_problem(plate) is None

    @pytest.mark.parametrize(
        "plate",
        [
            "",
            "湘A1",  # four characters
            "湘A123456789",  # eleven
            "13812345678",  # a mobile number is eleven digits
            "430112199001011230",  # an ID number eighteen
            "湘a12345",  # not normalised
            "湘A 1234",
            "<湘A12345>",
            "湘A1234试",  # not in the alphabet the gateway stores
            "台A12345",
            "Ж12345",
            "湘Ａ12345",
        ],
    )
    def test_not_plate_text(self, plate: str) -> None:
        assert plate_problem(plate) == "not_a_plate"


class TestGrammar:
    """Each series has a plate that follows its grammar and a near miss that follows none."""

    @pytest.mark.parametrize(("series", "plate", "near_miss"), GRAMMAR)
    def test_follows_its_series(self, series: str, plate: str, near_miss: str) -> None:
        found = plate_class(plate)
        assert found is not None and found.name == series
        assert is_standard_plate(plate)

    @pytest.mark.parametrize(("series", "plate", "near_miss"), GRAMMAR)
    def test_near_miss_is_plate_text_off_the_grammar(
        self, series: str, plate: str, near_miss: str
    ) -> None:
        assert plate_problem(near_miss) is None
        assert not is_standard_plate(near_miss)

    def test_every_series_is_covered_here(self) -> None:
        assert {series for series, _, _ in GRAMMAR} == {series.name for series in PLATE_CLASSES}

    @pytest.mark.parametrize("series", PLATE_CLASSES, ids=lambda series: series.name)
    def test_each_example_follows_its_series(self, series: PlateClass) -> None:
        assert plate_class(series.example) is series
