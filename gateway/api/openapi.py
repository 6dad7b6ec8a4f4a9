"""The OpenAPI document: tags per audience, the error responses each operation can answer, and
the deterministic text committed as `docs/openapi.json` (`scgw openapi`).

Tags are derived, never written by hand: an operation's tags are the audiences whose roles hold
the permission its route declares (`gateway.api.deps.declared_permission` and
`gateway.access.ROLE_PERMISSIONS`), so the document cannot tell a reader that the property
company may use an endpoint its key is refused at. Admins may use everything; the
`administration` tag lists what only they may use.

Error responses are derived the same way, from what the route is: every operation may answer
400 (an unknown or repeated query parameter: `gateway.api.params`), a keyed one 401 and 429
(failed authentication is rate limited), one whose permission some role lacks or that is
district-wide (`gateway.access.DISTRICT_WIDE_PERMISSIONS`: no scoped key may use it) 403, one with a
path parameter 404 (no such record, or one outside the key's communities) and 422, one taking
a body 413 and 422. A route's own description of a status (409 `illegal_transition`) is kept.
"""

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final, cast

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from gateway.access import DISTRICT_WIDE_PERMISSIONS, ROLE_PERMISSIONS, Permission, Role
from gateway.api import deps

OPERATIONS: Final = "operations"
ADMINISTRATION: Final = "administration"
AUDIENCES: Final[dict[str, Role]] = {
    "government": Role.GOV,
    "property": Role.PROPERTY,
    "device operations": Role.DEVICE_OPS,
}
"""The tag of each audience but the admins, in the order the document lists them."""

TAGS: Final[list[dict[str, str]]] = [
    {
        "name": "government",
        "description": "The district government platform (`gov` keys): every community's"
        " events, devices, houses, persons (masked unless the key has `pii`), vehicles and"
        " tickets, the watch-list, the platform side's ticket transitions, the audit log.",
    },
    {
        "name": "property",
        "description": "A property management company (`property` keys), scoped to its"
        " communities: their master data and devices (read and write), events, dead letters,"
        " the tickets its company must act on and their property-side transitions. A record"
        " of another community answers 404, and lists leave it out.",
    },
    {
        "name": "device operations",
        "description": "Device operations (`device_ops` keys): devices, events, dead letters"
        " and metrics.",
    },
    {
        "name": ADMINISTRATION,
        "description": "What only admins may use (`admin` keys, and the bootstrap key"
        " `SCGW_ADMIN_API_KEY`): API keys, raw dead-letter payloads, erasure, the outbox."
        " Admins may use every other endpoint too.",
    },
    {
        "name": OPERATIONS,
        "description": "Open to anyone who reaches the gateway, without a key: liveness and"
        " readiness for orchestrators and load balancers.",
    },
]

ERROR_SCHEMA: Final = {"$ref": "#/components/schemas/ErrorBody"}

_ERRORS: Final[dict[int, tuple[str, str, str]]] = {
    400: (
        "The query is malformed: a parameter is unknown, repeated or invalid"
        " (`unknown_parameter`, `repeated_parameter`, `invalid_parameter`, `bad_cursor`,"
        " `bad_time_range`); or, on a keyed endpoint, two different keys were presented"
        " (`ambiguous_credentials`).",
        "unknown_parameter",
        "this endpoint does not take every query parameter given; see details",
    ),
    401: (
        "No valid API key was presented (`X-API-Key`, or `Authorization: Bearer`).",
        "unauthorized",
        "a valid API key is required in the X-API-Key header (or as a bearer token)",
    ),
    403: (
        "The key's role may never use this endpoint, or the endpoint serves every community"
        " and the key is scoped to communities (`forbidden`; `details.needs` names the"
        " permission).",
        "forbidden",
        "the property role may not use this endpoint",
    ),
    404: (
        "No such record, or one outside the key's communities (`not_found`): a key never"
        " learns that another community's record exists.",
        "not_found",
        "no record has this id",
    ),
    413: (
        "The request body is over the size limit (`payload_too_large`; `details.max_bytes`).",
        "payload_too_large",
        "request bodies are limited to 1048576 bytes",
    ),
    422: (
        "The path or the body breaks a rule (`validation_failed`; `details` locates each"
        " problem and never echoes a value).",
        "validation_failed",
        "the request body is invalid; see details",
    ),
    429: (
        "Too many failed authentications from this address lately (`too_many_failures`);"
        " retry after `Retry-After` seconds.",
        "too_many_failures",
        "too many failed authentications from this address: try again later",
    ),
}
"""Each derived error status: what it means here, and an example body's code and message."""

BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH"})


def audiences(route: APIRoute) -> list[str]:
    """The route's tags: the audiences that may call it."""
    if not keyed(route):
        return [OPERATIONS]
    permission = deps.declared_permission(route)
    if permission is None:  # not moved to `Needs` yet: what its dependencies admit
        return [ADMINISTRATION] if _admins_only(route) else list(AUDIENCES)
    return audiences_of(permission)


def audiences_of(permission: Permission) -> list[str]:
    """The audiences whose role holds `permission`; `administration` when only admins do."""
    tags = [tag for tag, role in AUDIENCES.items() if permission in ROLE_PERMISSIONS[role]]
    return tags or [ADMINISTRATION]


def error_statuses(route: APIRoute, method: str) -> list[int]:
    """The error statuses `route` may answer to `method`, beyond the catch-all 4XX/5XX."""
    statuses = {400}
    if keyed(route):
        statuses |= {401, 429}
        permission = deps.declared_permission(route)
        if permission is None:  # not moved to `Needs` yet: forbidden only to non-admins
            forbidding = _admins_only(route)
        else:
            forbidding = permission in DISTRICT_WIDE_PERMISSIONS or any(
                permission not in held for held in ROLE_PERMISSIONS.values()
            )
        if forbidding:
            statuses.add(403)
    if route.dependant.path_params:
        statuses |= {404, 422}
    if method in BODY_METHODS:
        statuses.add(413)
    if route.dependant.body_params or (route.openapi_extra or {}).get("requestBody"):
        statuses |= {413, 422}
    return sorted(statuses)


def keyed(route: APIRoute) -> bool:
    """Whether the route needs a key: it declares a permission (however it authenticates,
    e.g. the stream's token), or authenticates without one yet."""
    return deps.declared_permission(route) is not None or _calls(route.dependant, deps.authenticate)


def build_document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, with audience tags and the derived error responses."""
    document = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version=app.openapi_version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        tags=TAGS,
        servers=app.servers,
    )
    for route, method, operation in _operations(app, document):
        operation["tags"] = audiences(route)
        responses: dict[str, Any] = operation.setdefault("responses", {})
        for status in error_statuses(route, method):
            _declare_error(responses, status)
        for key, response in list(responses.items()):
            if key[0] in "45" and key[1:] != "XX":
                _declare_error(responses, int(key), response.get("description"))
    return document


def install(app: FastAPI) -> None:
    """Serve `build_document` at /openapi.json (built once, at the first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def render(document: dict[str, Any]) -> str:
    """The document as committed: sorted keys, two-space indent, non-ASCII kept, one newline
    at the end, so the same code always gives the same bytes."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _declare_error(responses: dict[str, Any], status: int, description: str | None = None) -> None:
    """`status` with the one error body and an example, keeping a route's own description."""
    meaning, code, message = _ERRORS.get(status, ("The request was refused.", "", ""))
    response = responses.setdefault(str(status), {})
    response["description"] = description or response.get("description") or meaning
    content = response.setdefault("content", {}).setdefault("application/json", {})
    content["schema"] = ERROR_SCHEMA
    if code and "example" not in content:
        content["example"] = {"error": {"code": code, "message": message, "details": None}}


def _operations(
    app: FastAPI, document: dict[str, Any]
) -> Iterator[tuple[APIRoute, str, dict[str, Any]]]:
    """Each operation of the document with its route, as the app serves it: a route of an
    included router seen with the router's prefix and dependencies (a `RouteContext`)."""
    paths: dict[str, Any] = document.get("paths", {})
    for context in iter_route_contexts(app.routes):
        if not isinstance(context.original_route, APIRoute) or not context.include_in_schema:
            continue
        route = cast(APIRoute, context)
        for method in sorted(route.methods or ()):
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is not None:
                yield route, method, operation


def _admins_only(route: APIRoute) -> bool:
    """Whether a route that declares no permission admits admins only, through the
    compatibility dependency `deps.require_admin` (gone once every route declares `Needs`)."""
    require_admin = getattr(deps, "require_admin", None)
    return require_admin is not None and _calls(route.dependant, require_admin)


def _calls(dependant: Dependant, call: Callable[..., Any]) -> bool:
    """Whether `call` is among the dependencies of `dependant`, however deep."""
    return any(each.call is call for each in _walk([dependant]))


def _walk(pending: Iterable[Dependant]) -> Iterator[Dependant]:
    stack = list(pending)
    while stack:
        dependant = stack.pop()
        yield dependant
        stack.extend(dependant.dependencies)
