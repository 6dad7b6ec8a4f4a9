"""The government's vehicle watch-list (`vehicle.watchlist` fires when a listed plate passes a
gate or camera): add or replace plates, list them, remove one. The government's and admins'
(`watchlist:manage`), never a property company's; every change is audited (`watchlist.put`,
`watchlist.delete`, the plates as records).

Plates are normalised as everywhere else (`adapters.plates.normalise_plate`, then the plate
alphabet of `schemas.plates`), so `湘a·12345` and `湘A12345` are one entry. After a change, this
process's snapshot is reloaded at once (`gateway.watchlist.WatchlistHolder`); other processes
reload theirs every `SCGW_RULES_INTERVAL_S`.
"""

from typing import Annotated, Final

from fastapi import APIRouter, Body, Path, Query, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.plates import normalise_plate
from gateway.access import Caller, Permission
from gateway.api.audit import entry
from gateway.api.deps import RuntimeDep, needs
from gateway.api.errors import ApiError, RuleError
from gateway.privacy import holds_personal_number
from gateway.runtime import Runtime
from gateway.store.base import Page
from gateway.store.cursors import decode_tagged, encode_tagged
from schemas.codes import PlateColor
from schemas.events import UtcDatetime
from schemas.identifiers import PrintableText
from schemas.plates import plate_problem
from schemas.tickets import WatchlistEntry

router = APIRouter(prefix="/v1/watchlist", tags=["government"])

Manager = Annotated[Caller, needs(Permission.WATCHLIST_MANAGE)]

MAX_ENTRIES: Final = 10_000
MAX_PAGE: Final = 1000
PUT_ACTION: Final = "watchlist.put"
DELETE_ACTION: Final = "watchlist.delete"


def _plate(value: object) -> str:
    """The plate as rules compare it; a refusal states the rule, never the value."""
    plate = normalise_plate(value) if isinstance(value, str) else None
    if plate is None or plate_problem(plate) is not None:
        raise RuleError("is not a licence plate (5 to 10 plate characters)")
    return plate


class WatchlistEntryIn(BaseModel):
    """One plate as PUT: `plate_no` is normalised; `reason` holds no phone or ID number."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "plate_no": "湘A12345",
                    "plate_color": "blue",
                    "reason": "涉案车辆 2026-118",
                    "until": "2027-06-30T16:00:00Z",
                }
            ]
        },
    )

    plate_no: str = Field(
        min_length=1,
        max_length=32,
        description="The plate; normalised (`湘a·12345` is `湘A12345`).",
    )
    plate_color: PlateColor | None = Field(
        default=None, description="Describes the plate; a listed number matches in every colour."
    )
    reason: PrintableText = Field(
        min_length=1,
        max_length=200,
        description="Why it is listed: the case, never a person (no phone or ID numbers).",
    )
    until: UtcDatetime | None = Field(
        default=None, description="When the entry stops applying (in the future); null: never."
    )

    @field_validator("plate_no")
    @classmethod
    def _normalised(cls, value: str) -> str:
        return _plate(value)

    @field_validator("reason")
    @classmethod
    def _no_personal_numbers(cls, value: str) -> str:
        if holds_personal_number(value):
            raise RuleError("must not hold phone or ID numbers: name the case, not the person")
        return value


class StoredCount(BaseModel):
    """How many watch-list entries a PUT stored."""

    stored: int = Field(description="entries added or replaced")


@router.put("/vehicles", summary="Add or replace watch-list plates", response_model=StoredCount)
async def put_vehicles(
    runtime: RuntimeDep,
    caller: Manager,
    entries: Annotated[
        list[WatchlistEntryIn],
        Body(description="`[{plate_no, plate_color?, reason, until?}]`", max_length=MAX_ENTRIES),
    ],
) -> StoredCount:
    """Add plates to the watch-list, or replace the entries of plates already on it.

    A plate is listed by its number alone (`plate_no` is the key): `plate_color` describes it
    but does not tell two entries apart, so a second entry for the same number replaces the
    first whatever its colour, and a listed number matches in every colour. `until`, when
    given, must lie in the future."""
    now = runtime.clock()
    seen: dict[str, int] = {}
    for index, item in enumerate(entries):
        if item.plate_no in seen:
            raise _refused(index, "plate_no", f"is the same plate as entry {seen[item.plate_no]}")
        if item.until is not None and item.until <= now:
            raise _refused(index, "until", "is not in the future: the entry would never apply")
        seen[item.plate_no] = index
    stored = await runtime.store.put_watchlist(
        [WatchlistEntry.model_validate(item.model_dump()) for item in entries], now
    )
    plates = tuple(seen)
    await runtime.store.write_audit(
        entry(caller, PUT_ACTION, None, plates, details={"entries": len(plates)})
    )
    await _reload(runtime)
    return StoredCount(stored=stored)


@router.get("/vehicles", summary="List the vehicle watch-list", response_model=Page[WatchlistEntry])
async def list_vehicles(
    runtime: RuntimeDep,
    caller: Manager,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[WatchlistEntry]:
    """The watch-list in plate order, a page at a time like every other list."""
    after = _decode_cursor(cursor) if cursor else None
    entries = [
        item
        for item in await runtime.store.list_watchlist()  # small, and read whole anyway
        if after is None or item.plate_no > after
    ]
    page = entries[:limit]
    more = len(entries) > limit
    return Page(data=page, next_cursor=_encode_cursor(page[-1].plate_no) if more else None)


def _encode_cursor(plate_no: str) -> str:
    """The cursor after `plate_no`: the last plate of a page."""
    return encode_tagged("plate", plate_no)


def _decode_cursor(token: str) -> str:
    [plate_no] = decode_tagged(token, "plate", 1)
    return plate_no


@router.delete(
    "/vehicles/{plate_no}",
    summary="Take a plate off the watch-list",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={404: {"description": "The plate is not on the watch-list."}},
)
async def delete_vehicle(
    runtime: RuntimeDep,
    caller: Manager,
    plate_no: Annotated[str, Path(max_length=32, description="normalised as on PUT")],
) -> Response:
    """Take a plate off the watch-list."""
    try:
        plate = _plate(plate_no)
    except RuleError as error:
        raise RequestValidationError(
            [{"type": "value_error", "loc": ("path", "plate_no"), "msg": str(error)}]
        ) from None
    if not await runtime.store.delete_watchlist(plate):
        raise ApiError(404, "not_found", "this plate is not on the watch-list")
    await runtime.store.write_audit(entry(caller, DELETE_ACTION, None, (plate,)))
    await _reload(runtime)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _refused(index: int, field: str, message: str) -> RequestValidationError:
    """A 422 naming the entry and the field, never the value."""
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", index, field), "msg": message}]
    )


async def _reload(runtime: Runtime) -> None:
    """This process's snapshot, read again from the store (so it holds every process's
    changes, not only this one)."""
    await runtime.watchlist.refresh(runtime.store)
