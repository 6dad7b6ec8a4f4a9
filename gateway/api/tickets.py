"""Governance tickets for the grid platform and the property company: the list, one ticket with
its history and evidence events, status coming back (the grid closed loop, `gateway.lifecycle`),
and the grid-management indicators.

`GET /v1/tickets` says in its `platform` field whether tickets are forwarded at all: without
`SCGW_PLATFORM_URL` they stay local, and the answer says so. `overdue` is judged at the
gateway's clock (`Runtime.clock`).
"""

from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from gateway.access import Caller, Permission, Role
from gateway.api.deps import RuntimeDep, needs
from gateway.api.errors import ApiError
from gateway.api.params import IsoDateTime, check_time_range
from gateway.lifecycle import (
    IllegalTransitionError,
    Side,
    check_transition,
    implied_step,
    next_statuses,
)
from gateway.privacy import without_personal_numbers
from gateway.runtime import Runtime
from gateway.store.tickets import StatsGroup, TicketQuery
from schemas.devices import CommunityCode
from schemas.events import DeviceEvent
from schemas.housing import GridCode
from schemas.tickets import (
    CategoryCode,
    RuleCode,
    TicketId,
    TicketPublic,
    TicketStatsRow,
    TicketStatus,
    TransitionRequest,
    UnitType,
)

router = APIRouter(prefix="/v1", tags=["tickets"])

MAX_PAGE: Final = 1000

PathTicketId = Annotated[TicketId, Path(description="`t-` and 24 hex digits")]


def side_of(caller: Caller) -> Side:
    """The side of the closed loop a caller acts for: the one place that decides it.

    A property company's key acts for the property side; the government's and admins' keys act
    for the platform, and so also drive local tickets."""
    return "property" if caller.role is Role.PROPERTY else "platform"


Reader = Annotated[Caller, needs(Permission.TICKETS_READ)]


class PlatformPublic(BaseModel):
    """Whether this gateway forwards tickets to the grid platform."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    forwarding: bool
    """Whether tickets are sent to the grid platform."""
    message: str
    """What that means, in words."""

    @classmethod
    def of(cls, forwarding: bool) -> "PlatformPublic":
        """The field for a gateway that does (`Runtime.forwarding`) or does not forward."""
        if not forwarding:
            return cls(
                forwarding=False,
                message="SCGW_PLATFORM_URL is not set: tickets stay local (detected → dispatched"
                " → handled → closed), none is sent",
            )
        return cls(
            forwarding=True,
            message="tickets whose category goes to the platform are sent to the grid platform",
        )


class TicketPage(BaseModel):
    """A page of tickets, and whether they are forwarded at all."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    data: list[TicketPublic]
    """This page's tickets, newest first, without history."""
    next_cursor: str | None
    """Pass it back as `cursor` for the next page; null on the last page."""
    platform: PlatformPublic
    """Whether tickets are forwarded at all."""


class TicketDetail(TicketPublic):
    """One ticket with its history and its evidence events (those still stored: retention and
    erasure remove events, never the ticket's count of them)."""

    events: tuple[DeviceEvent, ...] = Field(description="The evidence events, oldest first.")


_NOT_FOUND: Final[dict[int | str, dict[str, Any]]] = {
    404: {"description": "No ticket has this id."}
}
_CONFLICT: Final[dict[int | str, dict[str, Any]]] = {
    409: {
        "description": "`illegal_transition`: the loop or the caller's side does not allow it, or"
        " someone moved the ticket first; `details.allowed` lists the statuses this caller may"
        " post now."
    }
}


@router.get("/tickets", summary="List tickets", response_model=TicketPage)
async def list_tickets(
    runtime: RuntimeDep,
    caller: Reader,
    status: TicketStatus | None = None,
    rule: RuleCode | None = None,
    category: CategoryCode | None = None,
    grid: GridCode | None = None,
    community: CommunityCode | None = None,
    unit: Annotated[UnitType | None, Query(description="a responsible unit's type")] = None,
    overdue: Annotated[bool | None, Query(description="still open past sla_due_at")] = None,
    since: Annotated[
        IsoDateTime | None, Query(description="detected at or after; ISO 8601, offset")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> TicketPage:
    """Tickets, newest first, without history; `platform` says whether they are forwarded."""
    query = TicketQuery(
        status=status,
        rule=rule,
        category=category,
        grid_code=grid,
        community=community,
        overdue=overdue,
        since=since,
        unit_type=unit,
        limit=limit,
        cursor=cursor,
        communities=caller.scope(community),
        property_view=caller.role is Role.PROPERTY,
    )
    page = await runtime.store.list_tickets(query, runtime.clock())
    return TicketPage(
        data=page.data, next_cursor=page.next_cursor, platform=PlatformPublic.of(runtime.forwarding)
    )


@router.get(
    "/tickets/{ticket_id}",
    summary="Read one ticket with its history and evidence",
    response_model=TicketDetail,
    responses=_NOT_FOUND,
)
async def get_ticket(runtime: RuntimeDep, caller: Reader, ticket_id: PathTicketId) -> TicketDetail:
    """One ticket with its history (every transition: time, actor, comment) and evidence."""
    ticket = await _ticket(runtime, caller, ticket_id)
    events = await runtime.store.events_by_id(ticket.evidence.event_ids)
    return TicketDetail.model_validate({**dict(ticket), "events": tuple(events)})


@router.post(
    "/tickets/{ticket_id}/transitions",
    summary="Move a ticket along the closed loop",
    response_model=TicketPublic,
    responses={**_NOT_FOUND, **_CONFLICT},
)
async def post_transition(
    runtime: RuntimeDep,
    caller: Annotated[Caller, needs(Permission.TICKETS_TRANSITION)],
    ticket_id: PathTicketId,
    body: TransitionRequest,
) -> TicketPublic:
    """Move a ticket along the grid closed loop; the answer is the ticket with its history.

    `actor` names who acted as an account or role (`网格员-07`), not by a person's name;
    numbers that look like phones or ID numbers in `actor` and `comment` are redacted."""
    side = side_of(caller)
    now = runtime.clock()
    ticket = await _ticket(runtime, caller, ticket_id)
    try:
        check_transition(
            ticket.status,
            body.to,
            forward=ticket.forward,
            side=side,
            units=ticket.responsible_units,
        )
    except IllegalTransitionError as error:
        raise _illegal(error.current, body.to, error.allowed) from None
    actor = without_personal_numbers(body.actor)
    comment = without_personal_numbers(body.comment) if body.comment is not None else None
    store = runtime.store
    via = implied_step(ticket.status, body.to, forward=ticket.forward)
    if not await store.transition_ticket(
        ticket_id, ticket.status, body.to, actor, comment, now, via
    ):
        current = await _ticket(runtime, caller, ticket_id)  # someone moved it first
        allowed = next_statuses(
            current.status, forward=current.forward, side=side, units=current.responsible_units
        )
        raise _illegal(current.status, body.to, allowed)
    return await _ticket(runtime, caller, ticket_id)


class StatsPage(BaseModel):
    """The indicators, one row per group (and month); never paged, `next_cursor` is null."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    data: list[TicketStatsRow]
    """One row per group (and month)."""
    next_cursor: None = None
    """Always null: the indicators are never paged."""


@router.get("/stats/tickets", summary="Grid-management indicators", response_model=StatsPage)
async def ticket_stats(
    runtime: RuntimeDep,
    caller: Annotated[Caller, needs(Permission.TICKETS_STATS)],
    group_by: Annotated[StatsGroup, Query(description="grid, unit, category or community")],
    since: Annotated[
        IsoDateTime | None, Query(description="created at or after; ISO 8601, offset")
    ] = None,
    until: Annotated[
        IsoDateTime | None, Query(description="created before; ISO 8601, offset")
    ] = None,
    bucket: Annotated[
        Literal["month"] | None,
        Query(
            description="month: the same indicators per calendar month in China Standard"
            " Time (Asia/Shanghai, UTC+8); `bucket` is the month's first instant"
        ),
    ] = None,
) -> StatsPage:
    """Grid-management indicators per group: raised, accepted, closed, closure rate, on-time
    rate, mean and p90 hours to close, false-alarm rate.

    On-time rate: of the tickets whose time is up (closed, or still open past `sla_due_at`
    now), the share closed by `sla_due_at`; open tickets past due count as late, so leaving a
    ticket open never improves it. Months (`bucket=month`) are China Standard Time months."""
    check_time_range(since, until)
    rows = await runtime.store.ticket_stats(
        group_by,
        since,
        until,
        bucket == "month",
        runtime.clock(),
        communities=caller.scope(),
        property_view=caller.role is Role.PROPERTY,
    )
    return StatsPage(data=rows)


async def _ticket(runtime: Runtime, caller: Caller, ticket_id: str) -> TicketPublic:
    """The ticket, or 404 alike for one that does not exist and one the caller may not know of
    (`gateway.access.Caller.sees_ticket`): alike in time too, the store reads it only within
    the caller's view; `sees_ticket` after it is a second guard."""
    ticket = await runtime.store.get_ticket(
        ticket_id,
        runtime.clock(),
        communities=caller.scope(),
        property_view=caller.role is Role.PROPERTY,
    )
    if ticket is None or not caller.sees_ticket(ticket):
        raise ApiError(404, "not_found", "no ticket has this id")
    return ticket


def _illegal(
    current: TicketStatus, to: TicketStatus, allowed: tuple[TicketStatus, ...]
) -> ApiError:
    return ApiError(
        409,
        "illegal_transition",
        f"a ticket in {current} cannot go to {to} for this caller; see details.allowed",
        {"status": current, "to": to, "allowed": list(allowed)},
    )
