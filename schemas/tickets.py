"""Governance tickets: what a rule firing becomes, what the grid platform receives, and the
grid closed loop (上报 → 受理/立案 → 派遣 → 处置 → 核查结案) each ticket follows.

A ticket names places, devices and events, never people: evidence is by reference (event ids
and picture URLs), and where a person must be named only a masked value appears.
"""

from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.events import UtcDatetime
from schemas.housing import GridCode
from schemas.identifiers import IdentifierText, PrintableText

TicketStatus = Literal[
    "detected",
    "reported",
    "accepted",
    "rejected",
    "dispatched",
    "handled",
    "closed",
    "false_alarm",
    "cancelled",
]
"""Where a ticket is in the grid closed loop; see `gateway.lifecycle` for the legal moves."""

OPEN_STATUSES: Final[frozenset[str]] = frozenset(
    {"detected", "reported", "accepted", "dispatched", "handled"}
)
"""A ticket in one of these is open: a repeat of its rule and subject adds evidence to it
rather than opening another (the database holds one open ticket per dedup key)."""

Severity = Literal["critical", "major", "minor", "info"]

UnitType = Literal["community", "grid", "police_station", "property", "street"]
"""Who handles a ticket: the residents' committee (居委会), the grid (网格员), the police station
(派出所), the property company (物业) or the street office (街道)."""

RuleCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]*\.[a-z][a-z_]*$", max_length=64)]
"""A rule's code: family and name, e.g. `care.no_activity`."""

CategoryCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
"""A responsibility-list category code, e.g. `social_care`."""

TicketId = Annotated[str, StringConstraints(pattern=r"^t-[0-9a-f]{24}$")]
"""A gateway ticket id: `t-` and 24 hex digits (random, so it reveals nothing)."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class Category(_Frozen):
    """A category of the responsibility list (职责清单) the ticket falls under."""

    code: CategoryCode
    """The category's code in the responsibility list."""
    name: str = Field(min_length=1, max_length=64, description="Chinese name, e.g. 社会救助.")
    gbt_class: str | None = Field(
        default=None,
        max_length=64,
        description="The 12345 hotline / GB/T 39666 class it corresponds to, where one does.",
    )


class ResponsibleUnit(_Frozen):
    """One unit that must act on the ticket; several may share one ticket."""

    type: UnitType
    """`community`, `grid`, `police_station`, `property` or `street`."""
    code: str | None = Field(
        default=None, max_length=64, description="The unit's code when known (a grid's 15 digits)."
    )
    name: str = Field(min_length=1, max_length=64)
    """The unit's name."""


class TicketLocation(_Frozen):
    """Where it happened: an address (楼栋/单元/室) or a gate, and the device that saw it."""

    address: str = Field(
        min_length=1, max_length=200, description="In Chinese, e.g. 亿达小镇3栋2单元."
    )
    building: str | None = None
    """The building."""
    unit: str | None = None
    """The unit (stairwell)."""
    house_code: str | None = None
    """The house, when one is concerned."""
    gate: str | None = None
    """The community gate, for gate devices."""
    device_id: str | None = None
    """The device whose events raised it."""


class Evidence(_Frozen):
    """The events behind a ticket, by reference: at most `MAX_EVIDENCE_IDS` ids are listed,
    `count` counts all of them."""

    event_ids: tuple[str, ...] = ()
    """The evidence events' ids (at most 50 listed)."""
    count: int = Field(ge=0)
    """How many events, listed or not."""
    first_at: UtcDatetime
    """The first evidence event's time."""
    last_at: UtcDatetime
    """The last evidence event's time."""
    image_urls: tuple[str, ...] = ()
    """Capture images of the evidence, when devices sent any."""


MAX_EVIDENCE_IDS: Final = 50
"""Event ids kept on a ticket; later ones are counted, not listed."""


class TicketTransition(_Frozen):
    """One step of a ticket's history."""

    at: UtcDatetime
    """When the step was taken."""
    from_status: TicketStatus | None = Field(description="None for the ticket's creation.")
    to_status: TicketStatus
    """The status it moved to."""
    actor: PrintableText = Field(min_length=1, max_length=64)
    """Who acted, as an account or role."""
    comment: PrintableText | None = Field(default=None, max_length=500)
    """Why, in a few words (numbers redacted)."""


class TicketPublic(_Frozen):
    """A governance ticket as the API and the grid platform see it."""

    ticket_id: TicketId
    """The ticket's id (`t-` and 24 hex digits)."""
    dedup_key: str = Field(description="Rule + subject: one open ticket per key.")
    rule: RuleCode
    """The rule that raised it (family and name, e.g. `care.no_activity`)."""
    category: Category
    """The responsibility-list category."""
    severity: Severity
    """How urgent: `critical`, `major`, `minor` or `info`."""
    community: IdentifierText
    """The community code."""
    grid_code: GridCode | None = Field(
        description="Routed by the grid map: house → building → grid, or device → grid; None when"
        " the map does not place it (the ticket then goes to the community)."
    )
    location: TicketLocation
    """Where it happened."""
    responsible_units: tuple[ResponsibleUnit, ...] = Field(min_length=1)
    """Who must act on it."""
    title: str = Field(min_length=1, max_length=200, description="In Chinese.")
    description: str = Field(min_length=1, max_length=2000, description="In Chinese.")
    summary_en: str = Field(min_length=1, max_length=500)
    """A one-line English summary."""
    evidence: Evidence
    """The events behind it."""
    occurrences: int = Field(ge=1)
    """How many times the rule fired for this subject while open."""
    detected_at: UtcDatetime = Field(
        description="Event time at which the rule fired (the devices' clock, not the gateway's)."
    )
    created_at: UtcDatetime
    """When the gateway created it."""
    updated_at: UtcDatetime
    """When it last changed."""
    sla_due_at: UtcDatetime
    """When it must be closed by."""
    overdue: bool = Field(description="Still open past `sla_due_at`.")
    status: TicketStatus
    """Where it stands in the closed loop."""
    forward: bool = Field(description="Sent to the grid platform (False: kept with the property).")
    platform_ticket_id: str | None = None
    """The grid platform's id, once it acknowledged the ticket."""
    history: tuple[TicketTransition, ...] | None = Field(
        default=None, description="Filled on single-ticket reads."
    )


class TransitionRequest(_Frozen):
    """`POST /v1/tickets/{ticket_id}/transitions`: a step of the grid closed loop."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"to": "dispatched", "actor": "网格员-07", "comment": "已派单至物业"}]
        }
    )

    to: TicketStatus = Field(description="The status the ticket moves to.")
    actor: PrintableText = Field(
        min_length=1,
        max_length=64,
        description="Who acted, as an account or a role (`网格员-07`), never a person's name.",
    )
    comment: PrintableText | None = Field(
        default=None,
        max_length=500,
        description="Why, in a few words; phone and ID numbers in it are redacted.",
    )


PlatformUpdateType = Literal["evidence", "cancelled"]

OutboxState = Literal["pending", "delivered", "dead"]


class OutboxRowPublic(_Frozen):
    """A message waiting for (or given up on by) the platform client."""

    ticket_id: TicketId
    """The ticket the message is about."""
    seq: int = Field(ge=1)
    """The message's number among the ticket's messages."""
    kind: Literal["create", "evidence", "cancelled"]
    """`create`, `evidence` or `cancelled`."""
    state: OutboxState
    """`pending`, `delivered` or `dead` (refused for good)."""
    attempts: int = Field(ge=0)
    """Delivery attempts so far."""
    next_attempt_at: UtcDatetime | None
    """When the next attempt is due; null once delivered or dead."""
    last_error: str | None
    """The last attempt's failure, short and without ticket content."""
    created_at: UtcDatetime
    """When it was queued."""
    delivered_at: UtcDatetime | None
    """When the platform acknowledged it."""


class WatchlistEntry(_Frozen):
    """A plate on the government's watch-list (`PUT /v1/watchlist/vehicles`)."""

    plate_no: str = Field(min_length=1, max_length=16)
    """The plate, normalised."""
    plate_color: str | None = None
    """The plate's colour, as listed (describes; matches every colour)."""
    reason: PrintableText = Field(min_length=1, max_length=200)
    """Why it is listed: the case, never a person."""
    until: UtcDatetime | None = None
    """When the entry stops applying; null: never."""


class TicketStatsRow(_Frozen):
    """Grid-management indicators for one group (and month, with `bucket=month`)."""

    group: str
    """The group's key: a grid code, unit type, category code or community."""
    bucket: UtcDatetime | None = None
    """With `bucket=month`: the month's first instant (China Standard Time)."""
    raised: int
    """Tickets created."""
    accepted: int
    """Tickets the platform accepted."""
    closed: int
    """Tickets closed."""
    closure_rate: float | None
    """closed / raised; null without tickets."""
    on_time_rate: float | None
    """Of the tickets whose time is up, the share closed by `sla_due_at`."""
    mean_hours_to_close: float | None
    """Mean hours from creation to closing."""
    p90_hours_to_close: float | None
    """90th percentile of the hours to close."""
    false_alarm_rate: float | None
    """Share closed as `false_alarm`."""
