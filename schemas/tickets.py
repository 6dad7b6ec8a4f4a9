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
    model_config = ConfigDict(frozen=True, extra="forbid")


class Category(_Frozen):
    """A category of the responsibility list (职责清单) the ticket falls under."""

    code: CategoryCode
    name: str = Field(min_length=1, max_length=64, description="Chinese name, e.g. 社会救助.")
    gbt_class: str | None = Field(
        default=None,
        max_length=64,
        description="The 12345 hotline / GB/T 39666 class it corresponds to, where one does.",
    )


class ResponsibleUnit(_Frozen):
    """One unit that must act on the ticket; several may share one ticket."""

    type: UnitType
    code: str | None = Field(
        default=None, max_length=64, description="The unit's code when known (a grid's 15 digits)."
    )
    name: str = Field(min_length=1, max_length=64)


class TicketLocation(_Frozen):
    """Where it happened: an address (楼栋/单元/室) or a gate, and the device that saw it."""

    address: str = Field(
        min_length=1, max_length=200, description="In Chinese, e.g. 亿达小镇3栋2单元."
    )
    building: str | None = None
    unit: str | None = None
    house_code: str | None = None
    gate: str | None = None
    device_id: str | None = None


class Evidence(_Frozen):
    """The events behind a ticket, by reference: at most `MAX_EVIDENCE_IDS` ids are listed,
    `count` counts all of them."""

    event_ids: tuple[str, ...] = ()
    count: int = Field(ge=0)
    first_at: UtcDatetime
    last_at: UtcDatetime
    image_urls: tuple[str, ...] = ()


MAX_EVIDENCE_IDS: Final = 50
"""Event ids kept on a ticket; later ones are counted, not listed."""


class TicketTransition(_Frozen):
    """One step of a ticket's history."""

    at: UtcDatetime
    from_status: TicketStatus | None = Field(description="None for the ticket's creation.")
    to_status: TicketStatus
    actor: PrintableText = Field(min_length=1, max_length=64)
    comment: PrintableText | None = Field(default=None, max_length=500)


class TicketPublic(_Frozen):
    """A governance ticket as the API and the grid platform see it."""

    ticket_id: TicketId
    dedup_key: str = Field(description="Rule + subject: one open ticket per key.")
    rule: RuleCode
    category: Category
    severity: Severity
    community: IdentifierText
    grid_code: GridCode | None = Field(
        description="Routed by the grid map: house → building → grid, or device → grid; None when"
        " the map does not place it (the ticket then goes to the community)."
    )
    location: TicketLocation
    responsible_units: tuple[ResponsibleUnit, ...] = Field(min_length=1)
    title: str = Field(min_length=1, max_length=200, description="In Chinese.")
    description: str = Field(min_length=1, max_length=2000, description="In Chinese.")
    summary_en: str = Field(min_length=1, max_length=500)
    evidence: Evidence
    occurrences: int = Field(ge=1)
    detected_at: UtcDatetime = Field(
        description="Event time at which the rule fired (the devices' clock, not the gateway's)."
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime
    sla_due_at: UtcDatetime
    overdue: bool = Field(description="Still open past `sla_due_at`.")
    status: TicketStatus
    forward: bool = Field(description="Sent to the grid platform (False: kept with the property).")
    platform_ticket_id: str | None = None
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
    seq: int = Field(ge=1)
    kind: Literal["create", "evidence", "cancelled"]
    state: OutboxState
    attempts: int = Field(ge=0)
    next_attempt_at: UtcDatetime | None
    last_error: str | None
    created_at: UtcDatetime
    delivered_at: UtcDatetime | None


class WatchlistEntry(_Frozen):
    """A plate on the government's watch-list (`PUT /v1/watchlist/vehicles`)."""

    plate_no: str = Field(min_length=1, max_length=16)
    plate_color: str | None = None
    reason: PrintableText = Field(min_length=1, max_length=200)
    until: UtcDatetime | None = None


class TicketStatsRow(_Frozen):
    """Grid-management indicators for one group (and month, with `bucket=month`)."""

    group: str
    bucket: UtcDatetime | None = None
    raised: int
    accepted: int
    closed: int
    closure_rate: float | None
    on_time_rate: float | None
    mean_hours_to_close: float | None
    p90_hours_to_close: float | None
    false_alarm_rate: float | None
