"""The audited unmasked read of residents' names and phones (PIPL: purpose stated, access logged).

Persons are read masked. `unmask=true` with a `reason` asks for the names and phones a
property import sealed (`gateway.pii`); the caller must be allowed to
(`gateway.access.Caller.can_unmask`: an admin, or a key with `pii`), and only in its scope, and
the read writes one audit entry — actor, community, the person ids returned, the reason —
before anything is opened. ID numbers are never unmasked: the gateway does not have them.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from pydantic import StringConstraints

from gateway.access import Caller
from gateway.api.audit import entry
from gateway.api.deps import authenticate
from gateway.api.errors import ApiError
from gateway.pii import ContactField, ContactVault
from gateway.runtime import Runtime
from gateway.sealing import UnreadableSealError
from schemas.identifiers import name_text
from schemas.population import PersonPublic

logger = logging.getLogger(__name__)

MAX_REASON = 200

Reason = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON),
    name_text(MAX_REASON),
]
"""Why personal data is read or erased: kept in the audit log, so it may not hold an ID or
mobile number itself (nor markup)."""

UNMASK_ACTION = "person.unmask"


@dataclass(frozen=True, slots=True)
class UnmaskRequest:
    """An admitted unmasked read: who asks, and why."""

    caller: Caller
    reason: str


def invalid_query(name: str, error_type: str, message: str) -> ApiError:
    """A 400 shaped like the framework's own parameter errors (`errors.validation_error`)."""
    problem = {"location": ["query", name], "type": error_type, "message": message}
    summary = "a query parameter is invalid; see details"
    return ApiError(400, "invalid_parameter", summary, [problem])


def unmask_request(
    caller: Annotated[Caller, Depends(authenticate)],
    unmask: Annotated[
        bool, Query(description="true: fill `name` and `phone` (needs `reason`; audited)")
    ] = False,
    reason: Annotated[
        Reason | None, Query(description="why the names and phones are read; with unmask=true")
    ] = None,
) -> UnmaskRequest | None:
    """The unmasked read asked for, or None for the masked default.

    A reason without `unmask=true` is refused rather than ignored: the caller would believe it
    was recorded."""
    if not unmask:
        if reason is not None:
            raise invalid_query("reason", "value_error", "a reason is only taken with unmask=true")
        return None
    if reason is None:
        raise invalid_query("reason", "missing", "an unmasked read needs a reason")
    if not caller.can_unmask:
        raise ApiError(403, "forbidden", "this key may not read names and phones unmasked")
    return UnmaskRequest(caller, reason)


async def unmasked(
    runtime: Runtime, request: UnmaskRequest, community: str, persons: Sequence[PersonPublic]
) -> list[PersonPublic]:
    """`persons` with `name` and `phone` opened, after the read is audited."""
    if runtime.contacts is None:
        raise ApiError(503, "unmask_unavailable", "this gateway cannot open residents' contacts")
    ids = tuple(person.person_id for person in persons)
    audit = entry(request.caller, UNMASK_ACTION, community, ids, reason=request.reason)
    await runtime.store.write_audit(audit)
    sealed = {item.person_id: item for item in await runtime.store.sealed_contacts(ids)}
    opened: list[PersonPublic] = []
    for person in persons:
        contact = sealed.get(person.person_id)
        update: dict[str, Any] = {"name": None, "phone": None}
        if contact is not None:
            update["name"] = _open(runtime.contacts, "name", contact.name_sealed)
            update["phone"] = _open(runtime.contacts, "phone", contact.phone_sealed)
        opened.append(person.model_copy(update=update))
    return opened


def _open(vault: ContactVault, field: ContactField, sealed: bytes | None) -> str | None:
    """The value, or None when none was imported or another ID hash key sealed it (logged:
    the key changed since the import, which the operator must know)."""
    if sealed is None:
        return None
    try:
        return vault.open(field, sealed)
    except UnreadableSealError:
        logger.warning("a resident's %s was sealed under another SCGW_ID_HASH_KEY", field)
        return None
