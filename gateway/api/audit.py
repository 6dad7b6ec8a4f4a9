"""The audit log: who read names and phones unmasked, erased a person, edited the
device registry or imported master data, when, in which community, on which records, and why.

Entries hold ids and codes only (person ids, house codes, device ids, counts), never personal
values; `entry` is how the API's own endpoints write them. The actor is the key's name and id
(`actor_of`): names are chosen by admins and may repeat, the id tells keys apart and is what
`scgw keys revoke` takes; the secret is never part of it. A reader sees the entries of the
communities in its scope (an entry of no community, a watch-list change, only with every
community in scope).
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from gateway.access import Caller, Permission
from gateway.api.deps import StoreDep, needs
from gateway.store.base import Page
from gateway.store.masterdata import AuditEntry
from schemas.events import UtcDatetime

router = APIRouter(prefix="/v1", tags=["government"])

MAX_PAGE = 1000


class AuditPublic(BaseModel):
    """One audit entry as its readers see it."""

    model_config = ConfigDict(use_attribute_docstrings=True, frozen=True)

    id: int | None
    """The entry's id."""
    at: UtcDatetime
    """When it happened."""
    actor: str
    """The key's name that acted (never a person's)."""
    action: str
    """`person.unmask`, `person.erase`, `device.put`, `property.import`, `watchlist.put`, ..."""
    community: str | None
    """The community concerned; null when none is."""
    records: list[str]
    """Ids and codes of the records concerned (never personal values)."""
    reason: str | None
    """Why, as the caller stated it (unmasking and erasure need one)."""
    details: dict[str, int]
    """Counts (rows, entries, created)."""

    @classmethod
    def of(cls, entry: AuditEntry) -> "AuditPublic":
        return cls(
            id=entry.id,
            at=entry.at,
            actor=entry.actor,
            action=entry.action,
            community=entry.community,
            records=list(entry.records),
            reason=entry.reason,
            details=dict(entry.details),
        )


def actor_of(caller: Caller) -> str:
    """How the audit names a caller: `亿达物业 (key_0123456789ab)`, the bootstrap admin key as
    `admin (bootstrap)`."""
    return f"{caller.name} ({caller.key_id})"


def entry(
    caller: Caller,
    action: str,
    community: str | None,
    records: tuple[str, ...],
    *,
    reason: str | None = None,
    details: dict[str, int] | None = None,
) -> AuditEntry:
    """An audit entry for what `caller` is doing now."""
    return AuditEntry(
        at=datetime.now(UTC),
        actor=actor_of(caller),
        action=action,
        community=community,
        records=records,
        reason=reason,
        details=details or {},
    )


@router.get("/audit", summary="List audit entries", response_model=Page[AuditPublic])
async def list_audit(
    store: StoreDep,
    caller: Annotated[Caller, needs(Permission.AUDIT_READ)],
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[AuditPublic]:
    """Audit entries of the caller's communities, newest first."""
    page = await store.list_audit(limit, cursor, communities=caller.scope())
    return Page(data=[AuditPublic.of(item) for item in page.data], next_cursor=page.next_cursor)
