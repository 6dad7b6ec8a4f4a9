"""Dependencies shared by the routers: the running gateway, its store, the caller's key."""

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request, Security
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from gateway.access import DISTRICT_WIDE_PERMISSIONS, Caller, Permission, Role
from gateway.api.errors import ApiError
from gateway.keys import Refusal
from gateway.runtime import Runtime
from gateway.store import Store

logger = logging.getLogger(__name__)


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
    description="An API key (`scgw keys create`, `POST /v1/keys`: `scgw_<key_id>_<random>`)"
    " or the bootstrap admin key (`scgw demo` prints it; production: SCGW_ADMIN_API_KEY).",
)
bearer = HTTPBearer(
    auto_error=False,
    scheme_name="Bearer",
    description="The same key as a bearer token, as Prometheus sends its credentials.",
)


ADMIN_ROLE = Role.ADMIN.value


def client_address(request: Request) -> str:
    """The address failed authentications are counted against (the proxy's, unless
    `SCGW_API_FORWARDED_ALLOW_IPS` trusts it to name the client)."""
    return request.client.host if request.client is not None else "unknown"


def refuse_while_limited(runtime: Runtime, address: str, now: datetime) -> None:
    """429 for an address that failed to authenticate too often lately, before any key or
    token it presents is looked at (`gateway.api.auth_limit`)."""
    if (retry := runtime.auth_failures.retry_after(address, now)) is not None:
        raise ApiError(
            429,
            "too_many_failures",
            "too many failed authentications from this address: try again later",
            {"retry_after_s": retry},
            headers={"Retry-After": str(retry)},
        )


async def authenticate(
    request: Request,
    runtime: RuntimeDep,
    x_api_key: Annotated[str | None, Security(api_key_header)],
    authorization: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    """The caller presenting a key as `X-API-Key` or `Authorization: Bearer`.

    Both are declared as security schemes, so the OpenAPI document marks the endpoints that
    need a key and /docs offers an Authorize button. Keys are checked by `gateway.keys.KeyRing`;
    an address that failed too often lately is answered 429 before its key is looked at
    (`gateway.api.auth_limit`). A refusal is logged with the address and the reason, never
    with what was presented.
    """
    presented = _one_credential(request, x_api_key, authorization)
    now = runtime.clock()
    address = client_address(request)
    if presented:
        refuse_while_limited(runtime, address, now)
    verdict = await runtime.keys.verify(presented, now)
    if verdict.caller is not None:
        return verdict.caller
    if verdict.refusal is not Refusal.MISSING:
        runtime.auth_failures.failed(address, now)
    logger.log(
        logging.INFO if verdict.refusal is Refusal.MISSING else logging.WARNING,
        "authentication refused from %s: %s%s",
        address,
        verdict.refusal,
        "" if verdict.key_id is None else f" (key {verdict.key_id})",
    )
    raise ApiError(
        401,
        "unauthorized",
        "a valid API key is required in the X-API-Key header (or as a bearer token)",
        headers={"WWW-Authenticate": "Bearer"},
    )


def _one_credential(
    request: Request, x_api_key: str | None, authorization: HTTPAuthorizationCredentials | None
) -> str | None:
    """The one key the request presents, however many times it presents it.

    Two different keys (`X-API-Key` and a bearer token, or a header repeated) are refused with
    400 rather than resolved by a rule the caller cannot see: picking one would let a request
    act as a key its sender did not mean, and leave the log naming the other."""
    presented = {value for value in request.headers.getlist("x-api-key")}
    if x_api_key is not None:
        presented.add(x_api_key)
    if len(set(request.headers.getlist("authorization"))) > 1:
        presented.add("")  # two Authorization headers that differ: ambiguous as well
    if authorization is not None:
        presented.add(authorization.credentials.strip())
    if len(presented) > 1:
        raise ApiError(
            400,
            "ambiguous_credentials",
            "the request presents more than one key (X-API-Key and a bearer token, or a"
            " repeated header) and they differ: present one",
        )
    return next(iter(presented), None)


class Needs:
    """The dependency by which an endpoint declares the one permission it needs.

    `scgw permissions` and the README's table read it back from the routes
    (`declared_permission`), and a test fails for a route under /v1 that declares none."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    def __call__(self, caller: Annotated[Caller, Depends(authenticate)]) -> Caller:
        if not caller.may(self.permission):
            if self.permission in DISTRICT_WIDE_PERMISSIONS and caller.communities is not None:
                raise ApiError(
                    403,
                    "forbidden",
                    "this endpoint serves every community: a key scoped to communities may"
                    " not use it",
                    {"needs": self.permission.value, "district_wide": True},
                )
            raise ApiError(
                403,
                "forbidden",
                f"the {caller.role} role may not use this endpoint",
                {"needs": self.permission.value},
            )
        return caller

    def __repr__(self) -> str:
        return f"Needs({self.permission.value!r})"


def needs(permission: Permission) -> Any:
    """`Depends(Needs(permission))`, for a route's `dependencies` or a parameter's default."""
    return Depends(Needs(permission))


def declared_permission(route: APIRoute) -> Permission | None:
    """The permission a route declares through `Needs`, wherever in its dependencies."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        if isinstance(dependant.call, Needs):
            return dependant.call.permission
        pending.extend(dependant.dependencies)
    return None
