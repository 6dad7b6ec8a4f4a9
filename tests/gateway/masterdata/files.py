"""Master-data files for the import tests: rows written as JSON, CSV in any encoding, or XLSX,
and valid ID numbers that are nobody's."""

import csv
import io
import json
from collections.abc import Mapping, Sequence

from openpyxl import Workbook

from schemas.identity import gb11643_check_digit

Rows = Sequence[Mapping[str, object]]


def id_number(serial: int, *, born: str = "19880614", region: str = "430112") -> str:
    """A valid 18-character GB 11643 number: `region`, `born`, a 3-digit serial."""
    first17 = f"{region}{born}{serial % 1000:03d}"
    return first17 + gb11643_check_digit(first17)


def bad_check_digit(number: str) -> str:
    """`number` with a wrong check character."""
    return number[:17] + ("1" if number[17] != "1" else "2")


def json_bytes(rows: Rows) -> bytes:
    return json.dumps(list(rows), ensure_ascii=False).encode()


def csv_bytes(
    columns: Sequence[str], rows: Rows, *, encoding: str = "utf-8", bom: bool = False
) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else _csv_value(row[c]) for c in columns])
    data = text.getvalue().encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def _csv_value(value: object) -> str:
    return ";".join(map(str, value)) if isinstance(value, list) else str(value)


def xlsx_bytes(columns: Sequence[str], rows: Rows) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(list(columns))
    for row in rows:
        sheet.append([_xlsx_value(row.get(column)) for column in columns])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _xlsx_value(value: object) -> object:
    return ";".join(map(str, value)) if isinstance(value, list) else value
