"""ASGI middleware at the API's edge: bounded request bodies, and no stack trace ever out.

Both answer with the one error body of `gateway.api.errors` themselves, because what they
catch happens outside FastAPI's exception handlers (before routing, or after a handler
failed in a way nobody expected).
"""

import logging
import re
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.api.errors import ApiError, error_response

logger = logging.getLogger(__name__)

DRAIN_BYTES = 1024 * 1024


class BodyTooLargeError(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            413,
            "payload_too_large",
            f"request bodies are limited to {max_bytes} bytes",
            {"max_bytes": max_bytes},
            {"Connection": "close"},
        )


@dataclass(frozen=True, slots=True)
class LargerBodies:
    """Requests that may send a larger body than the API's limit: one method on the paths
    `path` matches in full (a route template cannot be matched yet: the middleware runs
    before routing)."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


class BodyLimit:
    """Refuses a request body over `max_bytes` (or the limit of the `larger` entry the request
    matches) with 413.

    A declared Content-Length is judged before the app runs; a chunked body is counted as
    it streams, and reading past the limit raises `BodyTooLargeError`, which FastAPI passes on
    as an HTTP error (or, if something swallowed it, this middleware answers).
    """

    def __init__(self, app: ASGIApp, max_bytes: int, larger: Sequence[LargerBodies] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = tuple(larger)

    def limit(self, scope: Scope) -> int:
        """The body limit of this request."""
        for entry in self.larger:
            if scope.get("method") == entry.method and entry.path.fullmatch(scope["path"]):
                return entry.max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.limit(scope)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            await self._refuse(scope, receive, send, max_bytes)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    await _drain(receive, message)
                    raise BodyTooLargeError(max_bytes)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLargeError:
            if started:
                raise
            await self._refuse(scope, receive, send, max_bytes)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
        refusal = BodyTooLargeError(max_bytes)
        response = error_response(
            413, refusal.code, str(refusal.detail), refusal.details, refusal.headers
        )
        await response(scope, receive, send)


async def _drain(receive: Receive, message: Message) -> None:
    """Read and drop the rest of a refused body, up to `DRAIN_BYTES`.

    A client that sends its whole body before reading (most do) would otherwise meet a
    closed connection instead of the 413; past the bound, closing is the cheaper answer.
    """
    drained = 0
    while message.get("more_body", False) and drained < DRAIN_BYTES:
        message = await receive()
        drained += len(message.get("body", b""))


class ServerErrors:
    """Turns an exception nobody handled into a 500 with the error body.

    The log names the method, the route's template and the exception's type and frames,
    never its message or the request's values: a message may quote what the client sent.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watching_send)
        except Exception as exc:  # the edge: whatever escaped becomes a 500, never a traceback
            route = getattr(scope.get("route"), "path", None)
            logger.error(
                "%s %s failed with %s\n%s",
                scope.get("method", "?"),
                route or f"unrouted path of {len(scope.get('path', ''))} chars",
                type(exc).__name__,
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if started:
                return  # the status line is gone; the server closes the connection
            message = "the gateway could not complete the request; the error is logged"
            await error_response(500, "internal_error", message)(scope, receive, send)
