"""`GET /v1/overview`: the dashboard's figures in one response, for the caller's communities.

Each figure is read the way another endpoint reads it (the same store query, or an aggregate
over the same columns its list filters on), so the page and the API never disagree: the
browser test compares them. Scope works as on every list: a key sees its communities, and a
`community` filter outside its scope, or naming a community the gateway does not know, gives
zero figures and no community, not an error (a list filtered by such a community is empty; only
`/v1/communities/{code}/summary`, which reads one record, answers 404).
"""

from collections import Counter
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Annotated, TypeVar, cast, get_args

from fastapi import APIRouter, Depends, Query

from gateway.access import Caller, Permission, Role
from gateway.api.deps import Needs, RuntimeDep
from gateway.runtime import Runtime
from gateway.store.observations import local_day
from gateway.store.residentfacts import day_end, day_start
from gateway.store.tickets import TicketQuery
from schemas.devices import CommunityCode
from schemas.events import EventKind
from schemas.housing import CommunitySummary, Occupancy
from schemas.overview import (
    INDICATOR_DAYS,
    OFFLINE_LIST_MAX,
    OVERDUE_LIST_MAX,
    RATE_MINUTES,
    VEHICLE_LOOKBACK_DAYS,
    CategoryCount,
    CommunityName,
    EventRate,
    GridCount,
    Indicators,
    OverdueTicket,
    Overview,
    PeopleToday,
    PopulationOverview,
    RateMinute,
    TicketOverview,
    VehiclesPresent,
)
from schemas.tickets import OPEN_STATUSES, TicketPublic, TicketStatus

router = APIRouter(prefix="/v1", tags=["overview"])

K = TypeVar("K")

KINDS: tuple[str, ...] = get_args(EventKind)
TICKET_PAGE = 500


@router.get("/overview", summary="The dashboard's figures", response_model=Overview)
async def overview(
    runtime: RuntimeDep,
    caller: Annotated[Caller, Depends(Needs(Permission.OVERVIEW_READ))],
    community: Annotated[
        CommunityCode | None,
        Query(description="one community; by default every community the key may see"),
    ] = None,
) -> Overview:
    """The dashboard's figures for the communities the key may see (or the one asked for):
    events per minute by kind over the last hour, people in and out today, vehicles in the car
    park, devices by status with the offline list, open tickets by category and grid with the
    overdue ones, the 一标三实 summary and the last 30 days' ticket indicators.

    A `community` outside the key's scope, or one the gateway does not know (neither
    configured, nor in the grid map, nor holding master data), gives an empty `communities`
    list and zero figures, as a list filtered by it is empty: not a 404."""
    now = runtime.clock()
    scope = caller.scope(community)
    names = _community_names(runtime)
    asked = sorted(names) if scope is None else sorted(scope)
    summaries = await _summaries(runtime, asked, now)
    codes = [code for code in asked if code in names or code in summaries]
    store = runtime.store
    today = local_day(now)
    passages = await store.passages(day_start(today), day_end(today), scope)
    vehicles_since = now - timedelta(days=VEHICLE_LOOKBACK_DAYS)
    return Overview(
        at=now,
        communities=[CommunityName(code=code, name=names.get(code)) for code in codes],
        event_rate=await _event_rate(runtime, now, scope),
        people_today=PeopleToday(
            day=today,
            since=day_start(today),
            until=day_end(today),
            entered=passages.entered,
            exited=passages.exited,
        ),
        vehicles_present=VehiclesPresent(
            count=await store.vehicles_present(vehicles_since, now, scope), since=vehicles_since
        ),
        devices=await store.device_health(scope, OFFLINE_LIST_MAX),
        tickets=await _tickets(runtime, caller, scope, now),
        population=_population(runtime, list(summaries.values())),
        indicators=await _indicators(runtime, caller, scope, now),
    )


def _community_names(runtime: Runtime) -> dict[str, str | None]:
    """Every community the gateway knows (configuration and grid map), with its name."""
    names: dict[str, str | None] = {c.code: c.name or None for c in runtime.config.communities}
    for mapped in runtime.grids:
        names[mapped.code] = names.get(mapped.code) or mapped.name or None
    return names


async def _event_rate(runtime: Runtime, now: datetime, scope: frozenset[str] | None) -> EventRate:
    """The last `RATE_MINUTES` whole minutes up to and including the current one."""
    until = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    since = until - timedelta(minutes=RATE_MINUTES)
    counts = {
        (row.minute, row.kind): row.count
        for row in await runtime.store.event_rate(since, until, scope)
    }
    minutes = []
    for step in range(RATE_MINUTES):
        at = since + timedelta(minutes=step)
        by_kind = {kind: counts.get((at, kind), 0) for kind in KINDS}
        minutes.append(RateMinute(at=at, total=sum(by_kind.values()), by_kind=by_kind))
    return EventRate(since=since, until=until, kinds=list(KINDS), minutes=minutes)


async def _open_tickets(
    runtime: Runtime, caller: Caller, scope: frozenset[str] | None, now: datetime
) -> list[TicketPublic]:
    """Every open ticket the caller sees, read as `/v1/tickets?status=` pages them (the
    store filters by scope and property view; each ticket is checked again here, as the
    single-ticket reads check it)."""
    if scope is not None and not scope:
        return []
    found: list[TicketPublic] = []
    for status in sorted(OPEN_STATUSES):
        cursor = None
        while True:
            query = TicketQuery(
                status=cast(TicketStatus, status),
                limit=TICKET_PAGE,
                cursor=cursor,
                communities=scope,
                property_view=caller.role is Role.PROPERTY,
            )
            page = await runtime.store.list_tickets(query, now)
            found.extend(
                ticket
                for ticket in page.data
                if caller.sees_ticket(ticket) and (scope is None or ticket.community in scope)
            )
            cursor = page.next_cursor
            if cursor is None:
                break
    return found


def _name_en(runtime: Runtime, code: str) -> str | None:
    spec = runtime.responsibility.get(code)
    return spec.name_en if spec is not None else None


async def _tickets(
    runtime: Runtime, caller: Caller, scope: frozenset[str] | None, now: datetime
) -> TicketOverview:
    tickets = await _open_tickets(runtime, caller, scope, now)
    overdue = sorted((t for t in tickets if t.overdue), key=lambda t: (t.sla_due_at, t.ticket_id))
    category_names = {t.category.code: t.category.name for t in tickets}
    categories = _counted(tickets, lambda t: t.category.code)
    grids = _counted(tickets, lambda t: (t.community, t.grid_code))
    return TicketOverview(
        open=len(tickets),
        overdue=len(overdue),
        by_category=[
            CategoryCount(
                code=code,
                name=category_names[code],
                name_en=_name_en(runtime, code),
                open=n,
                overdue=late,
            )
            for code, (n, late) in categories
        ],
        by_grid=[
            GridCount(
                grid_code=grid_code,
                community=code,
                name=_grid_name(runtime, code, grid_code),
                open=n,
                overdue=late,
            )
            for (code, grid_code), (n, late) in grids
        ],
        overdue_tickets=[
            OverdueTicket(
                ticket_id=t.ticket_id,
                title=t.title,
                community=t.community,
                category=t.category.code,
                grid_code=t.grid_code,
                status=t.status,
                sla_due_at=t.sla_due_at,
            )
            for t in overdue[:OVERDUE_LIST_MAX]
        ],
    )


def _counted(
    tickets: Iterable[TicketPublic], key: Callable[[TicketPublic], K]
) -> list[tuple[K, tuple[int, int]]]:
    """(key, (open, overdue)) per key, the most open first, then by key."""
    total: Counter[K] = Counter()
    late: Counter[K] = Counter()
    for ticket in tickets:
        total[key(ticket)] += 1
        late[key(ticket)] += ticket.overdue
    return sorted(
        ((k, (n, late[k])) for k, n in total.items()), key=lambda item: (-item[1][0], str(item[0]))
    )


def _grid_name(runtime: Runtime, community: str, grid_code: str | None) -> str | None:
    grid = None if grid_code is None else runtime.grids.grid(community, grid_code)
    return None if grid is None else grid.name


async def _summaries(
    runtime: Runtime, codes: list[str], now: datetime
) -> dict[str, CommunitySummary]:
    """`/v1/communities/{code}/summary` of each community that holds master data. A code with
    none that is neither configured nor mapped is a community the gateway does not know (the
    summary endpoint's 404): it is not listed."""
    window = runtime.settings.observed_window_days
    found: dict[str, CommunitySummary] = {}
    for code in codes:
        mapped = runtime.grids.community(code)
        grids = mapped.grids if mapped else ()
        summary = await runtime.store.community_summary(code, now, window, grids)
        if summary is not None:
            found[code] = summary
    return found


def _population(runtime: Runtime, summaries: list[CommunitySummary]) -> PopulationOverview:
    """The communities' summaries, summed."""
    window = runtime.settings.observed_window_days
    houses: Counter[str] = Counter()
    persons: Counter[str] = Counter()
    for summary in summaries:
        houses.update(summary.houses_by_usage)
        persons.update(summary.persons_by_population_type)
    return PopulationOverview(
        houses_by_usage=dict(sorted(houses.items())),
        persons_by_population_type=dict(sorted(persons.items())),
        current_visitors=sum(s.current_visitors for s in summaries),
        vehicles_registered=sum(s.vehicles_registered for s in summaries),
        vehicles_unregistered=sum(s.vehicles_unregistered for s in summaries),
        occupancy=Occupancy(
            registered=sum(s.occupancy.registered for s in summaries),
            observed=sum(s.occupancy.observed for s in summaries),
        ),
        observed_window_days=window,
    )


async def _indicators(
    runtime: Runtime, caller: Caller, scope: frozenset[str] | None, now: datetime
) -> Indicators:
    """`/v1/stats/tickets?group_by=community&since=` (now less `INDICATOR_DAYS`) as the caller
    reads it: its communities' tickets, the property company's view for a property key."""
    since = now - timedelta(days=INDICATOR_DAYS)
    rows = await runtime.store.ticket_stats(
        "community",
        since,
        None,
        False,
        now,
        communities=scope,
        property_view=caller.role is Role.PROPERTY,
    )
    return Indicators(since=since, rows=rows)
