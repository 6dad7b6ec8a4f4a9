"""The `OverviewStore` protocol: the dashboard's aggregate reads (`GET /v1/overview`).

Each is one aggregate statement over the columns the API's lists filter on, so a figure equals
what paging through the matching list would count. Every read takes the caller's scope,
`communities` (`gateway.access.Caller.scope`): None for every community, an empty set for none
(the answer is then empty without asking the database).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from schemas.overview import DeviceHealth


@dataclass(frozen=True, slots=True)
class KindMinute:
    """How many events of `kind` occurred in the minute starting at `minute`."""

    minute: datetime
    kind: str
    count: int


@dataclass(frozen=True, slots=True)
class Passages:
    """Granted access passages with a direction: in and out."""

    entered: int = 0
    exited: int = 0


class OverviewStore(Protocol):
    async def event_rate(
        self, since: datetime, until: datetime, communities: frozenset[str] | None
    ) -> list[KindMinute]:
        """Events with `since <= occurred_at < until` per minute (minutes counted from
        `since`, a whole minute) and kind; minutes and kinds without events are absent."""

    async def passages(
        self, since: datetime, until: datetime, communities: frozenset[str] | None
    ) -> Passages:
        """Access events with result `granted` and direction `in` or `out`, with
        `since <= occurred_at < until`."""

    async def vehicles_present(
        self, since: datetime, at: datetime, communities: frozenset[str] | None
    ) -> int:
        """Plates (per community) whose last `vehicle_pass` with direction `in` or `out` in
        `[since, at]` was an entry; ties in time are broken by event id, as the long-stay
        rule orders passes (`gateway.store.residentfacts_sql.VEHICLE_ENTRIES`)."""

    async def device_health(self, communities: frozenset[str] | None, limit: int) -> DeviceHealth:
        """Registered devices per status, and up to `limit` offline ones in `device_id`
        order."""
