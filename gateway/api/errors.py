"""One error body for every 4xx and 5xx: `{"error": {"code", "message", "details"}}`.

`code` is a stable snake_case string a client can branch on (the README lists them);
`message` is for a person; `details` locates the problem (field locations, rule names, the
parameters an endpoint accepts) and never echoes a value the client sent.
"""

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, JsonValue
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway.errors import PayloadError, StoreError
from gateway.privacy import without_personal_numbers

logger = logging.getLogger(__name__)

LOCATION_PART_CHARS = 64

STATUS_CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}
"""The code of an error raised without one (a plain `HTTPException`, Starlette's own 404)."""

_MESSAGES: Mapping[int, str] = {
    404: "no resource at this path",
    405: "this path does not accept this method (see the Allow header)",
}
"""Our words for the errors the framework raises with a bare status phrase."""

QUERY_LOCATIONS = frozenset({"query", "header", "cookie"})
"""Validation errors only there make a malformed request (400), not an unusable body (422)."""


class ErrorPublic(BaseModel):
    code: str
    message: str
    details: JsonValue = None


class ErrorBody(BaseModel):
    """What every 4xx and 5xx response carries."""

    error: ErrorPublic


class ApiError(HTTPException):
    """An HTTP error with a stable code: what endpoints and dependencies raise."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail=message, headers=dict(headers or {}) or None)
        self.code = code
        self.details = details


def error_response(
    status_code: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorPublic(code=code, message=message, details=details))
    return JSONResponse(body.model_dump(mode="json"), status_code, headers=headers)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorBody, "description": "The request was refused; see `error.code`."},
    "5XX": {"model": ErrorBody, "description": "The gateway failed; see `error.code`."},
}
"""OpenAPI documentation of the error body, for every operation."""


async def http_error(request: Request, exc: Exception) -> Response:
    """Any `HTTPException`: ours with their code, the framework's with the status's code."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):  # statuses without a body, as Starlette treats them
        return Response(status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, ApiError):
        code, message, details = exc.code, exc.detail, exc.details
    else:
        code = STATUS_CODES.get(exc.status_code, _phrase_code(exc.status_code))
        message = _MESSAGES.get(exc.status_code, str(exc.detail))
        details = None
    return error_response(exc.status_code, code, message, details, exc.headers)


async def validation_error(request: Request, exc: Exception) -> Response:
    """Request validation: 400 for parameters, 422 for bodies; rules, never the input."""
    assert isinstance(exc, RequestValidationError)
    problems = [_problem(error) for error in exc.errors()]
    locations = {error["loc"][0] for error in exc.errors() if error.get("loc")}
    if locations and locations <= QUERY_LOCATIONS:
        message = "a query parameter is invalid; see details"
        return error_response(400, "invalid_parameter", message, problems)
    return error_response(422, "validation_failed", _unusable(locations), problems)


async def payload_error(request: Request, exc: Exception) -> Response:
    """A request value the store cannot use (a cursor it did not issue): its reason is the code."""
    assert isinstance(exc, PayloadError)
    return error_response(400, exc.reason, exc.detail)


async def store_error(request: Request, exc: Exception) -> Response:
    """A store that is down is a 503 the client may retry; any other store error is a 500."""
    assert isinstance(exc, StoreError)
    if not exc.transient:
        raise exc
    logger.warning("store unavailable for %s %s", request.method, _route(request))
    message = "the store is not reachable; retry shortly"
    return error_response(503, "store_unavailable", message, headers={"Retry-After": "5"})


def install_error_handlers(app: FastAPI) -> None:
    """Route every framework error through the one body (500s: see `gateway.api.guards`)."""
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(PayloadError, payload_error)
    app.add_exception_handler(StoreError, store_error)


def _route(request: Request) -> str:
    """The matched route's template: a path may carry what the caller typed."""
    return str(getattr(request.scope.get("route"), "path", "an unrouted path"))


def _unusable(locations: set[Any]) -> str:
    """The 422 message, naming what is invalid: the path, the body or both."""
    parts = [part for part in ("path", "body") if part in locations]
    if not parts:
        return "the request is invalid; see details"
    verb = "are" if len(parts) > 1 else "is"
    return f"the request {' and '.join(parts)} {verb} invalid; see details"


def _problem(error: Mapping[str, Any]) -> dict[str, JsonValue]:
    """A validation error as location, rule and message, with the input taken out."""
    location: list[JsonValue] = [
        part if isinstance(part, int) else without_personal_numbers(str(part))[:LOCATION_PART_CHARS]
        for part in error.get("loc", ())
    ]
    message = str(error.get("msg", "invalid"))
    sent = error.get("input")
    if isinstance(sent, str | int | float) and not isinstance(sent, bool) and len(str(sent)) > 2:
        message = message.replace(str(sent), "<input>")
    return {
        "location": location,
        "type": str(error.get("type", "")),
        "message": without_personal_numbers(message),
    }


def _phrase_code(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"
