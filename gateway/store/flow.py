"""The hourly flow rollup: what `GET /v1/stats/flow` reads, and the `FlowStore` protocol.

Counting raw events for a week of a district (tens of millions of rows) cannot answer in a
second, and this TimescaleDB build has no continuous aggregates; so `write_batch` adds each
batch's newly stored events to `flow_hourly`, one row per (community, UTC hour), in the batch's
transaction. Only events the batch really inserted count: a redelivered event is not fresh, so
it never counts twice, and a rolled-back batch counts nothing. Migration 0014 fills the table
from the events already stored, with the same definitions as `MEASURE_SQL`.

The rollup holds counts only: no subject, credential, plate or device, so it may outlive the
events (retention removes events, not these counts).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol

from schemas.events import (
    AccessEvent,
    BehaviourAlarm,
    DeviceEvent,
    FaceCapture,
    VehiclePass,
    VisitorEvent,
)
from schemas.times import CHINA_STANDARD_TIME

FlowBucket = Literal["hour", "day"]

MEASURES: Final = (
    "people_in",
    "people_out",
    "vehicles_in",
    "vehicles_out",
    "faces",
    "visitors",
    "alarms",
)
"""The counted measures, in the rollup's column order."""

MEASURE_SQL: Final = {
    "people_in": "kind = 'access' AND {result} = 'granted' AND {direction} = 'in'",
    "people_out": "kind = 'access' AND {result} = 'granted' AND {direction} = 'out'",
    "vehicles_in": "kind = 'vehicle_pass' AND {direction} = 'in'",
    "vehicles_out": "kind = 'vehicle_pass' AND {direction} = 'out'",
    "faces": "kind = 'face_capture'",
    "visitors": "kind = 'visitor' AND {action} = 'checked_in'",
    "alarms": "kind = 'behaviour_alarm'",
}
"""Each measure as a condition on an events row (`{result}`, `{direction}`, `{action}`: the
backend's read of that body field); the backfill and the tests count with these, so they must
say what `measure_of` says."""

HOUR: Final = timedelta(hours=1)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DAY: Final = timedelta(days=1)


def measure_of(event: DeviceEvent) -> str | None:
    """The measure an event counts in, if any (`MEASURE_SQL` in Python)."""
    if isinstance(event, AccessEvent):
        if event.result == "granted" and event.direction != "unknown":
            return "people_in" if event.direction == "in" else "people_out"
        return None
    if isinstance(event, VehiclePass):
        if event.direction == "unknown":
            return None
        return "vehicles_in" if event.direction == "in" else "vehicles_out"
    if isinstance(event, FaceCapture):
        return "faces"
    if isinstance(event, VisitorEvent):
        return "visitors" if event.action == "checked_in" else None
    if isinstance(event, BehaviourAlarm):
        return "alarms"
    return None


def hour_of(at: datetime) -> datetime:
    """The UTC hour an instant falls in (China Standard Time hours are the same hours)."""
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def bucket_start(at: datetime, bucket: FlowBucket) -> datetime:
    """The first instant of the bucket `at` falls in: its UTC hour, or its CST day."""
    if bucket == "hour":
        return hour_of(at)
    local = at.astimezone(CHINA_STANDARD_TIME)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def bucket_end(at: datetime, bucket: FlowBucket) -> datetime:
    """The first bucket boundary at or after `at` (`at` itself when it is one)."""
    start = bucket_start(at, bucket)
    if start == at:
        return start
    return start + (HOUR if bucket == "hour" else DAY)


@dataclass(frozen=True, slots=True)
class FlowRow:
    """The counts of one community in one bucket (an hour, or a local day)."""

    community: str
    bucket: datetime
    counts: tuple[int, ...]
    """One per `MEASURES`, in that order."""


def flow_rows(events: Iterable[DeviceEvent]) -> list[FlowRow]:
    """A batch's newly stored events as rollup increments, one row per (community, hour),
    sorted so concurrent writers lock shared rows in one order (no deadlock). On the write
    path: about a microsecond per event (hours as integers, datetimes per row only)."""
    index = {measure: position for position, measure in enumerate(MEASURES)}
    counts: dict[tuple[str, int], list[int]] = {}
    for event in events:
        measure = measure_of(event)
        if measure is None:
            continue
        key = (event.community, int(event.occurred_at.timestamp() // 3600))
        row = counts.get(key)
        if row is None:
            row = counts[key] = [0] * len(MEASURES)
        row[index[measure]] += 1
    return [
        FlowRow(community, EPOCH + hours * HOUR, tuple(row))
        for (community, hours), row in sorted(counts.items())
    ]


def columns(rows: Sequence[FlowRow]) -> list[list[object]]:
    """The rows as one list per column (community, hour, then each measure): the arrays a
    set-based upsert unnests."""
    counts: list[list[object]] = [[row.counts[i] for row in rows] for i in range(len(MEASURES))]
    return [[row.community for row in rows], [row.bucket for row in rows], *counts]


@dataclass(frozen=True, slots=True)
class CommunityFlow:
    """One community's counts over a range: per measure, one count per bucket."""

    community: str
    series: tuple[list[int], ...]
    """One list per `MEASURES`, in that order, each one count per bucket of the range."""


def step_of(bucket: FlowBucket) -> timedelta:
    return HOUR if bucket == "hour" else DAY


def dense(size: int, offsets: Sequence[int], counts: Sequence[int]) -> list[int]:
    """`counts` at the buckets `offsets` name (in any order), zeros elsewhere (a community's
    hours without a counted event have no rollup row)."""
    if len(offsets) == size and list(offsets) == list(range(size)):
        return list(counts)
    series = [0] * size
    for offset, count in zip(offsets, counts, strict=True):
        series[offset] = count
    return series


class FlowStore(Protocol):
    async def flow(
        self,
        since: datetime,
        until: datetime,
        bucket: FlowBucket,
        communities: frozenset[str] | None,
    ) -> list[CommunityFlow]:
        """The rollup's counts over [since, until) (whole hours; for `day`, whole China
        Standard Time days), one series per measure for each community that counted something
        in it, in community order. `communities` is the caller's scope, applied in SQL: None
        for every community, an empty set for none."""
