"""Reads for the government platform: the normalised events."""

from typing import Annotated

from fastapi import APIRouter, Query

from gateway.access import Caller, Permission
from gateway.api.deps import StoreDep, needs
from gateway.api.params import IsoDateTime, check_time_range
from gateway.resolution import for_readers
from gateway.store.base import EventCursor, EventQuery, Page
from schemas.devices import CommunityCode
from schemas.events import DeviceEvent, EventKind
from schemas.identifiers import DeviceId

router = APIRouter(prefix="/v1", tags=["government"])

MAX_PAGE = 1000


@router.get("/events", summary="List device events", response_model=Page[DeviceEvent])
async def list_events(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.EVENTS_READ)],
    kind: EventKind | None = None,
    community: CommunityCode | None = None,
    device_id: DeviceId | None = None,
    since: Annotated[IsoDateTime | None, Query(description="inclusive; ISO 8601, offset")] = None,
    until: Annotated[IsoDateTime | None, Query(description="exclusive; ISO 8601, offset")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[DeviceEvent]:
    """Events, newest first, with a stable cursor that stays valid while new events arrive.

    Access, face and visitor events carry `person_id` and vehicle passes `vehicle_registered`,
    resolved from the current master data as the page is read (`gateway.resolution`).
    """
    check_time_range(since, until)
    position = EventCursor.decode(cursor) if cursor else None  # bad_cursor: a 400
    scope = caller.scope(community)
    query = EventQuery(kind, community, device_id, since, until, limit, position, scope)
    page = await store.list_events(query)
    data = await for_readers(store, page.data)
    return Page[DeviceEvent](data=data, next_cursor=page.next_cursor)
