"""Reads for the government platform: real population, real housing, vehicles (一标三实),
each community's figures, and the PIPL erasure of a person.

Everything is masked by default (`gateway.api.unmask` is the audited exception). Filters that
no record could match (a grid code that is not 15 digits, a text that is no licence plate) are
400s, not empty pages; ids no record could have are 422s in the path, not 404s.
"""

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response, status
from pydantic import AfterValidator, StringConstraints

from adapters.plates import normalise_plate
from gateway.access import Caller, Permission
from gateway.api.audit import entry
from gateway.api.deps import RuntimeDep, StoreDep, needs
from gateway.api.errors import ApiError, RuleError
from gateway.api.unmask import Reason, UnmaskRequest, invalid_query, unmask_request, unmasked
from gateway.runtime import Runtime
from gateway.store.base import Page
from gateway.store.masterdata import HouseQuery, PersonQuery, VehicleQuery
from schemas.codes import HouseUsage, PopulationType
from schemas.devices import CommunityCode
from schemas.housing import CommunitySummary, GridCode, GridSummary, HouseCode, HousePublic
from schemas.plates import plate_problem
from schemas.population import PersonPublic
from schemas.vehicles import VehiclePublic

router = APIRouter(prefix="/v1", tags=["government"])

MAX_PAGE = 1000
ERASE_ACTION = "person.erase"

PERSON_ID_PATTERN = r"^p_[0-9a-f]{32}$"
"""What `gateway.store.masterdata.new_person_id` makes: any other id in a path is a 422."""
VEHICLE_ID_PATTERN = r"^v_[0-9a-f]{32}$"

PersonId = Annotated[str, Path(pattern=PERSON_ID_PATTERN, description="`p_` and 32 hex digits")]
VehicleId = Annotated[str, Path(pattern=VEHICLE_ID_PATTERN, description="`v_` and 32 hex digits")]
Building = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
Unmask = Annotated[UnmaskRequest | None, Depends(unmask_request)]
Reader = Annotated[Caller, needs(Permission.MASTERDATA_READ)]


def _plate(text: str) -> str:
    plate = normalise_plate(text)
    if plate is None or plate_problem(plate) is not None:
        raise RuleError("must be a licence plate: 5 to 10 letters, digits or Chinese characters")
    return plate


Plate = Annotated[str, StringConstraints(max_length=32), AfterValidator(_plate)]
"""A plate as the adapters normalise it (`湘A·8K2C6` finds `湘A8K2C6`)."""

NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No record has this id."}}


def _not_found(what: str) -> ApiError:
    """The answer for a record that does not exist, or is not the caller's to know of (another
    community's): the same, so the answer tells nothing of other communities' records. Nor does
    its timing: the store reads a record within the caller's scope only (`communities`), so
    another community's costs what a missing one does; `caller.sees` after it is a second
    guard, not the check."""
    return ApiError(404, "not_found", f"no {what} has this id")


@router.get("/persons", summary="List persons (masked)", response_model=Page[PersonPublic])
async def list_persons(
    runtime: RuntimeDep,
    caller: Reader,
    unmask: Unmask,
    community: CommunityCode | None = None,
    grid: GridCode | None = None,
    building: Building | None = None,
    population_type: PopulationType | None = None,
    tag: Tag | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[PersonPublic]:
    """Persons with their residencies, masked; `grid` and `building` select by the houses of
    their residencies. An unmasked page names its `community` (one per audit entry)."""
    if unmask is not None and community is None:
        raise invalid_query("community", "missing", "an unmasked list needs a community")
    scope = caller.scope(community)
    query = PersonQuery(community, grid, building, population_type, tag, limit, cursor, scope)
    page = await runtime.store.list_persons(query)
    if unmask is None or community is None or not caller.sees(community):
        return page  # out of scope, the page is empty: nothing was read, nothing to audit
    return Page(
        data=await unmasked(runtime, unmask, community, page.data), next_cursor=page.next_cursor
    )


@router.get(
    "/persons/{person_id}",
    summary="Read one person",
    response_model=PersonPublic,
    responses=NOT_FOUND,
)
async def get_person(
    runtime: RuntimeDep, caller: Reader, unmask: Unmask, person_id: PersonId
) -> PersonPublic:
    """One person, masked unless an audited unmasked read is asked for."""
    person = await runtime.store.get_person(person_id, communities=caller.scope())
    if person is None or not caller.sees(person.community):
        raise _not_found("person")
    if unmask is None:
        return person
    return (await unmasked(runtime, unmask, person.community, [person]))[0]


@router.delete(
    "/persons/{person_id}",
    summary="Erase a person (PIPL right to deletion)",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=NOT_FOUND,
)
async def erase_person(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.PERSONS_ERASE)],
    person_id: PersonId,
    reason: Annotated[Reason, Query(description="why the person is erased (kept in the audit)")],
) -> Response:
    """Erase a person (PIPL right to deletion): their record, residencies and credentials go;
    their events stay, stripped of credential hash and subject key; an audit entry remains."""
    person = await store.get_person(person_id, communities=caller.scope())
    if person is None or not caller.sees(person.community):
        raise _not_found("person")
    audit = entry(caller, ERASE_ACTION, person.community, (person_id,), reason=reason)
    if not await store.erase_person(person_id, audit):
        raise _not_found("person")  # erased meanwhile by another request
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _observed_since(runtime: Runtime) -> datetime:
    return runtime.clock() - timedelta(days=runtime.settings.observed_window_days)


@router.get("/houses", summary="List houses", response_model=Page[HousePublic])
async def list_houses(
    runtime: RuntimeDep,
    caller: Reader,
    community: CommunityCode | None = None,
    grid: GridCode | None = None,
    building: Building | None = None,
    usage: HouseUsage | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[HousePublic]:
    """Houses with their occupants; `observed_occupants` over `SCGW_OBSERVED_WINDOW_DAYS`."""
    query = HouseQuery(community, grid, building, usage, limit, cursor, caller.scope(community))
    return await runtime.store.list_houses(query, _observed_since(runtime))


@router.get(
    "/houses/{house_code}",
    summary="Read one house",
    response_model=HousePublic,
    responses=NOT_FOUND,
)
async def get_house(
    runtime: RuntimeDep, caller: Reader, house_code: Annotated[HouseCode, Path()]
) -> HousePublic:
    """One house: what the property system registered and what the events show."""
    since = _observed_since(runtime)
    house = await runtime.store.get_house(house_code, since, communities=caller.scope())
    if house is None or not caller.sees(house.community):
        raise _not_found("house")
    return house


@router.get("/vehicles", summary="List vehicles", response_model=Page[VehiclePublic])
async def list_vehicles(
    store: StoreDep,
    caller: Reader,
    community: CommunityCode | None = None,
    plate_no: Annotated[Plate | None, Query(description="a plate, in every colour")] = None,
    registered: bool | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[VehiclePublic]:
    """Vehicles residents registered and the ones only the gates saw (`registered` false)."""
    scope = caller.scope(community)
    return await store.list_vehicles(
        VehicleQuery(community, plate_no, registered, limit, cursor, scope)
    )


@router.get(
    "/vehicles/{vehicle_id}",
    summary="Read one vehicle",
    description="One vehicle: its registration (plate, colour, type, owner, house) or, for a"
    " vehicle only the gates saw, when it was first and last seen.",
    response_model=VehiclePublic,
    responses=NOT_FOUND,
)
async def get_vehicle(store: StoreDep, caller: Reader, vehicle_id: VehicleId) -> VehiclePublic:
    vehicle = await store.get_vehicle(vehicle_id, communities=caller.scope())
    if vehicle is None or not caller.sees(vehicle.community):
        raise _not_found("vehicle")
    return vehicle


@router.get(
    "/communities/{code}/summary",
    summary="A community's 一标三实 figures",
    response_model=CommunitySummary,
    responses={404: {"description": "The gateway knows no community of this code."}},
)
async def community_summary(
    runtime: RuntimeDep, caller: Reader, code: Annotated[CommunityCode, Path()]
) -> CommunitySummary:
    """The community's 一标三实 figures and each of its grids' (from the grid map)."""
    if not caller.sees(code):
        raise _unknown_community()
    mapped = runtime.grids.community(code)
    grids = mapped.grids if mapped else ()
    window = runtime.settings.observed_window_days
    now = runtime.clock()
    summary = await runtime.store.community_summary(code, now, window, grids)
    if summary is None:
        if mapped is None and code not in {c.code for c in runtime.config.communities}:
            raise _unknown_community()
        summary = CommunitySummary(
            community=code,
            at=now,
            observed_window_days=window,
            grids=[GridSummary(grid_code=grid.code) for grid in grids],
        )
    names = {grid.code: grid.name for grid in grids}
    return summary.model_copy(
        update={
            "grids": [
                grid.model_copy(update={"name": grid.name or names.get(grid.grid_code)})
                for grid in summary.grids
            ]
        }
    )


def _unknown_community() -> ApiError:
    """A community the gateway does not know, or one outside the caller's scope: the same."""
    return ApiError(404, "not_found", "the gateway knows no community of this code")
