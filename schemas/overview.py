"""`GET /v1/overview`: the dashboard's figures for the communities the caller's key may see.

One response holds everything the wall screen shows, so the page makes one request (and then
follows the stream). Every figure is one another endpoint also gives for the same data (the
browser test compares them): events (`/v1/events`), devices (`/v1/devices`), tickets
(`/v1/tickets`), the 一标三实 summary (`/v1/communities/{code}/summary`) and the indicators
(`/v1/stats/tickets`). Times are UTC; "today" is the local day in China Standard Time.
"""

from datetime import date
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from schemas.devices import DeviceKind
from schemas.events import UtcDatetime
from schemas.housing import Occupancy
from schemas.tickets import TicketStatsRow

OFFLINE_LIST_MAX: Final = 100
"""At most this many offline devices are listed (`devices.offline_total` counts them all)."""

OVERDUE_LIST_MAX: Final = 50
"""At most this many overdue tickets are listed (`tickets.overdue` counts them all)."""

RATE_MINUTES: Final = 60
"""The event rate covers this many minutes, the current (partial) one last."""

INDICATOR_DAYS: Final = 30
"""The indicators cover the tickets created in this many days up to now."""

VEHICLE_LOOKBACK_DAYS: Final = 7
"""A vehicle counts as present when its last gate pass in this many days was an entry: an
entry older than that with no exit seen is a missed exit read, not a car still parked."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class CommunityName(_Frozen):
    """A community the figures cover."""

    code: str
    """The community's code, as every other endpoint names it."""
    name: str | None = Field(description="Chinese name, from the configuration or grid map.")


class RateMinute(_Frozen):
    """The events that occurred in one minute, per kind (every kind listed, 0 when none)."""

    at: UtcDatetime = Field(description="The minute's first instant.")
    total: int = Field(ge=0, description="Events of every kind in the minute.")
    by_kind: dict[str, int] = Field(description="Event kind -> events of that kind.")


class EventRate(_Frozen):
    """Events per minute over the last hour, by their occurrence time (`occurred_at`, as
    `/v1/events?since=&until=` filters): `minutes` lists every minute of [since, until), the
    minutes with no event included with zeros; the last one is the current, partial minute."""

    since: UtcDatetime
    """The first minute's first instant."""
    until: UtcDatetime
    """The end of the current minute (exclusive)."""
    kinds: list[str] = Field(description="The kinds counted, in the order of `by_kind`.")
    minutes: list[RateMinute]
    """Every minute of [since, until), oldest first."""


class PeopleToday(_Frozen):
    """Granted door and gate passages today (access events with result `granted` and a
    direction `in` or `out`), by their occurrence time in [since, until)."""

    day: date = Field(description="The local day (China Standard Time).")
    since: UtcDatetime = Field(description="The local day's first instant.")
    until: UtcDatetime = Field(description="The next local day's first instant.")
    entered: int = Field(ge=0, description="Passages with direction `in`.")
    exited: int = Field(ge=0, description="Passages with direction `out`.")


class VehiclesPresent(_Frozen):
    """Vehicles in the car park now: plates whose last gate pass (`vehicle_pass` with a plate
    and direction `in` or `out`) in [since, at] was an entry. A stay ends at the plate's next
    pass either way, as the long-stay rule counts it."""

    count: int = Field(ge=0, description="Plates whose last pass was an entry.")
    since: UtcDatetime = Field(description="How far back passes are looked at.")


class OfflineDevice(_Frozen):
    """A registered device whose status is offline."""

    device_id: str
    """The device's id, as `/v1/devices/{device_id}` reads it."""
    kind: DeviceKind
    """What the device is (door controller, camera, gate...)."""
    community: str
    """The community the device is registered in."""
    since: UtcDatetime | None = Field(description="When the device went offline (`status_since`).")


class DeviceHealth(_Frozen):
    """Registered devices by status, as `/v1/devices?status=` lists them; the offline ones in
    `device_id` order, at most `OFFLINE_LIST_MAX`."""

    online: int = Field(ge=0, description="Devices whose status is online.")
    offline: int = Field(ge=0, description="Devices whose status is offline.")
    unknown: int = Field(ge=0, description="Devices not heard from since registration.")
    offline_devices: list[OfflineDevice]
    """The offline devices in `device_id` order, at most `OFFLINE_LIST_MAX` (100)."""
    offline_total: int = Field(ge=0, description="All offline devices (the list may be cut).")


class CategoryCount(_Frozen):
    """Open tickets of one category (the responsibility list's)."""

    code: str
    """The category code (`config/responsibility.toml`)."""
    name: str
    """The category's Chinese name."""
    name_en: str | None = None
    """Its English name from the responsibility list; None when the list gives none."""
    open: int = Field(ge=0, description="Open tickets of the category.")
    overdue: int = Field(ge=0, description="Of those, the ones past `sla_due_at`.")


class GridCount(_Frozen):
    """Open tickets routed to one grid of one community."""

    grid_code: str | None = Field(
        description="None: tickets the grid map does not place (they go to the community)."
    )
    community: str
    """The community the grid belongs to."""
    name: str | None = Field(description="The grid's name from the grid map.")
    open: int = Field(ge=0, description="Open tickets routed to the grid.")
    overdue: int = Field(ge=0, description="Of those, the ones past `sla_due_at`.")


class OverdueTicket(_Frozen):
    """An open ticket past its due time; `/v1/tickets/{ticket_id}` has the whole of it."""

    ticket_id: str
    """The ticket's id."""
    title: str
    """The ticket's Chinese title."""
    community: str
    """The community it was raised in."""
    category: str
    """Its category code."""
    grid_code: str | None
    """The grid it is routed to (None: the community)."""
    status: str
    """Its status in the closed loop."""
    sla_due_at: UtcDatetime
    """When it was due to be closed."""


class TicketOverview(_Frozen):
    """Open tickets (status in `OPEN_STATUSES`) the caller may see, as `/v1/tickets?status=`
    lists them; `overdue`: open past `sla_due_at` now. Groups are sorted by open count, then
    code; the overdue list is the most overdue first, at most `OVERDUE_LIST_MAX`."""

    open: int = Field(ge=0, description="Open tickets the caller may see.")
    overdue: int = Field(ge=0, description="Of those, the ones past `sla_due_at`.")
    by_category: list[CategoryCount]
    """Open tickets per category."""
    by_grid: list[GridCount]
    """Open tickets per grid."""
    overdue_tickets: list[OverdueTicket]
    """The most overdue first, at most `OVERDUE_LIST_MAX` (50)."""


class PopulationOverview(_Frozen):
    """The 一标三实 figures of `/v1/communities/{code}/summary`, summed over the communities."""

    houses_by_usage: dict[str, int]
    """Houses per usage (self-occupied, rented, vacant...)."""
    persons_by_population_type: dict[str, int]
    """Residents with a current residency, per population type."""
    current_visitors: int = Field(ge=0, description="Visitors whose visit is valid now.")
    vehicles_registered: int = Field(ge=0, description="Vehicles the property registered.")
    vehicles_unregistered: int = Field(
        ge=0, description="Plates seen at the gates that no registration names."
    )
    occupancy: Occupancy = Field(description="Registered against observed occupants.")
    observed_window_days: int = Field(
        ge=1, description="The days over which occupants count as observed."
    )


class Indicators(_Frozen):
    """The grid-management indicators of `/v1/stats/tickets?group_by=community&since=`, one
    row per community, for the tickets created in [since, now)."""

    since: UtcDatetime
    """The first instant of the 30 days (`INDICATOR_DAYS`)."""
    rows: list[TicketStatsRow]
    """One row per community, as `/v1/stats/tickets?group_by=community` gives it."""


class Overview(_Frozen):
    """The dashboard's figures for the communities the key may see (all, one, or none when a
    `community` filter names one outside the key's scope: every figure is then zero)."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        json_schema_extra={
            "example": {
                "at": "2026-11-30T08:30:12+00:00",
                "communities": [{"code": "yida", "name": "亿达小镇"}],
                "event_rate": {
                    "since": "2026-11-30T07:31:00+00:00",
                    "until": "2026-11-30T08:31:00+00:00",
                    "kinds": ["access", "vehicle_pass"],
                    "minutes": [
                        {
                            "at": "2026-11-30T08:30:00+00:00",
                            "total": 7,
                            "by_kind": {"access": 5, "vehicle_pass": 2},
                        }
                    ],
                },
                "people_today": {
                    "day": "2026-11-30",
                    "since": "2026-11-29T16:00:00+00:00",
                    "until": "2026-11-30T16:00:00+00:00",
                    "entered": 412,
                    "exited": 388,
                },
                "vehicles_present": {"count": 37, "since": "2026-11-23T08:30:12+00:00"},
                "devices": {
                    "online": 41,
                    "offline": 1,
                    "unknown": 0,
                    "offline_devices": [
                        {
                            "device_id": "yida-gate-n1",
                            "kind": "barrier_gate",
                            "community": "yida",
                            "since": "2026-11-30T06:02:00+00:00",
                        }
                    ],
                    "offline_total": 1,
                },
                "tickets": {
                    "open": 3,
                    "overdue": 1,
                    "by_category": [
                        {
                            "code": "social_care",
                            "name": "社会救助",
                            "name_en": "Social assistance",
                            "open": 2,
                            "overdue": 1,
                        }
                    ],
                    "by_grid": [
                        {
                            "grid_code": "430112003001001",
                            "community": "yida",
                            "name": "亿达小镇第一网格",
                            "open": 3,
                            "overdue": 1,
                        }
                    ],
                    "overdue_tickets": [
                        {
                            "ticket_id": "t-0123456789abcdef01234567",
                            "title": "独居老人72小时无活动",
                            "community": "yida",
                            "category": "social_care",
                            "grid_code": "430112003001001",
                            "status": "reported",
                            "sla_due_at": "2026-11-30T04:00:00+00:00",
                        }
                    ],
                },
                "population": {
                    "houses_by_usage": {"self_occupied": 120, "rented": 14},
                    "persons_by_population_type": {"registered": 310, "floating": 42},
                    "current_visitors": 3,
                    "vehicles_registered": 88,
                    "vehicles_unregistered": 12,
                    "occupancy": {"registered": 352, "observed": 301},
                    "observed_window_days": 30,
                },
                "indicators": {
                    "since": "2026-10-31T08:30:12+00:00",
                    "rows": [
                        {
                            "group": "yida",
                            "raised": 20,
                            "accepted": 18,
                            "closed": 15,
                            "closure_rate": 0.75,
                            "on_time_rate": 0.9,
                            "mean_hours_to_close": 5.5,
                            "p90_hours_to_close": 12.0,
                            "false_alarm_rate": 0.05,
                        }
                    ],
                },
            }
        },
    )

    at: UtcDatetime = Field(description="The gateway's now, that every figure is taken at.")
    communities: list[CommunityName] = Field(description="The communities the figures cover.")
    event_rate: EventRate
    """Events per minute by kind over the last hour."""
    people_today: PeopleToday
    """Granted passages in and out today."""
    vehicles_present: VehiclesPresent
    """Vehicles in the car park now."""
    devices: DeviceHealth
    """Devices by status, and the offline ones."""
    tickets: TicketOverview
    """Open tickets by category and grid, and the overdue ones."""
    population: PopulationOverview
    """The 一标三实 summary."""
    indicators: Indicators
    """The grid-management indicators of the last 30 days."""
