"""API keys, for admins: create one (its secret is answered once, only here), list them (never
a secret or hash), revoke one. Creating and revoking are audited (`keys.create`,
`keys.revoke`, the key id as the record).

Secrets are `scgw_<key_id>_<random>`; the store keeps only their SHA-256 (`gateway.keys`).
"""

from typing import Annotated, Final

from fastapi import APIRouter, Path, Query, status
from fastapi.exceptions import RequestValidationError

from gateway.access import Caller, Permission
from gateway.api.audit import entry
from gateway.api.deps import RuntimeDep, needs
from gateway.api.errors import ApiError
from gateway.keys import KeyRefusedError
from gateway.store.base import Page
from gateway.store.keys import StoredKey
from schemas.keys import KeyCreate, KeyCreated, KeyPublic

router = APIRouter(prefix="/v1/keys", tags=["admin"])

CREATE_ACTION: Final = "keys.create"
REVOKE_ACTION: Final = "keys.revoke"
MAX_PAGE: Final = 1000

KeysManager = Annotated[Caller, needs(Permission.KEYS_MANAGE)]
"""The caller of every route here: keys are for admins (`keys:manage`)."""


def _public(key: StoredKey) -> dict[str, object]:
    return {
        "key_id": key.key_id,
        "name": key.name,
        "role": key.role,
        "communities": None if key.communities is None else list(key.communities),
        "pii": key.pii,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "revoked_at": key.revoked_at,
        "last_used_at": key.last_used_at,
    }


@router.post(
    "",
    summary="Create an API key",
    status_code=status.HTTP_201_CREATED,
    response_model=KeyCreated,
    responses={422: {"description": "A role, community or expiry the key cannot have."}},
)
async def create_key(runtime: RuntimeDep, caller: KeysManager, body: KeyCreate) -> KeyCreated:
    """Create a key. The answer holds its secret, `scgw_<key_id>_<random>`: the only time it
    is shown (the gateway keeps only its SHA-256). `communities` must name communities of the
    grid map (null: every community); `expires_at`, when given, must lie in the future."""
    now = runtime.clock()
    try:
        key, secret = await runtime.keys.create(
            body.name, body.role, body.communities, body.pii, body.expires_at, now
        )
    except KeyRefusedError as refused:
        location: tuple[str | int, ...] = ("body", refused.field)
        if refused.index is not None:
            location = (*location, refused.index)
        raise RequestValidationError(
            [{"type": "value_error", "loc": location, "msg": str(refused)}]
        ) from None
    await runtime.store.write_audit(entry(caller, CREATE_ACTION, None, (key.key_id,)))
    return KeyCreated.model_validate({**_public(key), "secret": secret})


@router.get("", summary="List API keys", response_model=Page[KeyPublic])
async def list_keys(
    runtime: RuntimeDep,
    caller: KeysManager,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> Page[KeyPublic]:
    """Every key, newest first, revoked and expired ones included: never a secret or hash."""
    page = await runtime.keys.list(limit, cursor)
    return Page[KeyPublic](
        data=[KeyPublic.model_validate(_public(key)) for key in page.data],
        next_cursor=page.next_cursor,
    )


@router.delete(
    "/{key_id}",
    summary="Revoke an API key",
    response_model=KeyPublic,
    responses={404: {"description": "No key has this id."}},
)
async def revoke_key(
    runtime: RuntimeDep,
    caller: KeysManager,
    key_id: Annotated[str, Path(max_length=64, description="The key's id, `key_` + 12 hex.")],
) -> KeyPublic:
    """Revoke a key: it stops working at once on this gateway, and within seconds on every
    other process sharing the database. The key stays listed, with `revoked_at`; revoking it
    again changes nothing."""
    key = await runtime.keys.revoke(key_id, runtime.clock())
    if key is None:
        raise ApiError(404, "not_found", "no key has this id")
    await runtime.store.write_audit(entry(caller, REVOKE_ACTION, None, (key.key_id,)))
    return KeyPublic.model_validate(_public(key))
