"""Dependencies shared by the routers: the running gateway, its store, the caller's key."""

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.api.errors import ApiError
from gateway.runtime import Runtime
from gateway.store import Store


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_store(runtime: RuntimeDep) -> Store:
    return runtime.store


StoreDep = Annotated[Store, Depends(get_store)]

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    scheme_name="ApiKey",
    description="The admin API key (`scgw demo` prints it; production: SCGW_ADMIN_API_KEY).",
)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="The same key as a bearer token, as Prometheus sends its credentials.",
)


ADMIN_ROLE = "admin"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling and what they may do. Today the only key is the bootstrap admin key;
    keys with narrower roles come later, and endpoints already declare the role they need."""

    name: str
    roles: frozenset[str]


def require_api_key(
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Security(api_key_header)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """Admit callers holding the admin key, as `X-API-Key` or `Authorization: Bearer`.

    Both are declared as security schemes, so the OpenAPI document marks the endpoints that
    need a key and /docs offers an Authorize button.
    """
    presented = x_api_key
    if presented is None and authorization is not None:
        presented = authorization.credentials.strip()
    expected = runtime.secrets.admin_api_key
    if presented is None or not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "a valid API key is required in the X-API-Key header (or as a bearer token)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return Caller(ADMIN_ROLE, frozenset({ADMIN_ROLE}))


ApiKey = Depends(require_api_key)


def require_admin(caller: Annotated[Caller, Depends(require_api_key)]) -> Caller:
    """Admit admins only: what an endpoint serving raw device data declares it needs."""
    if ADMIN_ROLE not in caller.roles:
        raise ApiError(403, "forbidden", "this endpoint is for admins only")
    return caller


AdminCaller = Annotated[Caller, Depends(require_admin)]

KeyCaller = Annotated[Caller, Depends(require_api_key)]
"""Any caller holding a key, for endpoints that decide per request what the caller may see."""


def can_unmask(caller: Caller) -> bool:
    """Whether the caller may read residents' names and phones unmasked (always audited).

    Admins only for now; the keys issue grants a `pii` role, added here and nowhere else."""
    return ADMIN_ROLE in caller.roles
