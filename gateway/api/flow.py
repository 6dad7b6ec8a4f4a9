"""`GET /v1/stats/flow`: the hourly (or daily) flow of people, vehicles, faces, visitors and
alarms per community, read from the rollup the batch transaction keeps (`gateway.store.flow`).

Scope works as on the lists: a key sees its communities (the store filters in SQL), and a
`community` outside its scope gives an empty answer, not an error.
"""

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from gateway.access import Caller, Permission
from gateway.api.deps import RuntimeDep, needs
from gateway.api.errors import ApiError
from gateway.api.params import IsoDateTime, check_time_range
from gateway.store.flow import (
    MEASURES,
    CommunityFlow,
    FlowBucket,
    bucket_end,
    bucket_start,
    step_of,
)
from schemas.devices import CommunityCode
from schemas.flow import DEFAULT_DAYS, MAX_DAYS, MAX_HOURS, FlowSeries, FlowStats

router = APIRouter(prefix="/v1", tags=["stats"])

_LONGEST = {"hour": timedelta(hours=MAX_HOURS), "day": timedelta(days=MAX_DAYS)}


@router.get(
    "/stats/flow", summary="People and vehicle flow per hour or day", response_model=FlowStats
)
async def flow_stats(
    runtime: RuntimeDep,
    caller: Annotated[Caller, needs(Permission.OVERVIEW_READ)],
    community: Annotated[
        CommunityCode | None,
        Query(description="one community; by default every community the key may see"),
    ] = None,
    since: Annotated[
        IsoDateTime | None,
        Query(
            description="from this instant, widened to its bucket's start; ISO 8601, offset;"
            f" default `until` less {DEFAULT_DAYS} days"
        ),
    ] = None,
    until: Annotated[
        IsoDateTime | None,
        Query(
            description="to this instant (exclusive), widened to a bucket's end; ISO 8601,"
            " offset; default now"
        ),
    ] = None,
    bucket: Annotated[
        FlowBucket,
        Query(
            description="hour (UTC hours, at most 31 days) or day (China Standard Time days,"
            " at most 366)"
        ),
    ] = "hour",
) -> FlowStats:
    """Per community and bucket: people in and out (granted access passages), vehicles in and
    out, faces captured, visitors checked in and behaviour alarms, by the events' occurrence
    time, as one series per community and measure over `buckets`. Counted once per stored
    event as it is stored, so a redelivered message never counts twice."""
    check_time_range(since, until)
    end = bucket_end(until or runtime.clock(), bucket)
    # A `since` after the default `until` (now) asks for what has not happened yet: nothing.
    start = min(bucket_start(since or end - timedelta(days=DEFAULT_DAYS), bucket), end)
    if end - start > _LONGEST[bucket]:
        raise ApiError(
            400,
            "range_too_long",
            f"bucket={bucket} answers at most {MAX_HOURS} hours"
            if bucket == "hour"
            else f"bucket={bucket} answers at most {MAX_DAYS} days",
            {"location": ["query", "since"], "bucket": bucket},
        )
    rows = await runtime.store.flow(start, end, bucket, caller.scope(community))
    return flow_stats_of(rows, start, end, bucket)


def flow_stats_of(
    found: list[CommunityFlow], since: datetime, until: datetime, bucket: FlowBucket
) -> FlowStats:
    """The store's series as the answer."""
    step = step_of(bucket)
    return FlowStats(
        bucket=bucket,
        since=since,
        until=until,
        buckets=[since + step * i for i in range((until - since) // step)],
        communities=[
            FlowSeries.model_validate(
                {"community": one.community} | dict(zip(MEASURES, one.series, strict=True))
            )
            for one in found
        ],
    )
