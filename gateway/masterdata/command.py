"""`scgw import`: a property export into the gateway, for the staff who receive the export and a
key: through the API (the default; the file streams up) or straight against the configured
store (`--direct`, for the operator of the gateway's host).

Output: the report as JSON on stdout (the API's response body), a one-line summary and a
progress bar on stderr. Exit status: 0 when every row was applied, 3 when some rows were
rejected (the others are applied; the report lists the rejected lines), 1 when the import did
not run (file refused, gateway unreachable, key refused, empty snapshot, any failure), 2 for a
configuration error. A failure is reported by its kind only: no traceback, no value of the
file (a traceback may quote a row).
"""

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import httpx

from gateway.config import Settings, load_config
from gateway.errors import ConfigError, GatewayError
from gateway.grids import GridMap
from gateway.masterdata.importer import EmptySnapshotError, Importer, ImportReport, Rejection
from gateway.masterdata.readers import MEDIA_TYPES, SUFFIXES, FileError, FileFormat, open_table
from gateway.masterdata.rows import columns_problem
from gateway.pii import ContactVault
from gateway.store import open_store
from gateway.store.masterdata import Dataset
from gateway.store.upgrade import RowRules
from schemas.privacy import Pseudonymizer

EXIT_REJECTED_ROWS: Final = 3
EXIT_FAILED: Final = 1
DEFAULT_URL: Final = "http://127.0.0.1:8080"
_CHUNK_BYTES: Final = 256 * 1024
_CONTENT_TYPES: Final[dict[str, str]] = {
    file_format: media for media, file_format in MEDIA_TYPES.items()
}

DESCRIPTION: Final = """\
Import a property management system's export (houses, residents, vehicles or credentials) of
one community: a JSON array of objects (.json), CSV with a header row (.csv; UTF-8, with or
without BOM, or GBK) or the first sheet of an Excel workbook (.xlsx). Rows are upserted by
their key; bad rows are rejected whole and listed with their line (the header is line 1; a
JSON element's line is its index + 1). Sending the same file twice changes nothing.

The report is printed as JSON on stdout, a summary and a progress bar on stderr.
Exit status: 0 all rows applied, 3 some rows rejected (the rest applied), 1 the import did
not run, 2 configuration error."""

EPILOG: Final = """\
examples:
  # through the API of a running gateway (the key: --api-key or SCGW_ADMIN_API_KEY)
  scgw import houses houses.csv --community yida --url https://gateway.example:8080
  scgw import residents residents.xlsx --community yida --snapshot
  # straight into the configured store (SCGW_DATABASE_URL, SCGW_ID_HASH_KEY)
  scgw import vehicles vehicles.json --community jiaxin --direct

fields (README: "Importing property master data"):
  houses       house_code*, building*, unit, floor, room, area_m2, usage, grid_code,
               registered_occupants
  residents    id_number*, population_type*, house_code*, id_type (111), name, phone,
               ethnicity, nationality, relation, since, tags (a;b)
  vehicles     plate_no*, plate_color, vehicle_type, owner_id_number, house_code
  credentials  kind*, value*, owner_id_number*, since, until
--snapshot also ends the residencies, vehicles or credentials the file no longer lists."""


def add_parser(commands: Any) -> None:
    """The `import` subcommand, on `scgw`'s subparsers."""
    parser = commands.add_parser(
        "import",
        help="import property master data (houses, residents, vehicles, credentials)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("dataset", choices=("houses", "residents", "vehicles", "credentials"))
    parser.add_argument("file", type=Path, help="the export: .json, .csv or .xlsx")
    parser.add_argument("--community", required=True, help="community code (e.g. yida)")
    parser.add_argument(
        "--snapshot", action="store_true", help="the file is complete: end what it omits"
    )
    parser.add_argument(
        "--format", choices=sorted(_CONTENT_TYPES), help="the file's format (default: suffix)"
    )
    parser.add_argument("--charset", help="a CSV file's charset (default: UTF-8 or GBK, detected)")
    parser.add_argument("--url", help=f"the gateway's API (default {DEFAULT_URL}, SCGW_API_URL)")
    parser.add_argument("--api-key", help="the admin key (default SCGW_ADMIN_API_KEY)")
    parser.add_argument(
        "--direct", action="store_true", help="write to the configured store, not through the API"
    )
    parser.add_argument("--database-url", help="with --direct: postgresql://... or sqlite:///...")
    parser.add_argument("--config", type=Path, help="with --direct: the gateway's TOML file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run_import(args: argparse.Namespace) -> int:
    """Run `scgw import`; the exit status."""
    try:
        file_format = _file_format(args.file, args.format)
        progress = None if args.quiet else ProgressBar(sys.stderr)
        if args.direct:
            report = asyncio.run(_direct(args, file_format, progress))
        else:
            report = _through_api(args, file_format, progress)
    except (FileError, ImportRefusedError, EmptySnapshotError) as error:
        print(f"scgw import: {error}", file=sys.stderr)
        return EXIT_FAILED
    except OSError as error:
        print(f"scgw import: {error.strerror or error}", file=sys.stderr)
        return EXIT_FAILED
    except httpx.HTTPError as error:
        print(f"scgw import: the gateway could not be reached ({error})", file=sys.stderr)
        return EXIT_FAILED
    except ConfigError:
        raise
    except GatewayError as error:
        print(f"scgw import: {error}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as error:  # anything else: its kind, never its text (it may quote a row)
        print(
            f"scgw import: the import failed ({type(error).__name__}); rows applied before"
            " the failure stay applied and the audit log has the counts",
            file=sys.stderr,
        )
        return EXIT_FAILED
    print(json.dumps(report.as_json(), ensure_ascii=False, indent=2))
    counts = report.counts()
    print(
        "scgw import: {accepted} accepted, {updated} updated, {unchanged} unchanged,"
        " {rejected} rejected".format(**counts),
        file=sys.stderr,
    )
    return EXIT_REJECTED_ROWS if report.rejected else 0


class ImportRefusedError(Exception):
    """The gateway refused the import as a whole (its error body's code and message)."""


class ProgressBar:
    """`[#####.....]  45%  90,000 of 200,000 rows` on one line of a terminal, rewritten in
    place; one line per 10 % when the stream is not a terminal (a log keeps every line)."""

    WIDTH: Final = 30

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._total = 0
        self._unit = "rows"
        self._shown = -1
        self._tty = stream.isatty()

    def start(self, total: int, unit: str) -> None:
        self._total, self._unit, self._shown = total, unit, -1

    def update(self, done: int) -> None:
        percent = 100 if self._total <= 0 else min(100, done * 100 // self._total)
        step = percent if self._tty else percent // 10 * 10
        if step == self._shown:
            return
        self._shown = step
        filled = self.WIDTH * percent // 100
        line = (
            f"[{'#' * filled}{'.' * (self.WIDTH - filled)}] {percent:3d}%"
            f"  {done:,} of {self._total:,} {self._unit}"
        )
        self._stream.write(f"\r{line}" if self._tty else f"{line}\n")
        if self._tty and percent == 100:
            self._stream.write("\n")
        self._stream.flush()


def _file_format(path: Path, given: str | None) -> FileFormat:
    if given is not None:
        return MEDIA_TYPES[_CONTENT_TYPES[given]]
    file_format = SUFFIXES.get(path.suffix.lower())
    if file_format is None:
        raise ImportRefusedError("name the format with --format (json, csv, xlsx)")
    return file_format


def _through_api(
    args: argparse.Namespace, file_format: FileFormat, progress: ProgressBar | None
) -> ImportReport:
    """Stream the file to `PUT /v1/property/{community}/{dataset}`; the report it answers."""
    key = args.api_key or os.environ.get("SCGW_ADMIN_API_KEY")
    if not key:
        raise ConfigError("the admin key is needed: --api-key or SCGW_ADMIN_API_KEY")
    url = (args.url or os.environ.get("SCGW_API_URL") or DEFAULT_URL).rstrip("/")
    content_type = _CONTENT_TYPES[file_format]
    if args.charset:
        content_type += f"; charset={args.charset}"
    size = args.file.stat().st_size
    if progress is not None:
        progress.start(size, "bytes sent")
    with args.file.open("rb") as file:
        response = httpx.put(
            f"{url}/v1/property/{args.community}/{args.dataset}",
            params={"mode": "snapshot"} if args.snapshot else None,
            content=_chunks(file, progress.update if progress else None),
            headers={"X-API-Key": key, "Content-Type": content_type},
            timeout=httpx.Timeout(30.0, read=None),  # the answer comes when the import is done
        )
    if response.status_code != 200:
        raise ImportRefusedError(_error_text(response))
    body = response.json()
    report = ImportReport(
        body["accepted"], body["updated"], body["unchanged"], ended=body.get("ended")
    )
    report.rejected.extend(_rejections(body["rejected"]))
    return report


def _chunks(file: IO[bytes], sent: Callable[[int], None] | None) -> Iterator[bytes]:
    done = 0
    while chunk := file.read(_CHUNK_BYTES):
        done += len(chunk)
        if sent is not None:
            sent(done)
        yield chunk
    if sent is not None:
        sent(done)


def _rejections(items: list[dict[str, Any]]) -> Iterator[Rejection]:
    for item in items:
        yield Rejection(item["line"], item["field"], item["reason"])


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        details = error.get("details")
        suffix = f" {json.dumps(details, ensure_ascii=False)}" if details else ""
        return f"{response.status_code} {error['code']}: {error['message']}{suffix}"
    except (ValueError, KeyError, TypeError):
        return f"the gateway answered {response.status_code}"


async def _direct(
    args: argparse.Namespace, file_format: FileFormat, progress: ProgressBar | None
) -> ImportReport:
    """Import straight into the configured store, its schema brought up to date first."""
    overrides = {"database_url": args.database_url, "config": args.config}
    settings = Settings(**{name: value for name, value in overrides.items() if value})
    if settings.id_hash_key is None:
        raise ConfigError("SCGW_ID_HASH_KEY is not set: it hashes the ID numbers")
    hash_key = settings.id_hash_key.get_secret_value()
    grids = GridMap.load(settings.grids)
    if grids.community(args.community) is None:
        raise ImportRefusedError(f"community {args.community!r} is not in the grid map")
    dataset: Dataset = args.dataset
    with args.file.open("rb") as file:
        table = open_table(file, file_format, args.charset)
        if table.columns is not None:
            problem = columns_problem(dataset, table.columns)
            if problem is not None:
                raise ImportRefusedError(
                    f"the header does not match the dataset's fields: {json.dumps(problem)}"
                )
        total = table.check()
        if progress is not None:
            progress.start(total, "rows")
        store = open_store(settings.database_url)
        await store.open()
        try:
            await store.migrate(RowRules.of(settings, load_config(settings.config)))
            importer = Importer(store, grids, Pseudonymizer(hash_key), ContactVault(hash_key))
            return await importer.run(
                args.community,
                dataset,
                table.rows(),
                snapshot=args.snapshot,
                actor="cli",
                progress=progress.update if progress else None,
            )
        finally:
            await store.close()
