"""Property master data in: houses, residents, vehicles and credentials from the property
management systems, and the explicit end of residencies.

`PUT /v1/property/{community}/{dataset}` takes a JSON array, a CSV file or an Excel workbook.
The body streams to a temporary file (in memory up to `SPOOL_BYTES`, on disk beyond, at most
`SCGW_IMPORT_MAX_BYTES`: this route alone has that larger limit, see `gateway.api.guards`),
is read through once to refuse an unreadable file before anything is applied, and is then
imported row by row in chunks (`gateway.masterdata.importer`). The answer comes when the
import is done: `{"accepted", "updated", "unchanged", "rejected": [{"line", "field",
"reason"}]}`, plus `"ended"` for a snapshot. Imports of one community run one at a time.
"""

import asyncio
import re
import tempfile
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Path, Query, Request
from pydantic import BaseModel, Field

from gateway.access import Caller, Permission
from gateway.api.audit import actor_of
from gateway.api.deps import RuntimeDep, needs
from gateway.api.errors import ApiError
from gateway.api.guards import LargerBodies
from gateway.masterdata.importer import EmptySnapshotError, Importer
from gateway.masterdata.readers import MEDIA_TYPES, FileError, Table, open_table
from gateway.masterdata.rows import columns_problem
from gateway.runtime import Runtime
from gateway.store.masterdata import Dataset
from schemas.privacy import Pseudonymizer

router = APIRouter(prefix="/v1/property", tags=["property"])

SPOOL_BYTES: Final = 4 * 1024 * 1024
"""A body up to this size stays in memory; a larger one goes to a temporary file."""

DATASETS: Final = ("houses", "residents", "vehicles", "credentials")


def import_bodies(max_bytes: int) -> LargerBodies:
    """The body limit of `PUT /v1/property/{community}/{dataset}`: the import limit."""
    path = re.compile(rf"/v1/property/[^/]+/(?:{'|'.join(DATASETS)})")
    return LargerBodies("PUT", path, max_bytes)


class RejectionBody(BaseModel):
    """A row the import refused, whole."""

    line: int = Field(description="CSV/Excel line (the header is line 1) or JSON index + 1")
    field: str = Field(description="the field that broke a rule")
    reason: str = Field(description="the rule the row broke; never its value")


class ReportBody(BaseModel):
    """What the import did with each row."""

    accepted: int = Field(description="rows newly inserted")
    updated: int = Field(description="rows that changed a stored record")
    unchanged: int = Field(description="rows identical to the stored record")
    rejected: list[RejectionBody] = Field(description="rows refused, each with its line")
    ended: int | None = Field(
        None, description="snapshots only: residencies, vehicles or credentials ended"
    )


_REPORT_EXAMPLE: Final = {
    "accepted": 120,
    "updated": 3,
    "unchanged": 880,
    "rejected": [{"line": 17, "field": "id_number", "reason": "fails the GB 11643 check digit"}],
}
_RESPONSES: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"application/json": {"example": _REPORT_EXAMPLE}}},
    400: {
        "description": "The file cannot be read or is empty, its header lacks or adds columns,"
        " or a snapshot has no valid row (`empty_snapshot`)."
    },
    404: {"description": "The community is not in the grid map."},
    415: {
        "description": "The body is not JSON, CSV or an Excel workbook, or its charset is not"
        " a text encoding the gateway reads."
    },
}

Writer = Annotated[Caller, needs(Permission.MASTERDATA_WRITE)]
CommunityPath = Annotated[str, Path(description="community code, as in the grid map")]

_HOUSE_ROW_EXAMPLE: Final = {
    "house_code": "yida-3-2-1702",
    "building": "B03",
    "unit": "U2",
    "floor": "17",
    "room": "1702",
    "usage": "self_occupied",
    "grid_code": "430112003001001",
}
_DATASET_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "description": "The dataset's rows, with the import field names of the README: a JSON"
        " array of objects, a CSV file with a header row, or an Excel workbook (first sheet).",
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"type": "object"}},
                "example": [_HOUSE_ROW_EXAMPLE],
            },
            "text/csv": {
                "schema": {"type": "string"},
                "example": "house_code,building,unit,floor,room,usage,grid_code\n"
                "yida-3-2-1702,B03,U2,17,1702,self_occupied,430112003001001\n",
            },
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                "schema": {"type": "string", "format": "binary"}
            },
        },
    }
}
"""The body as the document shows it: the route reads the raw stream, so FastAPI cannot."""


@router.put(
    "/{community}/{dataset}",
    summary="Import a master-data dataset",
    openapi_extra=_DATASET_BODY,
    response_model=ReportBody,
    response_model_exclude_none=True,
    responses=_RESPONSES,
)
async def put_dataset(
    request: Request,
    runtime: RuntimeDep,
    caller: Writer,
    community: CommunityPath,
    dataset: Annotated[Literal["houses", "residents", "vehicles", "credentials"], Path()],
    mode: Annotated[
        Literal["upsert", "snapshot"],
        Query(description="snapshot: also end what the file no longer lists"),
    ] = "upsert",
) -> dict[str, Any]:
    """Upsert a dataset of the community from a JSON array (`application/json`), a CSV file
    with a header row (`text/csv`, UTF-8 with or without BOM or GBK; `charset` optional) or
    the first sheet of an Excel workbook (xlsx). Valid rows are applied, bad rows are
    rejected whole; see the README for the fields of each dataset."""
    _known_community(runtime, caller, community)
    file_format, charset = _format(request.headers.get("content-type", ""))
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as body:
        async for chunk in request.stream():
            body.write(chunk)
        table = await asyncio.to_thread(_checked_table, body, file_format, charset, dataset)
        try:
            report = await _importer(runtime).run(
                community,
                dataset,
                table.rows(),
                snapshot=mode == "snapshot",
                actor=actor_of(caller),
            )
        except EmptySnapshotError as error:
            raise ApiError(
                400,
                "empty_snapshot",
                "a snapshot needs at least one valid row: nothing was applied or ended",
                {"rejected": error.report.as_json()["rejected"]},
            ) from None
    return report.as_json()


@router.post(
    "/{community}/residencies/end",
    summary="End registered residencies",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": [
                        {
                            "id_number": "430112195803154517",
                            "house_code": "yida-3-2-1702",
                            "until": "2026-11-30",
                        }
                    ]
                }
            }
        }
    },
    response_model=ReportBody,
    response_model_exclude_none=True,
    responses=_RESPONSES,
)
async def end_residencies(
    runtime: RuntimeDep,
    caller: Writer,
    community: CommunityPath,
    items: Annotated[
        list[Any],
        Body(
            description="`[{id_number, house_code, until}]`: the residencies to end; they are"
            " kept, with `until` (an ISO date), so history stays answerable",
            max_length=100_000,
        ),
    ],
) -> dict[str, Any]:
    """End registered residencies. ID numbers travel in the body, never in a URL."""
    _known_community(runtime, caller, community)
    report = await _importer(runtime).end_residencies(community, items, actor=actor_of(caller))
    return report.as_json()


def _known_community(runtime: Runtime, caller: Caller, community: str) -> None:
    """404 for a community not in the grid map, and alike for one outside the caller's scope."""
    if runtime.grids.community(community) is None or not caller.sees(community):
        raise ApiError(404, "not_found", "no community of this code is in the grid map")


def _importer(runtime: Runtime) -> Importer:
    if runtime.contacts is None:
        raise ApiError(503, "unavailable", "the gateway has no contact vault")
    return Importer(
        runtime.store,
        runtime.grids,
        Pseudonymizer(runtime.secrets.id_hash_key),
        runtime.contacts,
    )


def _format(content_type: str) -> tuple[Any, str | None]:
    """The file format and charset a Content-Type names; 415 for any other type."""
    media, _, parameters = content_type.partition(";")
    file_format = MEDIA_TYPES.get(media.strip().lower())
    if file_format is None:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send application/json, text/csv or"
            " application/vnd.openxmlformats-officedocument.spreadsheetml.sheet (.xlsx)",
            {"accepted": sorted(MEDIA_TYPES)},
        )
    charset = None
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return file_format, charset


def _checked_table(body: Any, file_format: Any, charset: str | None, dataset: Dataset) -> Table:
    """The body's table, read through once; 400 for a file that cannot be imported whole."""
    try:
        table = open_table(body, file_format, charset)
        if table.columns is not None:
            problem = columns_problem(dataset, table.columns)
            if problem is not None:
                raise ApiError(
                    400,
                    "bad_columns",
                    "the header does not match the dataset's fields: nothing was applied",
                    problem,
                )
        table.check()
    except FileError as error:
        status = 415 if error.code == "unsupported_charset" else 400
        raise ApiError(status, error.code, error.message, error.details) from None
    return table
