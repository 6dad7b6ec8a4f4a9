"""Specification of the master-data readers (`gateway.masterdata.readers`): rows and line
numbers of JSON, CSV (UTF-8, BOM, GBK) and XLSX, and files refused whole."""

import gc
import io
import sys
import zipfile
from datetime import date

import pytest

from gateway.masterdata.readers import (
    DUPLICATE_KEY,
    EXTRA_FIELDS,
    NOT_AN_OBJECT,
    FileError,
    open_table,
)
from tests.gateway.masterdata.files import csv_bytes, json_bytes, xlsx_bytes

COLUMNS = ("house_code", "building", "room")
ROWS = [
    {"house_code": "yida-1-1-101", "building": "B01", "room": "101室"},
    {"house_code": "yida-1-1-102", "building": "B01", "room": "102室"},
]


def read(
    data: bytes, file_format: str, charset: str | None = None
) -> list[tuple[int, dict[str, object]]]:
    table = open_table(io.BytesIO(data), file_format, charset)  # type: ignore[arg-type]
    return list(table.rows())


class TestCsv:
    """UTF-8 with or without BOM and GBK are detected; the header is line 1."""

    @pytest.mark.parametrize(
        ("encoding", "bom"), [("utf-8", False), ("utf-8", True), ("gbk", False)]
    )
    def test_encodings_are_detected(self, encoding: str, bom: bool) -> None:
        data = csv_bytes(COLUMNS, ROWS, encoding=encoding, bom=bom)
        table = open_table(io.BytesIO(data), "csv")
        assert table.columns == COLUMNS
        assert list(table.rows()) == [(2, ROWS[0]), (3, ROWS[1])]

    def test_a_declared_charset_is_honoured(self) -> None:
        data = csv_bytes(COLUMNS, ROWS, encoding="gbk")
        assert read(data, "csv", "GBK")[0][1]["room"] == "101室"
        with pytest.raises(FileError) as refused:
            read(data, "csv", "utf-8")
        assert refused.value.code == "bad_encoding"

    def test_an_unknown_charset_is_refused(self) -> None:
        with pytest.raises(FileError) as refused:
            open_table(io.BytesIO(csv_bytes(COLUMNS, ROWS)), "csv", "klingon")
        assert refused.value.code == "unsupported_charset"

    def test_blank_lines_are_skipped_and_numbers_kept(self) -> None:
        data = b"house_code,building\n\nyida-1,B01\n , \nyida-2,B02\n"
        assert [line for line, _ in read(data, "csv")] == [3, 5]

    def test_a_record_spanning_lines_has_its_first_line(self) -> None:
        data = b'house_code,building\n"yida-1","B\n01"\nyida-2,B02\n'
        assert [line for line, _ in read(data, "csv")] == [2, 4]

    def test_a_row_with_more_fields_than_the_header_is_marked(self) -> None:
        rows = read(b"house_code,building\nyida-1,B01,extra\n", "csv")
        assert rows[0][1][EXTRA_FIELDS] == 1

    def test_a_nameless_column_is_dropped_when_blank(self) -> None:
        rows = read(b"house_code,building,\nyida-1,B01,\nyida-2,B02,x\n", "csv")
        assert rows == [
            (2, {"house_code": "yida-1", "building": "B01"}),
            (3, {"house_code": "yida-2", "building": "B02", EXTRA_FIELDS: 1}),
        ]

    def test_header_cells_are_trimmed(self) -> None:
        table = open_table(io.BytesIO(b"\xef\xbb\xbf house_code , building\n"), "csv")
        assert table.columns == ("house_code", "building")

    def test_an_empty_file_has_no_header(self) -> None:
        with pytest.raises(FileError) as refused:
            open_table(io.BytesIO(b"\n\n"), "csv")
        assert refused.value.code == "empty_file"

    def test_check_counts_the_rows(self) -> None:
        table = open_table(io.BytesIO(csv_bytes(COLUMNS, ROWS * 50)), "csv")
        assert table.check() == 100


class TestJson:
    """Elements are numbered from 1; the file is read element by element."""

    def test_rows(self) -> None:
        assert read(json_bytes(ROWS), "json") == [(1, ROWS[0]), (2, ROWS[1])]

    def test_blank_space_and_a_bom_are_fine(self) -> None:
        data = b'\xef\xbb\xbf \n[ \n{"a": 1} ,\n {"a": [2, 3]}\n ]\n'
        assert read(data, "json") == [(1, {"a": 1}), (2, {"a": [2, 3]})]

    def test_an_empty_array(self) -> None:
        assert read(b"[ ]", "json") == []

    def test_elements_longer_than_a_read_chunk(self) -> None:
        rows = [{"room": "x" * 100_000, "n": n} for n in range(3)]
        assert [row["n"] for _, row in read(json_bytes(rows), "json")] == [0, 1, 2]

    def test_an_element_that_is_not_an_object_is_marked(self) -> None:
        assert read(b'[{"a": 1}, 7]', "json")[1] == (2, {NOT_AN_OBJECT: True})

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b'{"a": 1}', "the body is not a JSON array"),
            (b" ", "the body is not a JSON array"),
            (b'[{"a": 1}, {"a": ]', "element 2 of the JSON array is not valid JSON"),
            (b'[{"a": 1} {"a": 2}]', "element 2 of the JSON array is not valid JSON"),
            (b'[{"a": 1},]', "element 2 of the JSON array is not valid JSON"),
            (b'[{"a": 1}', "element 2 of the JSON array is not valid JSON"),
            (b'[{"a": 1}] x', "the body has text after its JSON array"),
        ],
    )
    def test_malformed_json_is_refused_whole(self, data: bytes, message: str) -> None:
        table = open_table(io.BytesIO(data), "json")
        with pytest.raises(FileError) as refused:
            table.check()
        assert (refused.value.code, refused.value.message) == ("bad_json", message)

    def test_refusals_never_quote_the_file(self) -> None:
        table = open_table(io.BytesIO(b'[{"id_number": 13812345678'), "json")
        with pytest.raises(FileError) as refused:
            table.check()
        assert "13812345678" not in f"{refused.value.message} {refused.value.details}"


class TestXlsx:
    """The first sheet: header on line 1, empty rows skipped, cells as the validators take them."""

    def test_rows(self) -> None:
        assert read(xlsx_bytes(COLUMNS, ROWS), "xlsx") == [(2, ROWS[0]), (3, ROWS[1])]

    def test_cells_become_plain_values(self) -> None:
        data = xlsx_bytes(
            ("room", "area_m2", "since", "house_code"),
            [{"room": 1702, "area_m2": 88.5, "since": date(2020, 1, 2), "house_code": None}],
        )
        expected = {"room": 1702, "area_m2": 88.5, "since": "2020-01-02", "house_code": None}
        assert read(data, "xlsx") == [(2, expected)]

    def test_empty_rows_are_skipped(self) -> None:
        data = xlsx_bytes(COLUMNS, [ROWS[0], {}, ROWS[1]])
        assert [line for line, _ in read(data, "xlsx")] == [2, 4]

    def test_cells_beyond_the_header_are_marked(self) -> None:
        data = xlsx_bytes((*COLUMNS, ""), [{**ROWS[0], "": "surplus"}])
        assert read(data, "xlsx")[0][1][EXTRA_FIELDS] == 1

    def test_a_file_that_is_not_a_workbook_is_refused(self) -> None:
        with pytest.raises(FileError) as refused:
            open_table(io.BytesIO(b"house_code\nyida-1\n"), "xlsx")
        assert refused.value.code == "bad_xlsx"


class TestRefusedFiles:
    """Empty bodies and declared charsets that are not text encodings are refused up front."""

    @pytest.mark.parametrize("file_format", ["json", "csv", "xlsx"])
    def test_an_empty_body_is_an_empty_file(self, file_format: str) -> None:
        with pytest.raises(FileError) as refused:
            open_table(io.BytesIO(b""), file_format)  # type: ignore[arg-type]
        assert refused.value.code == "empty_file"

    @pytest.mark.parametrize(
        "charset", ["rot13", "base64", "hex", "bz2", "uu", "utf-16", "punycode", "nonsense"]
    )
    def test_codecs_that_are_not_text_encodings_are_refused(self, charset: str) -> None:
        data = csv_bytes(COLUMNS, ROWS)
        with pytest.raises(FileError) as refused:
            open_table(io.BytesIO(data), "csv", charset)
        assert refused.value.code == "unsupported_charset"

    @pytest.mark.parametrize("charset", ["utf-8", "UTF8", "gbk", "GB2312", "gb18030", "ascii"])
    def test_text_encodings_are_read(self, charset: str) -> None:
        rows = [{**row, "room": "101"} for row in ROWS]
        assert len(read(csv_bytes(COLUMNS, rows), "csv", charset)) == 2

    @pytest.mark.parametrize("depth", [100_000, 2_000_000])
    def test_json_nested_past_the_interpreters_limit_is_bad_json(self, depth: int) -> None:
        """A RecursionError in the decoder is the file's refusal, never a 500."""
        body = b"[" * depth + b"]" * depth
        with pytest.raises(FileError) as refused:
            read(body, "json")
        assert refused.value.code == "bad_json"

    def test_json_declared_in_another_charset_is_refused(self) -> None:
        with pytest.raises(FileError) as refused:
            open_table(io.BytesIO(json_bytes(ROWS)), "json", "gbk")
        assert refused.value.code == "unsupported_charset"

    def test_a_reader_dropped_after_its_file_closed_warns_nothing(self) -> None:
        file = io.BytesIO(csv_bytes(COLUMNS, ROWS))
        rows = open_table(file, "csv").rows()
        next(rows)
        file.close()
        unraisable: list[object] = []
        previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
        try:
            del rows
            gc.collect()
        finally:
            sys.unraisablehook = previous
        assert unraisable == []


class TestJsonValues:
    """JSON values no field can take are marked, never raised."""

    def test_a_duplicate_key_is_marked(self) -> None:
        assert read(b'[{"room": "1", "room": "2"}]', "json")[0][1][DUPLICATE_KEY] == "room"

    def test_a_5000_digit_integer_is_read(self) -> None:
        value = read(b'[{"room": ' + b"9" * 5000 + b"}]", "json")[0][1]["room"]
        assert len(str(value)) == 5000

    def test_nan_is_not_a_number(self) -> None:
        assert not isinstance(read(b'[{"area_m2": NaN}]', "json")[0][1]["area_m2"], float)


class TestXlsxDimensions:
    """A sheet declaring the largest dimension is read at the size of what it holds."""

    def test_a_declared_a1_xfd1048576_sheet_reads_its_cells_only(self) -> None:
        data = _with_dimension(xlsx_bytes(COLUMNS, ROWS), "A1:XFD1048576")
        table = open_table(io.BytesIO(data), "xlsx")
        assert table.columns == COLUMNS
        assert [len(row) for _, row in table.rows()] == [3, 3]


def _with_dimension(data: bytes, ref: str) -> bytes:
    """The workbook with its first sheet's `<dimension ref>` replaced."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                start = content.index(b"<dimension ref=")
                end = content.index(b"/>", start) + 2
                content = content[:start] + f'<dimension ref="{ref}"/>'.encode() + content[end:]
            target.writestr(item, content)
    return out.getvalue()
