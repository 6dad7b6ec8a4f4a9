"""Master data files in the three formats the importer takes, with the import field names."""

import csv
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from simulators.community import generate_yida
from simulators.export import CSV_ENCODINGS, cell, export_master_data
from simulators.masterdata import DATASETS, FIELDS, MasterData, community_master_data


@pytest.fixture(scope="module")
def yida() -> MasterData:
    return community_master_data(generate_yida())


def as_cells(row: dict[str, object], fields: tuple[str, ...]) -> list[str]:
    return [cell(row[name]) for name in fields]


class TestCell:
    """A cell holds one string: lists `;`-joined, None empty."""

    def test_values(self) -> None:
        assert cell(["elderly_living_alone", "disabled"]) == "elderly_living_alone;disabled"
        assert cell(None) == ""
        assert cell([]) == ""
        assert cell(3) == "3"


class TestFormats:
    """Each format holds the same rows, in order, header first."""

    def test_json_is_an_array_of_the_rows(self, yida: MasterData, tmp_path: Path) -> None:
        paths = export_master_data(yida, tmp_path, "json")
        assert [p.name for p in paths] == [f"yida-{d}.json" for d in DATASETS]
        for dataset, path in zip(DATASETS, paths, strict=True):
            assert json.loads(path.read_text(encoding="utf-8")) == yida.rows(dataset)

    @pytest.mark.parametrize("encoding", CSV_ENCODINGS)
    def test_csv_in_each_encoding(self, yida: MasterData, tmp_path: Path, encoding: str) -> None:
        paths = export_master_data(yida, tmp_path, "csv", encoding=encoding)
        residents = paths[DATASETS.index("residents")]
        raw = residents.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf") == (encoding == "utf-8-sig")
        with residents.open(encoding=encoding, newline="") as handle:
            lines = list(csv.reader(handle))
        fields = FIELDS["residents"]
        assert tuple(lines[0]) == fields
        assert lines[1:] == [as_cells(row, fields) for row in yida.rows("residents")]

    def test_xlsx_first_sheet_holds_text_cells(self, yida: MasterData, tmp_path: Path) -> None:
        paths = export_master_data(yida, tmp_path, "xlsx")
        houses = paths[DATASETS.index("houses")]
        sheet = load_workbook(houses, read_only=True).worksheets[0]
        values = [
            [v if v is not None else "" for v in row] for row in sheet.iter_rows(values_only=True)
        ]
        fields = FIELDS["houses"]
        assert tuple(values[0]) == fields
        assert values[1:] == [as_cells(row, fields) for row in yida.rows("houses")]
        assert values[1][fields.index("room")] == "0101"
