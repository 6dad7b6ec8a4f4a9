"""The platform outbox for the government and admins: what waits for the grid platform, what
it got, what it refused for good (`dead`), and the call that tries a dead ticket's messages
again (admins only).

`forwarding` in the list answer says whether this gateway sends tickets at all: without
`SCGW_PLATFORM_URL` tickets stay local and the outbox stays empty.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict

from gateway.access import Caller, Permission, Role
from gateway.api.audit import entry
from gateway.api.deps import RuntimeDep, StoreDep, needs
from gateway.api.errors import ApiError
from gateway.store.base import Page
from schemas.tickets import OutboxRowPublic, OutboxState, TicketId

router = APIRouter(prefix="/v1/outbox", tags=["government"])

MAX_PAGE = 1000
RETRY_ACTION = "outbox.retry"


class OutboxPage(Page[OutboxRowPublic]):
    """A page of outbox rows, and whether tickets are forwarded at all."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    forwarding: bool
    """Whether tickets are sent at all (false without `SCGW_PLATFORM_URL`)."""


class OutboxRetryPublic(BaseModel):
    """What a retry did."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    ticket_id: str
    """The ticket retried."""
    retried: int
    """Dead rows made pending again, due now."""


@router.get("", summary="List the grid platform outbox", response_model=OutboxPage)
async def list_outbox(
    runtime: RuntimeDep,
    caller: Annotated[Caller, needs(Permission.OUTBOX_READ)],
    state: OutboxState | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> OutboxPage:
    """Messages for the grid platform, optionally of one state (`pending`, `delivered`,
    `dead`). `forwarding` is false when no platform is configured."""
    page = await runtime.store.list_outbox(state, limit, cursor, communities=caller.scope())
    return OutboxPage(data=page.data, next_cursor=page.next_cursor, forwarding=runtime.forwarding)


@router.post(
    "/{ticket_id}/retry",
    summary="Retry a ticket's dead outbox messages",
    response_model=OutboxRetryPublic,
    responses={
        404: {"description": "No such ticket."},
        409: {"description": "The ticket has no dead outbox row."},
    },
)
async def retry_outbox(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.OUTBOX_RETRY)],
    ticket_id: Annotated[TicketId, Path(description="t- and 24 hex digits")],
) -> OutboxRetryPublic:
    """Make a ticket's dead outbox rows pending again, due now, with their attempts counted
    from 0 (after the platform's fault was fixed, e.g. a rotated secret); audited."""
    now = datetime.now(UTC)
    ticket = await store.get_ticket(
        ticket_id, now, communities=caller.scope(), property_view=caller.role is Role.PROPERTY
    )
    if ticket is None or not caller.sees_ticket(ticket):
        raise ApiError(404, "not_found", "no ticket has this id")
    retried = await store.retry_outbox(ticket_id, now)
    if retried == 0:
        raise ApiError(409, "not_dead", "this ticket has no dead outbox row to retry")
    community = ticket.community
    await store.write_audit(
        entry(caller, RETRY_ACTION, community, (ticket_id,), details={"rows": retried})
    )
    return OutboxRetryPublic(ticket_id=ticket_id, retried=retried)
