"""One error body for every 4xx and 5xx: `{"error": {"code", "message", "details"}}`.

`code` is a stable snake_case string a client can branch on (the README lists them);
`message` is for a person; `details` locates the problem (field locations, rule names, the
parameters an endpoint accepts) and never echoes a value the client sent.

Keys and parameter names are chosen by the client too (`{"欧阳锋": 1}`, `?13812345678=1`), so
one rule decides which are shown: a name the endpoint or its body model declares, when it is
an ASCII identifier-like token (`gateway.privacy.is_shareable_key`), is ours and shown; any other
becomes a placeholder by position (`<key 2>`, `<parameter 1>`). Messages are pydantic's
templates filled with our rules (allowed values, limits, patterns); an error type whose text
could carry what was sent gets a fixed message instead, never a patched one.
"""

import logging
from collections.abc import Collection, Iterable, Mapping
from http import HTTPStatus
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from pydantic_core.core_schema import ErrorType
from starlette.exceptions import HTTPException
from starlette.responses import Response

from gateway.errors import PayloadError, StoreError
from gateway.privacy import is_shareable_key, without_personal_numbers

logger = logging.getLogger(__name__)


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

SOURCES = frozenset({"body", "path", "query", "header", "cookie"})
"""The first part of a validation error's location: FastAPI's words, always shown."""

ECHOING_TYPES: Mapping[str, str] = {
    "value_error": "the value breaks this field's rule",
    "assertion_error": "the value breaks this field's rule",
    "union_tag_invalid": "the discriminator does not name one of the expected kinds",
    "no_such_attribute": "this attribute does not exist",
    "get_attribute_error": "the attribute could not be read",
    "iteration_error": "the value could not be iterated",
    "mapping_type": "the value is not a valid mapping",
    "needs_python_object": "the value must be an object of the expected type",
    "datetime_object_invalid": "the value is not a valid date-time",
}
"""Pydantic error types whose message may quote what was sent (an exception's text, a tag):
their fixed message, used whenever the sent value shows in pydantic's."""

KNOWN_TYPES: frozenset[str] = frozenset(get_args(ErrorType))
"""Pydantic's own error types: their templates are filled with the rule, not the input."""

MIN_QUOTED_CHARS = 3
"""Sent ASCII text shorter than this (`1`, `x`) is not looked for in a message: it shows up in
any text. Non-ASCII text is looked for at any length (`张三`)."""

GENERIC_MESSAGE = "the value is invalid"
"""The message of an error type pydantic does not define (a custom error's own template)."""


class RuleError(ValueError):
    """A request validator's refusal whose text states the rule and never the value: shown as
    it is, even when the value sent happens to appear in it (`2026-05-01` in an example)."""


class ErrorPublic(BaseModel):
    """What went wrong: a code to branch on, words for a person, and where."""

    code: str = Field(description="Stable snake_case code a client can branch on.")
    message: str = Field(description="For a person; never quotes a value the client sent.")
    details: JsonValue = Field(
        default=None,
        description="Locates the problem (field locations, rules, accepted parameters); null"
        " when there is nothing to add.",
    )


class ErrorBody(BaseModel):
    """What every 4xx and 5xx response carries."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "error": {
                        "code": "not_found",
                        "message": "no ticket has this id",
                        "details": None,
                    }
                }
            ]
        }
    )

    error: ErrorPublic = Field(description="The one error object.")


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
    route = request.scope.get("route")
    declared = declared_names(route.dependant) if isinstance(route, APIRoute) else frozenset()
    problems = [_problem(error, declared) for error in exc.errors()]
    locations = {error["loc"][0] for error in exc.errors() if error.get("loc")}
    if locations and locations <= QUERY_LOCATIONS:
        message = "a query parameter is invalid; see details"
        return error_response(400, "invalid_parameter", message, problems)
    return error_response(422, "validation_failed", _unusable(locations), problems)


def shown_name(name: str, declared: Collection[str], placeholder: str) -> str:
    """`name` when it is ours (declared, and a safe token), else `placeholder`: a key or a
    parameter name the client chose may be a person's name or number."""
    return name if name in declared and is_shareable_key(name) else placeholder


def declared_names(dependant: Dependant) -> frozenset[str]:
    """Every parameter and body field name an endpoint declares, nested models included:
    the names its error details may show."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()
    for field in _fields(dependant):
        names.update(name for name in (field.name, field.alias) if isinstance(name, str))
        names.update(_model_names(field.field_info.annotation, seen))
    return frozenset(names)


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


def _fields(dependant: Dependant) -> Iterable[Any]:
    yield from dependant.path_params
    yield from dependant.query_params
    yield from dependant.header_params
    yield from dependant.cookie_params
    yield from dependant.body_params
    for dependency in dependant.dependencies:
        yield from _fields(dependency)


def _model_names(annotation: Any, seen: set[type[BaseModel]]) -> Iterable[str]:
    """The field names and aliases of every model `annotation` holds, however nested."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for name, info in annotation.model_fields.items():
            yield name
            if isinstance(info.alias, str):
                yield info.alias
            if isinstance(info.validation_alias, str):
                yield info.validation_alias
            yield from _model_names(info.annotation, seen)
        return
    for argument in get_args(annotation):
        yield from _model_names(argument, seen)


def _problem(error: Mapping[str, Any], declared: Collection[str]) -> dict[str, JsonValue]:
    """A validation error as location, rule and message: the location's keys only when they are
    declared names, the message only when it cannot hold the input."""
    location: list[JsonValue] = []
    for position, part in enumerate(error.get("loc", ()), start=1):
        if isinstance(part, int) and not isinstance(part, bool):
            location.append(part)  # a list index: a position, not a value
        elif position == 1 and part in SOURCES:
            location.append(part)
        else:
            location.append(shown_name(str(part), declared, f"<key {position}>"))
    error_type = str(error.get("type", ""))
    return {
        "location": location,
        "type": error_type if is_shareable_key(error_type) else "invalid",
        "message": without_personal_numbers(_message(error, error_type)),
    }


def _message(error: Mapping[str, Any], error_type: str) -> str:
    """Pydantic's message when its template holds only our rules; a fixed one otherwise."""
    message = str(error.get("msg", GENERIC_MESSAGE))
    if isinstance(error.get("ctx", {}).get("error"), RuleError):
        return message
    if error_type in ECHOING_TYPES:
        quotes = not _quotes_nothing_sent(message, error.get("input"))
        return ECHOING_TYPES[error_type] if quotes else message
    if error_type not in KNOWN_TYPES:
        return GENERIC_MESSAGE
    return message


def _quotes_nothing_sent(message: str, sent: Any) -> bool:
    """Whether no text the client sent (a scalar, or any key or scalar inside a body) appears
    in `message`: our validators' texts name rules, but a bug could quote the value."""
    return not any(text in message for text in _texts(sent, 0))


def _texts(sent: Any, depth: int) -> Iterable[str]:
    if isinstance(sent, bool) or sent is None or depth > 8:
        return
    if isinstance(sent, str | int | float):
        text = str(sent).strip()
        if len(text) >= MIN_QUOTED_CHARS or not text.isascii():
            yield text
    elif isinstance(sent, Mapping):
        for key, value in sent.items():
            yield from _texts(key, depth + 1)
            yield from _texts(value, depth + 1)
    elif isinstance(sent, list | tuple):
        for item in sent:
            yield from _texts(item, depth + 1)


def _phrase_code(status_code: int) -> str:
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "http_error"
