"""The audit log for admins: who read names and phones unmasked, erased a person, edited the
device registry or imported master data, when, in which community, on which records, and why.

Entries hold ids and codes only (person ids, house codes, device ids, counts), never personal
values; `entry` is how the API's own endpoints write them.
"""

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from gateway.access import Caller
from gateway.api.deps import AdminCaller, ApiKey, StoreDep
from gateway.store.base import Page
from gateway.store.masterdata import AuditEntry
from schemas.events import UtcDatetime

router = APIRouter(prefix="/v1", tags=["government"], dependencies=[ApiKey])

MAX_PAGE = 1000


class AuditPublic(BaseModel):
    """One audit entry as admins read it."""

    model_config = ConfigDict(frozen=True)

    id: int | None
    at: UtcDatetime
    actor: str
    action: str
    community: str | None
    records: list[str]
    reason: str | None
    details: dict[str, int]

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
        actor=caller.name,
        action=action,
        community=community,
        records=records,
        reason=reason,
        details=details or {},
    )


@router.get("/audit", response_model=Page[AuditPublic])
async def list_audit(
    store: StoreDep,
    caller: AdminCaller,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[AuditPublic]:
    """Audit entries, newest first; admins only."""
    page = await store.list_audit(limit, cursor)
    return Page(data=[AuditPublic.of(item) for item in page.data], next_cursor=page.next_cursor)
