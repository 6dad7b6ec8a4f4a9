"""The rows of a master-data file: a JSON array of objects, CSV with a header row, or the first
sheet of an Excel workbook, each yielding `(line, row)` lazily so a large file streams.

Line numbers are what a person opening the file sees: CSV and Excel count the header as line 1
(a CSV record spanning lines is numbered by its first); JSON numbers the array's elements from
1. Blank CSV lines and empty sheet rows are skipped (their numbers are not reused).

CSV text is UTF-8 (with or without a BOM) or GBK, as Chinese property systems export it. A
declared charset is honoured when it is a text encoding of `_CHARSETS` (any other is refused
before a byte is read); without one the file is read as UTF-8 when every byte of it decodes so
(one streaming pass), else as GB 18030 (a superset of GBK and GB 2312). An empty body, JSON
or sheet values no field can take (duplicate keys, NaN, integers beyond 18 digits) and sheets
declaring huge dimensions are handled here so that no later step raises on them.

The readers work on a seekable binary file (the API spools a request body to one, the CLI opens
the file), so `Table.check` can read the whole file once before anything is applied: a file
that cannot be read to its end is refused whole, never half-imported.
"""

import codecs
import csv
import io
import json
from collections.abc import Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Final, Literal

from openpyxl import load_workbook
from openpyxl.worksheet._read_only import ReadOnlyWorksheet

FileFormat = Literal["json", "csv", "xlsx"]
Row = dict[str, object]
NumberedRow = tuple[int, Row]

MEDIA_TYPES: Final[dict[str, FileFormat]] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}
"""Content type -> format, for the API and for the CLI's upload."""

SUFFIXES: Final[dict[str, FileFormat]] = {".json": "json", ".csv": "csv", ".xlsx": "xlsx"}

_SCAN_BYTES: Final = 1 << 16
_GBK: Final = "gb18030"
_CHARSETS: Final = {
    "utf-8": "utf-8-sig",
    "utf8": "utf-8-sig",
    "utf-8-sig": "utf-8-sig",
    "gbk": _GBK,
    "gb2312": _GBK,
    "gb18030": _GBK,
    "ascii": "ascii",
    "us-ascii": "ascii",
    "latin-1": "latin-1",
    "latin1": "latin-1",
    "iso-8859-1": "latin-1",
    "iso8859-1": "latin-1",
}
"""The charsets a CSV may declare, and the codec each is read with: real text encodings only
(Python's codec registry also knows rot13, base64, bz2, utf-16 and others that no property
export uses and whose errors are not decode errors). UTF-8 may carry a BOM either way; GBK
and GB 2312 files are read with their superset."""
_JSON_CHARSETS: Final = frozenset({"utf-8", "utf8", "utf-8-sig", "ascii", "us-ascii"})
"""A JSON body is UTF-8 (RFC 8259); ASCII is a subset of it."""

MAX_COLUMNS: Final = 64
"""Columns read from a sheet: the datasets have at most 10, and a workbook may declare (and
openpyxl then pad every row to) 16,384."""

_SMALL_INT_DIGITS: Final = 18
"""A JSON integer with more digits is kept as a `Decimal`: `int()` of a 5,000-digit one raises,
and no field takes one (identifier fields refuse numbers)."""


class FileError(Exception):
    """The file cannot be read as a table (not its rows: the file). Messages never quote it."""

    def __init__(self, code: str, message: str, details: object = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass
class Table:
    """A file's header (None for JSON, whose rows name their own fields) and its rows."""

    file: IO[bytes]
    file_format: FileFormat
    columns: tuple[str, ...] | None
    encoding: str | None = None

    def rows(self) -> Iterator[NumberedRow]:
        """The rows from the start of the file, lazily."""
        self.file.seek(0)
        if self.file_format == "json":
            return _json_rows(self.file)
        if self.file_format == "csv":
            return _csv_rows(self.file, self.encoding or "utf-8-sig")
        return _xlsx_rows(self.file)

    def check(self) -> int:
        """Read the whole file once; its row count, or `FileError` before anything is applied."""
        return sum(1 for _ in self.rows())


def open_table(file: IO[bytes], file_format: FileFormat, charset: str | None = None) -> Table:
    """The table in `file`, with its header read (`FileError` when it has none, or when it
    declares a charset that is not a text encoding this format may have)."""
    file.seek(0)
    if not file.read(1):
        raise FileError("empty_file", "the body is empty")
    if file_format == "json":
        if charset and charset.strip().lower() not in _JSON_CHARSETS:
            raise _unsupported_charset()
        return Table(file, "json", None)
    if file_format == "csv":
        encoding = _csv_encoding(file, charset)
        file.seek(0)
        with closing(_csv_records(file, encoding)) as records:
            header = next(records, None)
        if header is None:
            raise FileError("empty_file", "the CSV file has no header row")
        return Table(file, "csv", _header(header[1]), encoding)
    with closing(_sheet_rows(file)) as sheet_rows:
        header_cells = next(sheet_rows, None)
    if header_cells is None:
        raise FileError("empty_file", "the workbook's first sheet has no header row")
    return Table(file, "xlsx", _sheet_header(header_cells[1]))


def _header(names: list[str]) -> tuple[str, ...]:
    return tuple(name.strip().lstrip("\ufeff").strip() for name in names)


def _csv_encoding(file: IO[bytes], charset: str | None) -> str:
    """The codec to read the CSV with: the declared charset, else UTF-8 or GB 18030."""
    if charset:
        name = _CHARSETS.get(charset.strip().lower())
        if name is None:
            raise _unsupported_charset()
        return name
    file.seek(0)
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        while chunk := file.read(_SCAN_BYTES):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return _GBK
    return "utf-8-sig"


def _unsupported_charset() -> FileError:
    return FileError(
        "unsupported_charset",
        "the declared charset is not one the gateway reads: UTF-8, GBK, GB 18030, GB 2312,"
        " ASCII or Latin-1 (JSON: UTF-8)",
        {"accepted": sorted(_CHARSETS)},
    )


def _csv_records(file: IO[bytes], encoding: str) -> Generator[tuple[int, list[str]]]:
    """(first line, fields) of each non-blank CSV record."""
    text = io.TextIOWrapper(file, encoding=encoding, newline="")
    reader = csv.reader(text)
    start = 1
    try:
        for record in reader:
            if record and any(field.strip() for field in record):
                yield start, record
            start = reader.line_num + 1
    except UnicodeDecodeError:
        raise FileError(
            "bad_encoding",
            f"line {start} is not valid {_encoding_name(encoding)}",
            {"line": start},
        ) from None
    except csv.Error:
        raise FileError("bad_csv", f"line {start} is not valid CSV", {"line": start}) from None
    finally:
        _detach(text)


def _detach(text: io.TextIOWrapper) -> None:
    """Let go of the binary file, which the caller owns; a generator dropped unfinished runs
    this late, maybe after the caller closed the file: nothing is left to release then."""
    if not text.buffer.closed:
        text.detach()


def _encoding_name(encoding: str) -> str:
    return "GBK" if encoding == _GBK else encoding.removesuffix("-sig").upper()


def _csv_rows(file: IO[bytes], encoding: str) -> Iterator[NumberedRow]:
    records = _csv_records(file, encoding)
    header = next(records, None)
    if header is None:
        return
    columns = _header(header[1])
    for line, record in records:
        yield line, _row(columns, record)


def _row(columns: tuple[str, ...], cells: Sequence[object]) -> Row:
    """The cells by column name; values under no named column (beyond the header, or under
    an empty header cell, as exports with a trailing separator have) are counted as extra
    unless blank."""
    row: Row = {}
    extra = 0
    for index, cell in enumerate(cells):
        if index < len(columns) and columns[index]:
            row[columns[index]] = cell
        elif cell is not None and str(cell).strip():
            extra += 1
    if extra:
        row[EXTRA_FIELDS] = extra
    return row


EXTRA_FIELDS: Final = "\x00extra"
"""Key of a row with values under no named column: how many (the row is rejected)."""


def _json_rows(file: IO[bytes]) -> Iterator[NumberedRow]:
    """The elements of a top-level JSON array, decoded one at a time."""
    text = io.TextIOWrapper(file, encoding="utf-8-sig")
    try:
        for index, value in enumerate(_JsonArray(text), start=1):
            yield index, _json_row(value)
    except UnicodeDecodeError:
        raise FileError("bad_encoding", "the JSON body is not UTF-8") from None
    finally:
        _detach(text)


class _JsonArray:
    """Decodes a JSON array's elements from a text stream, holding one element (and a read
    chunk) in memory at a time."""

    MAX_ELEMENT_CHARS: Final = 1 << 24

    def __init__(self, text: IO[str]) -> None:
        self._text = text
        self._buffer = ""
        self._position = 0
        self._decoder = json.JSONDecoder(
            parse_int=_json_int, parse_constant=_json_constant, object_pairs_hook=_json_object
        )

    def __iter__(self) -> Iterator[object]:
        if self._peek() != "[":
            raise FileError("bad_json", "the body is not a JSON array")
        self._position += 1
        index = 0
        if self._peek() == "]":
            self._position += 1
        else:
            while True:
                index += 1
                yield self._element(index)
                char = self._peek()
                self._position += 1
                if char == "]":
                    break
                if char != ",":
                    raise _json_error(index + 1)
        if self._peek() is not None:
            raise FileError("bad_json", "the body has text after its JSON array")

    def _fill(self) -> bool:
        """Read the next chunk; False at the end of the stream."""
        chunk = self._text.read(_SCAN_BYTES)
        self._buffer = self._buffer[self._position :] + chunk
        self._position = 0
        return bool(chunk)

    def _peek(self) -> str | None:
        """The next character that is not white space (None at the end of the stream)."""
        while True:
            while self._position < len(self._buffer) and self._buffer[self._position] in _BLANKS:
                self._position += 1
            if self._position < len(self._buffer):
                return self._buffer[self._position]
            if not self._fill():
                return None

    def _element(self, index: int) -> object:
        """The next element; a decode that fails or ends at the buffer's end may only mean the
        element is cut, so read more and try again (up to `MAX_ELEMENT_CHARS`)."""
        if self._peek() is None:
            raise _json_error(index)
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError:
                value, end = None, -1
            except RecursionError:  # nested past the interpreter's limit: no row is that deep
                raise _json_error(index) from None
            if 0 <= end < len(self._buffer):
                self._position = end
                return value
            if len(self._buffer) - self._position > self.MAX_ELEMENT_CHARS:
                raise _json_error(index)
            if not self._fill():
                if end < 0:
                    raise _json_error(index)
                self._position = len(self._buffer)
                return value


_BLANKS: Final = " \t\r\n"


def _json_int(text: str) -> int | Decimal:
    return int(text) if len(text) <= _SMALL_INT_DIGITS else Decimal(text)


def _json_constant(name: str) -> object:
    """NaN and Infinity (which Python's JSON reads though JSON has neither): a value no field
    takes, so the row is rejected for its field."""
    return {NOT_A_NUMBER: name}


NOT_A_NUMBER: Final = "\x00not_a_number"


def _json_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """An object; one naming a key twice gets `DUPLICATE_KEY` (the row is rejected: which of
    the two values the sender meant cannot be known)."""
    result = dict(pairs)
    if len(result) != len(pairs):
        keys = [key for key, _ in pairs]
        result[DUPLICATE_KEY] = next(key for key in keys if keys.count(key) > 1)
    return result


DUPLICATE_KEY: Final = "\x00duplicate_key"
"""Key of a JSON object that names a key twice; its value is that key."""


def _json_error(element: int) -> FileError:
    return FileError(
        "bad_json", f"element {element} of the JSON array is not valid JSON", {"line": element}
    )


NOT_AN_OBJECT: Final = "\x00not_an_object"
"""Key of a JSON element that is not an object (the row is rejected)."""


def _json_row(value: object) -> Row:
    if isinstance(value, dict):
        return value
    return {NOT_AN_OBJECT: True}


def _sheet_rows(file: IO[bytes]) -> Generator[tuple[int, tuple[object, ...]]]:
    """(line, cells) of each non-empty row of the workbook's first sheet."""
    try:
        workbook = load_workbook(file, read_only=True, data_only=True)
    except Exception as error:  # zipfile, XML and openpyxl errors alike: not a workbook
        raise FileError("bad_xlsx", "the body is not an Excel (.xlsx) workbook") from error
    try:
        sheet = workbook.worksheets[0]
        if isinstance(sheet, ReadOnlyWorksheet):
            sheet.reset_dimensions()  # a declared A1:XFD1048576 would pad every row
        rows = sheet.iter_rows(values_only=True, max_col=MAX_COLUMNS)
        for line, cells in enumerate(_sheet_cells(rows), start=1):
            if any(cell is not None and str(cell).strip() for cell in cells):
                yield line, cells
    finally:
        workbook.close()


def _sheet_cells(rows: Iterator[tuple[object, ...]]) -> Iterator[tuple[object, ...]]:
    """The sheet's rows; a sheet whose XML breaks halfway is a file that cannot be read."""
    while True:
        try:
            cells = next(rows, None)
        except Exception as error:  # XML, zip and openpyxl errors alike
            raise FileError("bad_xlsx", "the workbook's first sheet cannot be read") from error
        if cells is None:
            return
        yield cells


def _xlsx_rows(file: IO[bytes]) -> Iterator[NumberedRow]:
    rows = _sheet_rows(file)
    header = next(rows, None)
    if header is None:
        return
    columns = _sheet_header(header[1])
    for line, cells in rows:
        yield line, _row(columns, [_cell_value(cell) for cell in cells])


def _sheet_header(cells: Sequence[object]) -> tuple[str, ...]:
    """The header row's names, without the empty cells after the last one."""
    names = list(_header([_cell_text(cell) for cell in cells]))
    while names and not names[-1]:
        names.pop()
    return tuple(names)


def _cell_text(cell: object) -> str:
    return "" if cell is None else str(cell)


def _cell_value(cell: object) -> object:
    """A cell as the row validators take it: numbers an integer when whole (Excel stores
    `1702` as 1702.0), dates as ISO dates. Numbers stay numbers: identifier fields refuse
    them (Excel keeps 15 digits and no leading zero)."""
    if isinstance(cell, float) and cell.is_integer():
        return int(cell)
    if isinstance(cell, datetime):
        return cell.date().isoformat() if cell.time() == datetime.min.time() else cell
    if isinstance(cell, date):
        return cell.isoformat()
    return cell
