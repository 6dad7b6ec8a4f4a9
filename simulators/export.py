"""Write a community's master data as the files a property system exports: JSON, CSV, Excel.

So a newcomer can try the importer by hand (`scgw import residents residents.csv --community
yida`, or `curl -T` against `PUT /v1/property/...`), the same rows the demo imports are written
in the three formats the interface takes, with the import field names as the header: a JSON
array of objects; CSV with a header row (UTF-8, UTF-8 with BOM, or GBK, as Chinese property
systems often write it); an Excel workbook with the header row on its first sheet. In CSV and
Excel a cell holds one string: tags are `;`-separated and absent values are empty cells.
"""

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Final, Literal

from openpyxl import Workbook

from simulators.masterdata import DATASETS, FIELDS, MasterData

Format = Literal["json", "csv", "xlsx"]
FORMATS: Final[tuple[Format, ...]] = ("json", "csv", "xlsx")
CSV_ENCODINGS: Final = ("utf-8", "utf-8-sig", "gbk")
"""UTF-8, UTF-8 with a byte-order mark (Excel's "CSV UTF-8"), and GBK."""


def cell(value: object) -> str:
    """A row value as one CSV or Excel cell: lists `;`-joined, None empty."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ";".join(str(item) for item in value)
    return str(value)


def write_json(rows: Iterable[Mapping[str, object]], path: Path) -> None:
    """A JSON array of the rows (UTF-8, non-ASCII kept as is)."""
    path.write_text(json.dumps(list(rows), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_csv(
    rows: Iterable[Mapping[str, object]],
    fields: Sequence[str],
    path: Path,
    encoding: str = "utf-8",
) -> None:
    """A header row of `fields`, then one line per row."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for row in rows:
            writer.writerow([cell(row.get(name)) for name in fields])


def write_xlsx(rows: Iterable[Mapping[str, object]], fields: Sequence[str], path: Path) -> None:
    """A workbook whose first sheet holds a header row of `fields` and one row per row.

    Every cell is text, as property systems export codes (`0302`, `01`), so leading zeros
    survive; empty cells stay empty."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("data")
    sheet.append(list(fields))
    for row in rows:
        sheet.append([cell(row.get(name)) or None for name in fields])
    workbook.save(path)


def export_master_data(
    data: MasterData, directory: Path, fmt: Format, *, encoding: str = "utf-8"
) -> list[Path]:
    """Write each dataset to `directory/{community}-{dataset}.{fmt}`; return the paths, in
    the order they must be imported."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for dataset in DATASETS:
        path = directory / f"{data.community.code}-{dataset}.{fmt}"
        rows = data.rows(dataset)
        if fmt == "json":
            write_json(rows, path)
        elif fmt == "csv":
            write_csv(rows, FIELDS[dataset], path, encoding)
        else:
            write_xlsx(rows, FIELDS[dataset], path)
        written.append(path)
    return written
