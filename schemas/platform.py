"""The grid platform contract: what the gateway sends to the district's platform and what the
platform answers (docs/platform-contract.md; JSON Schemas in docs/platform/, generated from
these models by `scgw platform-schemas`).

Messages carry the ticket's state when they are sent, not when they were queued: an update is
a snapshot (the whole evidence so far), so applying the newest one is always right, and a
retry under the same `Idempotency-Key` may carry a newer snapshot of the same message.
"""

from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from schemas.events import UtcDatetime
from schemas.housing import GridCode
from schemas.identifiers import IdentifierText
from schemas.tickets import (
    Category,
    Evidence,
    ResponsibleUnit,
    RuleCode,
    Severity,
    TicketId,
    TicketLocation,
    TicketPublic,
    TicketStatus,
)

PlatformTicketId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")]
"""The platform's id for a ticket: a short token safe in a URL path segment and a log line
(1 to 64 of A-Z a-z 0-9 . _ : -, not starting with a punctuation mark)."""


class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Answer(BaseModel):
    """What the platform answers: fields beyond the contract's are ignored, so a vendor may
    add its own."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class PlatformTicket(_Message):
    """`POST {base}/tickets`: a new ticket, as it stands when sent.

    The ticket as our API shows it, less what only the gateway needs: its dedup key (it
    names the subject, a plate or a pseudonymous person key, which the evidence already
    references), its history and its forwarding flags. The fields are listed here, not
    derived from `TicketPublic`, so that a change to our API cannot change the contract a
    vendor implemented without this file (and the published schema) changing too.
    """

    ticket_id: TicketId = Field(description="The gateway's id; quote it in status pushes.")
    rule: RuleCode
    category: Category
    severity: Severity
    community: IdentifierText
    grid_code: GridCode | None
    location: TicketLocation
    responsible_units: tuple[ResponsibleUnit, ...] = Field(min_length=1)
    title: str = Field(min_length=1, max_length=200, description="In Chinese.")
    description: str = Field(min_length=1, max_length=2000, description="In Chinese.")
    summary_en: str = Field(min_length=1, max_length=500)
    evidence: Evidence
    occurrences: int = Field(ge=1)
    detected_at: UtcDatetime = Field(description="Event time at which the rule fired.")
    created_at: UtcDatetime
    updated_at: UtcDatetime
    sla_due_at: UtcDatetime
    status: TicketStatus = Field(description="Its status in the gateway when sent.")

    @classmethod
    def of(cls, ticket: TicketPublic) -> "PlatformTicket":
        return cls.model_validate(ticket.model_dump(include=set(cls.model_fields)))


class EvidenceUpdate(_Message):
    """`POST {base}/tickets/{platform_ticket_id}/updates`: the ticket's evidence so far (a
    snapshot, not a delta) after the rule fired again."""

    type: Literal["evidence"]
    ticket_id: TicketId
    evidence: Evidence
    occurrences: int = Field(ge=1)
    updated_at: UtcDatetime


class CancelledUpdate(_Message):
    """`POST {base}/tickets/{platform_ticket_id}/updates`: the gateway withdrew the ticket."""

    type: Literal["cancelled"]
    ticket_id: TicketId
    cancelled_at: UtcDatetime
    actor: str = Field(min_length=1, max_length=64)
    comment: str | None = Field(default=None, max_length=500)


PlatformUpdate = Annotated[EvidenceUpdate | CancelledUpdate, Field(discriminator="type")]
PLATFORM_UPDATE: Final[TypeAdapter[EvidenceUpdate | CancelledUpdate]] = TypeAdapter(PlatformUpdate)


class TicketAccepted(_Answer):
    """The platform's answer to a new ticket: `201` (`200` for a repeat of the same
    `Idempotency-Key`, with the same id)."""

    platform_ticket_id: PlatformTicketId


class UpdateAccepted(_Answer):
    """The platform's answer to an update: any 2xx; the reference receiver names the update
    (`201`, or `200` with the same id for a repeat)."""

    update_id: PlatformTicketId


class PlatformErrorDetail(_Answer):
    code: str
    message: str


class PlatformError(_Answer):
    """Any refusal: `{"error": {"code", "message"}}` (401 for a bad signature or timestamp)."""

    error: PlatformErrorDetail


def platform_schemas() -> dict[str, dict[str, Any]]:
    """The contract's JSON Schemas by file name (docs/platform/<name>.schema.json)."""
    return {
        "ticket": PlatformTicket.model_json_schema(),
        "update": PLATFORM_UPDATE.json_schema(),
        "ticket-accepted": TicketAccepted.model_json_schema(),
        "update-accepted": UpdateAccepted.model_json_schema(),
        "error": PlatformError.model_json_schema(),
    }
